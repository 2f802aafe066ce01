"""What ``Pipeline.scan`` works through: an ``ItemSource`` yields analysed reports and says, for
each batch about to be stored, what else commits in that very transaction.

A plain scan's source (``ScanSource``) opens a new scan row and stores every report; a
backfill's (consentry.pipeline.backfill.run) claims chunks of manifest entries, links files
identical to stored ones, holds back reports whose error may pass (a retry later) and marks
each entry done in the transaction that stores its item, so an entry is done exactly once.
Either way there is one loop that batches, decides, stores and feeds the sinks: the
pipeline's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from consentry.pipeline.interrupts import Interrupts
from consentry.store import scans as scan_store
from consentry.store.db import Database
from consentry.types import ItemReport, ScanSummary

if TYPE_CHECKING:
    from consentry.pipeline.runner import Analysis

InTransaction = Callable[[Session], None]


@dataclass
class Batch:
    """A batch as the source wants it stored: ``reports`` are decided and stored as items;
    ``also`` runs last in the same transaction (it may run alone when no report is kept)."""

    reports: list[ItemReport]
    also: InTransaction | None = None


class ItemSource:
    """The default hooks: every report is stored as it comes, nothing else commits with it."""

    total: int = 0

    def open(self, db: Database, interrupts: Interrupts) -> int:
        """Begin (before any report is asked for); returns the scan id items are stored in.
        ``interrupts`` is the pipeline's: a source's own transactions run in its
        ``critical()`` so Ctrl-C and SIGTERM never land inside them."""
        raise NotImplementedError

    def reports(self, on_wait: Callable[[], None]) -> Iterator[ItemReport]:
        """The reports to store. ``on_wait`` stores what came so far; call it when nothing
        is ready, or to have earlier reports stored (and ``stored``) before going on."""
        raise NotImplementedError

    def storing(self, reports: list[ItemReport]) -> Batch:
        return Batch(reports)

    def stored(self, reports: list[ItemReport]) -> None:
        """After the transaction storing ``reports`` committed (and the sinks had them)."""

    def close(self, db: Database, summary: ScanSummary, *, completed: bool) -> ScanSummary:
        """End: after the last batch (``completed``), or an interruption
        (``summary.interrupted``) or an error; returns the summary the front reports."""
        return summary

    def release(self) -> None:
        """Free what analyses (worker processes, actors): always called, last."""


class ScanSource(ItemSource):
    """A scan of the files an ``Analysis`` is working on, into a new scan row."""

    def __init__(self, analysis: Analysis, run_settings: dict[str, Any]) -> None:
        self.analysis, self.run_settings = analysis, run_settings
        self.total = analysis.total
        self.scan_id = 0

    def open(self, db: Database, interrupts: Interrupts) -> int:
        with db.session() as session:
            self.scan_id = scan_store.start_scan(session, self.run_settings)
        return self.scan_id

    def reports(self, on_wait: Callable[[], None]) -> Iterator[ItemReport]:
        return self.analysis.reports(on_wait=on_wait)

    def close(self, db: Database, summary: ScanSummary, *, completed: bool) -> ScanSummary:
        with db.session() as session:
            scan_store.finish_scan(session, self.scan_id, summary.n_items, summary.n_errors,
                                   summary.n_flagged, interrupted=summary.interrupted)
        return summary

    def release(self) -> None:
        self.analysis.close()
