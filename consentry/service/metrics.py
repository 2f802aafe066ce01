"""Prometheus metrics on the app's own registry (no process globals): requests and latency
per route template, and, read from the database at each scrape so that every process's work
counts, the queue depth, job errors and matches by bank."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from consentry.store import jobs as job_store
from consentry.store.db import Database
from consentry.store.tables.banks import Bank, BankMatch
from consentry.store.tables.service import Job

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class StoreCollector:
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self):  # type: ignore[no-untyped-def]
        depth = job_store.depth(self.db)
        queue = GaugeMetricFamily("consentry_jobs", "Jobs waiting or running", labels=["status"])
        for status, n in depth.items():
            queue.add_metric([status], n)
        yield queue
        with self.db.session() as session:
            errors = session.scalar(select(func.count()).where(Job.status == "error")) or 0
            by_bank = session.execute(select(Bank.name, func.count()).select_from(BankMatch)
                                      .join(Bank, Bank.id == BankMatch.bank_id).group_by(Bank.name)).all()
        failed = GaugeMetricFamily("consentry_job_errors", "Jobs that ended in an error")
        failed.add_metric([], errors)
        yield failed
        matches = GaugeMetricFamily("consentry_bank_matches", "Items matched, by bank", labels=["bank"])
        for bank, n in by_bank:
            matches.add_metric([bank], n)
        yield matches


class Metrics:
    def __init__(self, db: Database) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("consentry_http_requests", "HTTP requests",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("consentry_http_request_seconds", "HTTP request latency",
                                 ["route"], registry=self.registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))
        self.fast_lookups = Counter("consentry_raw_lookups_fast", "Raw lookups answered by the "
                                    "hot path (service/fast_lookup.py)", registry=self.registry)
        self.fast_scans = Counter("consentry_scans_fast", "Scan uploads taken by the hot path "
                                  "(service/fast_scan.py)", registry=self.registry)
        self.lookup_batch = Histogram("consentry_lookup_batch_size", "Index lookups searched in one "
                                      "MIH call (service/lookup.py: BatchedSearch)", registry=self.registry,
                                      buckets=(1, 2, 4, 8, 16, 32, 64, 128))
        self.registry.register(StoreCollector(db))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """A plain ASGI middleware (Starlette's BaseHTTPMiddleware costs ~0.2 ms a request)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def send_status(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], template, str(status[0])).inc()
            self.metrics.latency.labels(template).observe(time.perf_counter() - start)
