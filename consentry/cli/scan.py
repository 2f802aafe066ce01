"""``consentry scan PATH...``: the main job."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from consentry.cli.common import EXIT_OK, common_options, fail, handle_errors, state
from consentry.cli.signal_options import build_options, signal_names, signal_options
from consentry.match.matchers import MATCHERS
from consentry.pipeline.runner import Analysis, default_workers
from consentry.pipeline.scan_settings import settings_under
from consentry.policy.engine import RulesPolicy
from consentry.settings import Limits, ScanSettings
from consentry.signals import catalog

if TYPE_CHECKING:
    from consentry.actions.sinks import Sink
    from consentry.signals.base import Signal
    from consentry.types import ScanSummary


@click.command("scan")
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(path_type=Path, readable=False))
@click.option("--signals", callback=signal_names, metavar="A,B,...",
              help="Signals to run (default: every installed one). `hash` runs only the hashes.")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Worker processes (default: one per core). 0 analyses in this process, without "
              "the per-item watchdog and memory cap: for debugging only.")
@click.option("--report", "report_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Write a self-contained HTML report here.")
@click.option("--policy", "policy_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Policy file (TOML) turning findings into verdicts (default: the shipped "
              "policy, see `consentry policy show`).")
@click.option("--no-blur", is_flag=True, help="Show report thumbnails unblurred and in colour.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=Limits.max_pixels,
              show_default=True, help="Refuse images or frames with more pixels.")
@click.option("--max-duration", type=click.FloatRange(min=1), default=Limits.max_duration_s,
              show_default=True, help="Refuse videos that claim to last longer (seconds).")
@click.option("--max-decode-seconds", type=click.FloatRange(min=1), default=Limits.max_decode_s,
              show_default=True, help="Stop decoding an item after this long.")
@click.option("--max-file-size", type=click.IntRange(min=1), default=Limits.max_file_bytes,
              show_default=True, help="Refuse files larger than this many bytes.")
@click.option("--max-item-seconds", type=click.FloatRange(min=0), default=Limits.max_item_s,
              show_default=True, help="Kill a worker still on one item after this long and "
              "report the item as an error (0: no watchdog).")
@click.option("--max-worker-memory", type=click.IntRange(min=0), default=Limits.max_worker_memory,
              show_default=True, help="Cap each worker process's memory (bytes of address "
              "space; 0: no cap).")
@click.option("--allow-missing-signals", is_flag=True,
              help="Scan even when block/review rules of the policy need signals that will not "
              "run (those rules then never fire; verdicts list the signals as missing).")
@click.option("--skip-known", is_flag=True,
              help="Do not analyse again a file (same SHA-256) that these very signal versions "
              "already analysed: repeat its stored result. A signal whose version changed "
              "analyses it anew.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Analyse in local worker processes, or on Ray actors (consentry[ray]; "
              "--workers then counts actors, --address joins a cluster).")
@click.option("--address", metavar="ADDR", help="Ray cluster to join with --engine ray.")
@click.option("--full-decode", is_flag=True,
              help="Decode JPEGs at full size for hashing (default: reduced-scale for big ones).")
@click.option("--segments", type=click.IntRange(min=1), default=1, show_default=True,
              help="Split each video lasting at least --segment-min-seconds into this many "
              "time segments analysed in parallel and stitched into one item (same result).")
@click.option("--segment-min-seconds", type=click.FloatRange(min=0),
              default=ScanSettings.segment_min_s, show_default=True,
              help="Shortest video that --segments splits.")
@signal_options
@common_options
@handle_errors
def command(paths: tuple[Path, ...], signals: tuple[str, ...] | None, workers: int | None,
            report_path: Path | None, no_blur: bool, max_pixels: int, max_duration: float,
            max_decode_seconds: float, max_file_size: int, max_item_seconds: float,
            max_worker_memory: int, full_decode: bool, policy_path: Path | None,
            allow_missing_signals: bool, skip_known: bool, engine: str, address: str | None,
            segments: int, segment_min_seconds: float, **signal_params: Any) -> None:
    """Scan images, videos and folders; store and print what was found.

    Exit codes: 0 nothing flagged, 1 something flagged, 2 usage or fatal error,
    3 some items could not be read (the rest were done), 130 interrupted.
    """
    missing = [str(p) for p in paths if not os.path.exists(p)]
    if missing:  # a typo is a usage error, not a stored scan of one unreadable item
        fail(f"no such file or folder: {', '.join(missing)}")
    policy = RulesPolicy.from_file(policy_path)  # a bad policy stops here, before any work
    settings = ScanSettings(
        limits=Limits(max_pixels=max_pixels, max_file_bytes=max_file_size,
                      max_duration_s=max_duration, max_decode_s=max_decode_seconds,
                      max_item_s=max_item_seconds, max_worker_memory=max_worker_memory),
        signals=signals,
        options=build_options(signal_params),
        fast_jpeg=not full_decode,
        thumbnails=report_path is not None,
        segments=segments, segment_min_s=segment_min_seconds,
    )
    settings = settings_under(policy, settings, state().database)  # cascade, face descriptors
    classes = catalog.resolve(signals)
    if policy_path is not None:
        _check_policy_signals(policy, classes, allow_missing=allow_missing_signals)
    if skip_known:  # the database opens first, to know what is already analysed
        from consentry.store.scans import known_items

        known = known_items(state().database(), {c.name: c.version for c in classes})
        settings = replace(settings, known_items=known)
    # The workers start on the files now, while this process opens the database.
    if engine == "ray":  # the analysis on Ray actors; decisions and storage stay here
        from consentry.pipeline.ray_engine import RayAnalysis

        analysis: Analysis = RayAnalysis(paths, settings, classes, address=address, actors=workers)
    else:
        analysis = Analysis(paths, settings, default_workers() if workers is None else workers, classes)
    try:
        if analysis.total == 0:
            click.echo(f"nothing to scan: no files under {', '.join(map(str, paths))}", err=True)
            sys.exit(EXIT_OK)
        summary = _run(analysis, policy, report_path, blur=not no_blur)
    finally:
        analysis.close()
    sys.exit(summary.exit_code)


def _check_policy_signals(policy: RulesPolicy, classes: list[type[Signal]], *,
                          allow_missing: bool) -> None:
    """A policy file whose block/review rules need a signal that will not run would silently
    allow what it was written to catch: that is an error (exit 2) unless ``allow_missing``.
    The shipped default policy is not checked: running fewer signals under it (--signals, or an
    extra left out) is the operator's choice, and each verdict lists what was not looked at."""
    ran = {c.name for c in classes} | set(MATCHERS)  # matchers run, if only against nothing
    policy.spec.check_signals(ran, allow_missing=allow_missing)


def _run(analysis: Analysis, policy: RulesPolicy, report_path: Path | None, *,
         blur: bool) -> ScanSummary:
    from consentry.pipeline.scan import Pipeline  # loads SQLAlchemy: after the workers forked

    st = state()
    sinks: list[Sink] = []
    if st.json:
        from consentry.actions.sinks import JsonLinesSink

        sinks.append(JsonLinesSink())
    else:
        from consentry.cli.summary import ScanConsole  # rich loads only for people

        sinks.append(ScanConsole(report_path))
    if report_path is not None:
        from consentry.actions.sinks import HtmlReportSink

        sinks.insert(0, HtmlReportSink(report_path, blur=blur))  # written before the summary
    return Pipeline(st.database(), policy).scan(analysis, sinks)
