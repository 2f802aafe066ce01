"""The job runner: takes queued jobs in batches and runs them through the one pipeline
(``Pipeline(db, policy).scan``), one run per batch of jobs that share signals and policy,
so analysis worker processes start once per batch, not once per upload. Each job ends once
(consentry.store.jobs.finish) and its spooled bytes are deleted when it ends."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from consentry.actions.sinks import Sink
from consentry.pipeline.runner import Analysis
from consentry.pipeline.scan import Pipeline
from consentry.pipeline.scan_settings import settings_under
from consentry.policy.engine import RulesPolicy
from consentry.service.config import ServiceSettings
from consentry.service.doorbell import Doorbell, bells_folder
from consentry.settings import Limits, ScanSettings
from consentry.store import jobs as job_store
from consentry.store.db import Database
from consentry.store.jobs import JobRecord
from consentry.types import ItemReport, ScanSummary

log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class JobRunner:
    def __init__(self, db: Database, settings: ServiceSettings, *, name: str | None = None,
                 extra_sinks: tuple[Sink, ...] = (), doorbell: Doorbell | None = None) -> None:
        self.db = db
        self.doorbell = doorbell  # rung by the HTTP side when it queues a job (same machine)
        self.settings = settings
        self.name = name or worker_name()
        self.extra_sinks = extra_sinks
        self.stop = threading.Event()
        self._policies: dict[str | None, RulesPolicy] = {}
        self._ray: tuple[ScanSettings, Any] | None = None  # (settings, RayEngine)

    def run_forever(self) -> None:
        try:
            self._serve_jobs()
        finally:
            self.close_engine()

    def _serve_jobs(self) -> None:
        idle = self.settings.job_poll_s
        while not self.stop.is_set():
            try:
                if self.run_once() > 0:
                    idle = self.settings.job_poll_s
                elif self.doorbell is None:
                    self.stop.wait(self.settings.job_poll_s)
                else:  # wait for a ring; poll ever more slowly (up to 1 s) as a safety net
                    rung = self.doorbell.wait(idle)
                    idle = self.settings.job_poll_s if rung else min(1.0, idle * 2)
            except Exception:  # the database went away for a moment: keep serving
                log.exception("job runner: a batch failed; retrying")
                self.stop.wait(1.0)

    def run_once(self) -> int:
        """Claim and run one batch; returns how many jobs it took. A small batch waits a
        moment for more (``job_gather_s``): each pipeline run has a fixed cost."""
        batch, lease = self.settings.job_batch, self.settings.job_lease_s
        claimed = job_store.claim(self.db, self.name, batch, lease)
        if not claimed:
            return 0
        if len(claimed) < batch and self.settings.job_gather_s > 0:
            time.sleep(self.settings.job_gather_s)
            claimed += job_store.claim(self.db, self.name, batch - len(claimed), lease)
        groups: dict[tuple[Any, Any], list[JobRecord]] = defaultdict(list)
        for job in claimed:
            groups[(job.signals, job.policy)].append(job)
        keeper = _LeaseKeeper(self, [j.job_id for j in claimed])
        keeper.start()
        try:
            for (signals, policy), jobs in groups.items():
                self._run_group(jobs, signals, policy)
        finally:
            keeper.done.set()
        return len(claimed)

    def _run_group(self, jobs: list[JobRecord], signals: tuple[str, ...] | None, policy: str | None) -> None:
        by_path = {str(Path(j.spool_path)): j for j in jobs if j.spool_path}
        missing = [j for j in jobs if not j.spool_path or not Path(j.spool_path).exists()]
        for job in missing:  # accepted, but its bytes are gone (a disk replaced): say so
            self._end(job, None, None, "the uploaded file is no longer in the spool folder")
        paths = [Path(p) for p, j in by_path.items() if j not in missing]
        if not paths:
            return
        ender = _JobEnder(self, by_path)
        try:
            rules = self._policy(policy)
            settings = ScanSettings(signals=signals)
            sources: list[Path] | Analysis = paths
            if self.settings.engine == "ray":
                sources = self._ray_analysis(paths, settings_under(rules, settings, lambda: self.db))
            Pipeline(self.db, rules).scan(sources, [ender, *self.extra_sinks], settings,
                                          workers=self.settings.scan_workers)
        except Exception as exc:
            log.exception("job runner: pipeline failed")
            with contextlib.suppress(Exception):  # a lost cluster: the next batch joins anew
                self.close_engine()
            ender.flush()
            for job in list(by_path.values()):
                self._end(job, None, None, f"the scan failed: {exc}")
            return
        ender.flush()
        for job in by_path.values():
            self._end(job, None, None, "the scan gave no result for this upload")

    def _ray_analysis(self, paths: list[Path], settings: ScanSettings) -> Analysis:
        """The batch on Ray actors. The actors live across batches (their models load once);
        a batch that needs other settings (signals, a policy's cascade) replaces them."""
        from consentry.pipeline.ray_engine import RayAnalysis, RayEngine
        from consentry.signals import catalog

        classes = catalog.resolve(settings.signals)
        if self._ray is None or self._ray[0] != settings:
            self.close_engine()
            self._ray = (settings, RayEngine(settings, classes, address=self.settings.ray_address,
                                             actors=self.settings.scan_workers or None,
                                             share=self.settings.ray_share))
        return RayAnalysis(paths, settings, classes, engine=self._ray[1])

    def close_engine(self) -> None:
        held, self._ray = self._ray, None
        if held is not None:
            held[1].close()

    def _policy(self, name: str | None) -> RulesPolicy:
        if name not in self._policies:
            self._policies[name] = RulesPolicy.from_file(self.settings.policies[name] if name else None)
        return self._policies[name]

    def _end(self, job: JobRecord, result: dict[str, Any] | None, item_id: int | None,
             error: str | None) -> None:
        ended = job_store.finish(self.db, job.job_id, self.name, result=result, item_id=item_id,
                                 error=error)
        if ended and job.spool_path:
            Path(job.spool_path).unlink(missing_ok=True)


class _JobEnder:
    """A sink that ends each stored batch's jobs in one transaction as the pipeline stores
    them (so results stream out before the whole run is over)."""

    def __init__(self, runner: JobRunner, by_path: dict[str, JobRecord]) -> None:
        self.runner = runner
        self.by_path = by_path
        self.pending: list[tuple[JobRecord, dict[str, Any], int | None]] = []

    def start(self, scan_id: int, total: int | None) -> None:
        pass

    def item(self, report: ItemReport) -> None:
        job = self.by_path.pop(str(report.path), None)
        if job is not None:
            result = {**report.as_json(), "job_id": job.job_id, "external_id": job.external_id}
            self.pending.append((job, result, report.item_id))

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        if not pending:  # the pipeline flushes after every stored batch, and again at the end
            return
        ended = job_store.finish_many(self.runner.db, self.runner.name,
                                      [(j.job_id, r, i, None) for j, r, i in pending])
        for job, _result, _item in pending:
            if job.job_id in ended and job.spool_path:
                Path(job.spool_path).unlink(missing_ok=True)

    def finish(self, summary: ScanSummary) -> None:
        self.flush()


class _LeaseKeeper(threading.Thread):
    """Extends the leases of a running batch, so a long scan is not taken over."""

    def __init__(self, runner: JobRunner, job_ids: list[str]) -> None:
        super().__init__(daemon=True)
        self.runner = runner
        self.job_ids = job_ids
        self.done = threading.Event()

    def run(self) -> None:
        every = max(0.5, self.runner.settings.job_lease_s / 3)
        # Analysing in this process (scan_workers=0), this thread is the watchdog: a batch
        # stuck past the per-item limit ends the process; the server starts another, and the
        # jobs run again once their leases lapse (a job that does this 3 times ends in error).
        limit = Limits().max_item_s * len(self.job_ids)
        deadline = time.monotonic() + limit if limit and _in_process(self.runner.settings) else None
        while not self.done.wait(every):
            if deadline is not None and time.monotonic() > deadline:
                log.error("job batch stuck for %.0f s: ending this job worker", limit)
                os._exit(70)
            try:
                job_store.extend_lease(self.runner.db, self.runner.name, self.job_ids,
                                       self.runner.settings.job_lease_s)
            except Exception:
                log.exception("could not extend job leases")


def _in_process(settings: ServiceSettings) -> bool:
    """The job worker analyses in its own process (on Ray, actors do, each with Ray's
    memory monitor and the engine's watchdog; an address-space cap would break Ray's shared
    memory)."""
    return settings.scan_workers == 0 and settings.engine != "ray"


def run_job_worker(db_url: str, settings: ServiceSettings) -> None:
    """Entry point of a job worker process started by ``consentry serve``."""
    import signal

    from consentry.store.db import open_database

    if _in_process(settings):  # analysing in this process: cap it as a scan worker is capped
        import numpy  # noqa: F401  (threadpoolctl limits the libraries already loaded)
        import threadpoolctl

        # One job worker per core, as scan workers: a second OpenBLAS thread in each only
        # spins against the others (in a bench process it doubled the CPU of hashing 4K
        # video frames; hash-only photo jobs measured the same either way, 11 ms an image).
        threadpoolctl.threadpool_limits(1)
        cap = Limits().max_worker_memory
        if cap:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    from consentry.actions.webhooks import WebhookSink
    from consentry.service.ui.settings import review_sinks  # keeps media for review, if configured

    db = open_database(db_url)
    sinks = (WebhookSink(db), *review_sinks(db, settings.spool_dir))
    bell = Doorbell(bells_folder(settings.spool_dir)).listen()
    runner = JobRunner(db, settings, extra_sinks=sinks, doorbell=bell)
    signal.signal(signal.SIGTERM, lambda *_: runner.stop.set())
    try:
        runner.run_forever()
    finally:
        bell.close()
