"""Signals: each one a plugin behind the small interface in ``base.py``."""
