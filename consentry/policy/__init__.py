"""Policy: turn an item's signals and matches into a verdict with reasons."""
