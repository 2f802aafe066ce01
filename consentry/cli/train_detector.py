"""``consentry train-detector`` (defined with ``eval detector`` in consentry.cli.evaluate)."""

from consentry.cli.evaluate import train_detector as command

__all__ = ["command"]
