"""``consentry serve``: the HTTP service (FastAPI on uvicorn) over the same ``--db``."""

from __future__ import annotations

import os
from pathlib import Path

import click

from consentry.cli.common import db_option, handle_errors, state


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (put a TLS proxy in front for anything but loopback).")
@click.option("--port", type=click.IntRange(1, 65535), default=5100, show_default=True,
              help="TCP port to listen on.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="HTTP worker processes (each holds the bank indexes, memory-mapped).")
@click.option("--job-workers", type=click.IntRange(min=0),
              help="Job worker processes that run scans (default: one per core; 0: this server "
              "only accepts jobs).")
@click.option("--spool", "spool_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Folder for uploads waiting for their job (default: beside the database).")
@click.option("--max-upload-mb", type=click.IntRange(min=1), default=200, show_default=True,
              help="Refuse uploads larger than this (megabytes), before reading them whole.")
@click.option("--rate-per-minute", type=click.IntRange(min=0), default=600, show_default=True,
              help="Requests per minute per key unless the key has its own (0: unlimited).")
@click.option("--job-lease-seconds", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="A job whose worker stops renewing it this long is run again (PostgreSQL).")
@db_option
@handle_errors
def command(host: str, port: int, workers: int, job_workers: int | None, spool_dir: Path | None,
            max_upload_mb: int, rate_per_minute: int, job_lease_seconds: float) -> None:
    """Serve the HMA-compatible and native HTTP API (docs/service.md)."""
    from consentry.service.runtime import serve

    db = state().database()  # migrates at start
    spool = spool_dir or db.sidecar_dir / "spool"
    if job_workers is None:
        job_workers = max(1, len(os.sched_getaffinity(0)))
    serve(db, host=host, port=port, workers=workers, job_workers=job_workers, spool_dir=spool,
          max_upload_bytes=max_upload_mb * 1024 * 1024, rate_per_minute=rate_per_minute,
          job_lease_s=job_lease_seconds)
