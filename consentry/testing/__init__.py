"""Helpers shared by tests, benchmarks and the demo: sample media made by our own code."""
