"""Matching: hash banks and the likeness registry, each with its own index."""
