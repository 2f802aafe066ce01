"""``scan``: walk paths, analyse each item, match, decide and store it. The CLI, the HTTP
service and the batch runner all call ``run_scan``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from consentry.match.base import Matcher
from consentry.match.matchers import matcher_classes
from consentry.pipeline.runner import Analysis
from consentry.policy.base import Policy
from consentry.policy.engine import RulesPolicy
from consentry.settings import ScanSettings
from consentry.store import scans as scan_store
from consentry.store.db import Database
from consentry.store.tables.verdicts import record_verdicts
from consentry.types import ItemReport, ItemStatus


@dataclass
class ScanSummary:
    scan_id: int
    n_items: int = 0
    n_errors: int = 0
    n_flagged: int = 0

    @property
    def exit_code(self) -> int:
        if self.n_flagged:
            return 1
        return 3 if self.n_errors else 0


# Items are stored in batches: one transaction per batch instead of per item is what lets
# the main process keep up with the workers. A batch is written when it is full, when it
# has waited long enough, or when the workers have nothing ready (so output still streams).
BATCH_ITEMS = 64
BATCH_SECONDS = 0.5


def run_scan(
    paths: list[Path],
    settings: ScanSettings,
    db: Database,
    *,
    workers: int = 1,
    policy: Policy | None = None,
    on_item: Callable[[ItemReport], None] | None = None,
    on_batch: Callable[[], None] | None = None,
    analysis: Analysis | None = None,
) -> ScanSummary:
    """Scan ``paths`` into ``db``. ``on_item`` sees each report once it is stored;
    ``on_batch`` runs after each stored batch (e.g. to flush output). ``analysis`` is one
    the caller already started on the same paths and settings (its workers then hash while
    the caller opens the database)."""
    policy = policy or RulesPolicy.from_file()  # the shipped default policy
    if analysis is None:
        analysis = Analysis(paths, settings, workers)
    signal_classes = analysis.signal_classes
    matchers = [m for cls in matcher_classes() if (m := cls.load(db)) is not None]
    run_settings = asdict(settings) | {"signals": [c.name for c in signal_classes],
                                       "paths": [str(p) for p in paths],
                                       "policy": getattr(getattr(policy, "spec", None), "ref", None)}
    with db.session() as session:
        scan_id = scan_store.start_scan(session, run_settings)
    summary = ScanSummary(scan_id)
    batch: list[ItemReport] = []
    batch_started = 0.0

    def store_batch() -> None:
        if not batch:
            return
        finalise_batch(batch, db, scan_id, matchers, policy)
        for report in batch:
            summary.n_items += 1
            summary.n_errors += report.status is ItemStatus.ERROR
            summary.n_flagged += report.flagged
            if on_item:
                on_item(report)
        batch.clear()
        if on_batch:
            on_batch()

    try:
        for report in analysis.reports(on_wait=store_batch):
            if not batch:
                batch_started = time.monotonic()
            batch.append(report)
            if len(batch) >= BATCH_ITEMS or time.monotonic() - batch_started >= BATCH_SECONDS:
                store_batch()
        store_batch()
    finally:
        analysis.close()
    with db.session() as session:
        scan_store.finish_scan(session, scan_id, summary.n_items, summary.n_errors,
                               summary.n_flagged)
    return summary


def finalise_batch(reports: list[ItemReport], db: Database, scan_id: int,
                   matchers: list[Matcher], policy: Policy) -> None:
    """Store, match and decide a batch of analysed items in one transaction."""
    with db.session() as session:
        scan_store.insert_items(session, scan_id, reports)
        for report in reports:
            if report.status is ItemStatus.OK or report.results:
                for matcher in matchers:
                    if not matcher.inputs or any(i in report.results for i in matcher.inputs):
                        matcher.match(report, session)
            policy.decide(report)
        record_verdicts(session, reports)
        scan_store.finish_items(session, reports)


def finalise(report: ItemReport, db: Database, scan_id: int, matchers: list[Matcher],
             policy: Policy) -> None:
    finalise_batch([report], db, scan_id, matchers, policy)
