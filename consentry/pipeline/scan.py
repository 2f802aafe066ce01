"""The one entry point every front calls: ``Pipeline(db).scan(sources, sinks, settings)``.

Analysis (decode once, run the signals) runs in worker processes started by ``Pipeline.analyse``
before the database is even opened, so a front can start them first and open the database
meanwhile (the CLI does). Decisions (match, policy, store) run here, in batches; each stored
item then goes to every sink (JSON Lines, the HTML report, a terminal, webhooks). A backfill
is the same loop over another source (consentry.pipeline.source): what a batch commits with
it (its entries' states) is the source's to say.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from consentry.actions.sinks import Sink
from consentry.match.matchers import matcher_classes
from consentry.pipeline.decision import decide_batch
from consentry.pipeline.interrupts import Interrupts
from consentry.pipeline.runner import Analysis, default_workers
from consentry.pipeline.scan_settings import settings_under
from consentry.pipeline.source import ItemSource, ScanSource
from consentry.policy.base import Policy
from consentry.policy.engine import RulesPolicy
from consentry.settings import ScanSettings
from consentry.store.db import Database
from consentry.types import ItemReport, ItemStatus, ScanSummary

# Items are stored in batches: one transaction per batch instead of per item is what lets
# the main process keep up with the workers. A batch is written when it is full, when it
# has waited long enough, or when the workers have nothing ready (so output still streams).
BATCH_ITEMS = 64
BATCH_SECONDS = 0.5


class Pipeline:
    """Scans into one database with one policy (the shipped default unless given)."""

    def __init__(self, db: Database, policy: Policy | None = None) -> None:
        self.db = db
        self.policy = policy or RulesPolicy.from_file()

    @staticmethod
    def analyse(paths: Sequence[Path], settings: ScanSettings, workers: int | None = None) -> Analysis:
        """Start analysing ``paths`` now (worker processes, no database)."""
        return Analysis(list(paths), settings, default_workers() if workers is None else workers)

    def scan(self, sources: Sequence[Path] | Analysis | ItemSource, sinks: Sequence[Sink] = (),
             settings: ScanSettings | None = None, *, workers: int | None = None) -> ScanSummary:
        """Analyse, match, decide and store every item of ``sources`` (paths, an analysis
        already started on them, or an ``ItemSource`` such as a backfill's), handing each
        stored item to ``sinks``. An interruption (Ctrl-C, SIGTERM) keeps what was stored,
        closes the scan as interrupted and re-raises."""
        if isinstance(sources, ItemSource):
            source = sources
        else:
            analysis = (sources if isinstance(sources, Analysis) else self.analyse(
                sources, settings_under(self.policy, settings or ScanSettings(), lambda: self.db),
                workers))
            source = ScanSource(analysis, self._run_settings(analysis))
        try:
            return self._scan(source, sinks)
        finally:
            source.release()

    def _run_settings(self, analysis: Analysis) -> dict[str, object]:
        settings = analysis.settings
        run_settings: dict[str, object] = {
            "limits": asdict(settings.limits), "fast_jpeg": settings.fast_jpeg,
            "thumbnails": settings.thumbnails,
            "signals": [c.name for c in analysis.signal_classes],
            "paths": [str(p) for p in analysis.paths],
            "policy": getattr(getattr(self.policy, "spec", None), "ref", None),
            "owner": f"{socket.gethostname()}:{os.getpid()}"}  # `scans list`: running or killed
        for cls in analysis.signal_classes:  # each signal's options (their names are unique)
            run_settings.update(asdict(cls.options(settings)))
        return run_settings

    def _scan(self, source: ItemSource, sinks: Sequence[Sink]) -> ScanSummary:
        matchers = [m for cls in matcher_classes() if (m := cls.load(self.db)) is not None]
        interrupts = Interrupts()
        with interrupts.critical():
            scan_id = source.open(self.db, interrupts)
        summary = ScanSummary(scan_id)
        for sink in sinks:
            sink.start(scan_id, source.total)
        batch: list[ItemReport] = []
        batch_started = 0.0
        completed = False

        def store_batch() -> None:
            if not batch:
                return
            # Ctrl-C / SIGTERM wait until the batch is stored, counted and handed to the sinks
            with interrupts.critical():
                plan = source.storing(list(batch))
                batch.clear()
                if plan.reports:
                    decide_batch(plan.reports, self.db, scan_id, matchers, self.policy,
                                 also=plan.also)
                elif plan.also is not None:
                    with self.db.session() as session:
                        plan.also(session)
                for report in plan.reports:
                    summary.n_items += 1
                    summary.n_errors += report.status is ItemStatus.ERROR
                    summary.n_flagged += report.flagged
                    summary.n_known += report.known_item_id is not None
                    for sink in sinks:
                        sink.item(report)
                for sink in sinks:
                    sink.flush()
                source.stored(plan.reports)

        try:
            with interrupts.installed():
                for report in source.reports(store_batch):
                    if not batch:
                        batch_started = time.monotonic()
                    batch.append(report)
                    if len(batch) >= BATCH_ITEMS or time.monotonic() - batch_started >= BATCH_SECONDS:
                        store_batch()
                store_batch()
            completed = True
        except KeyboardInterrupt:
            summary.interrupted = True
            raise
        finally:
            summary = source.close(self.db, summary, completed=completed)
            for sink in sinks:
                sink.finish(summary)
        return summary
