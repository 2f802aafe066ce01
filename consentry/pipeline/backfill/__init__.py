"""Backfills: analyse everything a platform already hosts, surviving crashes (see run.py)."""
