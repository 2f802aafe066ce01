"""``create_app(db, settings)``: the FastAPI app with everything it uses wired explicitly on
``app.state`` (the database, settings, key checker, bank lookup, metrics, job queue): no
framework globals, so tests build as many apps as they like."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator

from fastapi import FastAPI

from consentry import __version__
from consentry.service import errors, health, hma_curation, hma_match
from consentry.service.auth import KeyChecker
from consentry.service.config import ServiceSettings
from consentry.service.fast_lookup import FastRawLookup
from consentry.service.fast_scan import FastScan
from consentry.service.lookup import BankLookup, BatchedSearch
from consentry.service.metrics import Metrics, MetricsMiddleware
from consentry.service.ui import mount as mount_review_ui
from consentry.service.uploads import BodyLimitMiddleware
from consentry.service.waiter import JobWaiter
from consentry.store.db import Database


def create_app(db: Database, settings: ServiceSettings, *, load_indexes: bool = True) -> FastAPI:
    from consentry.service import (
        v1_audit,
        v1_banks,
        v1_cases,
        v1_casework,
        v1_feeds,
        v1_items,
        v1_keys,
        v1_persons,
        v1_scan,
        v1_webhooks,
    )

    lookup = BankLookup(db, settings.index_refresh_s)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if load_indexes and not lookup.ready:
            from fastapi.concurrency import run_in_threadpool

            await run_in_threadpool(lookup.load)
        stop = threading.Event()
        refresher = threading.Thread(target=lookup.run_refresher, args=(stop,), daemon=True)
        refresher.start()
        threading.Thread(target=_app.state.keys.run_refresher, args=(stop,), daemon=True).start()
        try:
            yield
        finally:
            stop.set()

    app = FastAPI(title="Consentry", version=__version__, lifespan=lifespan,
                  description="Find and stop non-consensual intimate imagery: an HMA-compatible "
                  "API (/h, /m, /c) and Consentry's own (/v1). Send `Authorization: Bearer KEY`.")
    app.state.db = db
    app.state.settings = settings
    app.state.keys = KeyChecker(db, settings.key_cache_s, settings.rate_per_minute)
    app.state.lookup = lookup
    app.state.metrics = Metrics(db)
    app.state.batched_search = BatchedSearch(lookup, app.state.metrics.lookup_batch.observe)
    app.state.job_waiter = JobWaiter(db, settings.job_poll_s)
    settings.spool_dir.mkdir(parents=True, exist_ok=True)
    errors.install(app)
    for module in (health, hma_match, hma_curation, v1_scan, v1_banks, v1_persons, v1_items,
                   v1_audit, v1_keys, v1_webhooks, v1_feeds, v1_cases, v1_casework):
        app.include_router(module.router)
    v1_cases.install(app)  # the public case routes' limits and CORS (docs/cases.md)
    mount_review_ui(app)  # /ui and the review routes of /v1 (consentry.service.ui)
    app.add_middleware(FastRawLookup, keys=app.state.keys, lookup=lookup,  # hot paths
                       batched=app.state.batched_search, metrics=app.state.metrics)
    app.add_middleware(FastScan, keys=app.state.keys, metrics=app.state.metrics)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_upload_bytes)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app
