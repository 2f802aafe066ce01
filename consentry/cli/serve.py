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
              help="Job worker processes that run scans (default: one per core, or one with "
              "--engine ray; 0: this server only accepts jobs).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Analyse uploads in the job workers, or on the Ray cluster at --address "
              "(consentry[ray]; the spool folder must be at the same path on every node).")
@click.option("--address", metavar="ADDR", help="Ray cluster the job workers join with --engine ray.")
@click.option("--spool", "spool_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Folder for uploads waiting for their job (default: beside the database).")
@click.option("--max-upload-mb", type=click.IntRange(min=1), default=200, show_default=True,
              help="Refuse uploads larger than this (megabytes), before reading them whole.")
@click.option("--rate-per-minute", type=click.IntRange(min=0), default=600, show_default=True,
              help="Requests per minute per key unless the key has its own (0: unlimited).")
@click.option("--job-lease-seconds", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="A job whose worker stops renewing it this long is run again (PostgreSQL).")
@click.option("--review-media/--no-review-media", "review_media", default=None,
              help="Keep the media of items sent to review, encrypted, until N days after the "
              "decision [env CONSENTRY_REVIEW_MEDIA; default off]. Needs the key.")
@click.option("--review-media-key-file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="A file holding the base64 of 32 random bytes, the key of the kept media "
              "[env CONSENTRY_REVIEW_MEDIA_KEY holds the key itself].")
@click.option("--review-media-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where the encrypted media lives [env CONSENTRY_REVIEW_MEDIA_DIR; SPOOL/review-media].")
@click.option("--review-keep-days", type=click.FloatRange(min=0),
              help="Days kept media stays after the decision [env CONSENTRY_REVIEW_KEEP_DAYS; 7].")
@click.option("--review-break-after", type=click.IntRange(min=1),
              help="Items opened before a break reminder [env CONSENTRY_REVIEW_BREAK_AFTER; 25].")
@click.option("--review-session-idle-min", type=click.FloatRange(min=0, min_open=True),
              help="Sign-in ends after this many idle minutes [env CONSENTRY_REVIEW_SESSION_IDLE_MIN; 30].")
@click.option("--review-session-max-hours", type=click.FloatRange(min=0, min_open=True),
              help="Sign-in ends after this many hours [env CONSENTRY_REVIEW_SESSION_MAX_HOURS; 9].")
@click.option("--review-claim-min", type=click.FloatRange(min=0, min_open=True),
              help="Minutes a claim holds an item [env CONSENTRY_REVIEW_CLAIM_MIN; 15].")
@click.option("--review-signin-failures", type=click.IntRange(min=1),
              help="Failed sign-ins for one name within the window before it is refused "
              "[env CONSENTRY_REVIEW_SIGNIN_FAILURES; 5].")
@click.option("--review-signin-failures-per-address", type=click.IntRange(min=1),
              help="The same from one client address, whatever the names "
              "[env CONSENTRY_REVIEW_SIGNIN_FAILURES_PER_ADDRESS; 20].")
@click.option("--review-signin-window-min", type=click.FloatRange(min=0, min_open=True),
              help="The window of those limits, minutes [env CONSENTRY_REVIEW_SIGNIN_WINDOW_MIN; 15].")
@db_option
@handle_errors
def command(host: str, port: int, workers: int, job_workers: int | None, engine: str,
            address: str | None, spool_dir: Path | None,
            max_upload_mb: int, rate_per_minute: int, job_lease_seconds: float,
            review_media: bool | None, review_media_key_file: Path | None, **review_flags: object) -> None:
    """Serve the HMA-compatible and native HTTP API (docs/service.md) and the review UI at /ui
    (docs/review.md: the --review-* flags, each also an environment variable)."""
    from consentry.service.runtime import serve
    from consentry.service.ui.settings import apply_serve_flags

    apply_serve_flags(review_flags, retain=review_media, key_file=review_media_key_file)

    db = state().database()  # migrates at start
    spool = spool_dir or db.sidecar_dir / "spool"
    if engine == "ray" and not address:
        raise click.UsageError("--engine ray needs --address (a running cluster: ray start --head)")
    if job_workers is None:  # on Ray one job worker drives the whole cluster
        job_workers = 1 if engine == "ray" else max(1, len(os.sched_getaffinity(0)))
    serve(db, host=host, port=port, workers=workers, job_workers=job_workers, spool_dir=spool,
          max_upload_bytes=max_upload_mb * 1024 * 1024, rate_per_minute=rate_per_minute,
          job_lease_s=job_lease_seconds, engine=engine, ray_address=address)
