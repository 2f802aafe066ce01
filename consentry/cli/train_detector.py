"""``consentry train-detector`` (defined with ``eval detector`` in consentry.cli.detector)."""

from consentry.cli.detector import train_detector as command

__all__ = ["command"]
