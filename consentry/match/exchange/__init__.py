"""Exchanges: following another system's hash list into a bank (``consentry exchange``)."""
