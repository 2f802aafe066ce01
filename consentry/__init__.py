"""Consentry: detect and stop non-consensual intimate imagery and sexual deepfakes."""

__version__ = "0.1.0"
