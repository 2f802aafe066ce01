"""The matcher interface: a main-process stage that compares an item's signals with
stored references (hash banks, enrolled persons) and records what it found.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from sqlalchemy.orm import Session

from consentry.store.db import Database
from consentry.types import ItemReport


class Matcher(ABC):
    name: ClassVar[str]
    # The signals whose results this matcher reads; it is skipped when none of them ran.
    inputs: ClassVar[tuple[str, ...]] = ()

    @classmethod
    @abstractmethod
    def load(cls, db: Database) -> Matcher | None:
        """Load indexes once per scan; None when there is nothing to match against."""

    @abstractmethod
    def match(self, report: ItemReport, session: Session) -> None:
        """Add this matcher's JSON fields to ``report.fields`` and store match records.
        ``report.item_id`` is set; the session commits with the item."""
