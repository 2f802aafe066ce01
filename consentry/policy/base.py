"""The policy interface. The pipeline calls ``decide`` once per item after matching."""

from __future__ import annotations

from typing import Protocol

from consentry.types import ItemReport


class Policy(Protocol):
    def decide(self, report: ItemReport) -> None:
        """Set ``report.flagged`` and add the verdict fields to ``report.fields``."""
