"""The policy interface. The pipeline calls ``decide`` once per item after matching."""

from __future__ import annotations

from typing import Protocol

from consentry.types import ItemReport


class Policy(Protocol):
    def decide(self, report: ItemReport) -> None:
        """Set ``report.flagged`` and add the verdict fields to ``report.fields``."""


class FlagOnMatchPolicy:
    """Without a policy file: flag an item when a matcher marked it, or when it matches a
    hash bank and no allow bank (an allow-bank match overrides every other bank)."""

    def decide(self, report: ItemReport) -> None:
        matches = report.fields.get("matches") or []
        allowed = any(m.get("kind") == "allow" for m in matches)
        banned = any(m.get("kind") != "allow" for m in matches)
        report.flagged = bool(report.fields.get("flag_reasons")) or (banned and not allowed)
