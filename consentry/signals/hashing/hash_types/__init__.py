"""One module per registered hash type (``consentry.signals.hashing.catalogue`` finds them)."""
