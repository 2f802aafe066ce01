"""``consentry backfill``: analyse everything already hosted, surviving crashes.

``run`` records the manifest in the database first, then works through it; running the same
command again (same sources, same settings) or ``resume RUN_ID`` goes on where it stopped.
``list``, ``status`` and ``items`` read the database and work from another shell meanwhile.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from consentry.cli.common import EXIT_OK, common_options, emit, fail, handle_errors, state
from consentry.cli.signal_options import build_options, signal_names, signal_options
from consentry.names import terminal_text
from consentry.settings import Limits, ScanSettings

if TYPE_CHECKING:
    from consentry.actions.sinks import Sink
    from consentry.pipeline.backfill.engine import Engine
    from consentry.store.backfill import RunRecord
    from consentry.store.db import Database

F = TypeVar("F", bound=Callable[..., Any])

_LIMIT_FLAGS = {  # flag -> (Limits field, click type, help)
    "--max-pixels": ("max_pixels", click.IntRange(min=1), "Refuse images or frames with more pixels."),
    "--max-duration": ("max_duration_s", click.FloatRange(min=1),
                       "Refuse videos that claim to last longer (seconds)."),
    "--max-decode-seconds": ("max_decode_s", click.FloatRange(min=1),
                             "Stop decoding an item after this long."),
    "--max-file-size": ("max_file_bytes", click.IntRange(min=1),
                        "Refuse files larger than this many bytes."),
    "--max-item-seconds": ("max_item_s", click.FloatRange(min=0),
                           "Kill a worker still on one item after this long (0: no watchdog)."),
    "--max-worker-memory": ("max_worker_memory", click.IntRange(min=0),
                            "Cap each worker process's memory (bytes; 0: no cap)."),
}


def _engine_options(fn: F) -> F:
    """Where the analysis runs (not part of what identifies a run: a resume may change it)."""
    fn = click.option("--segment-min-seconds", type=click.FloatRange(min=0),
                      default=ScanSettings.segment_min_s, show_default=True,
                      help="Shortest video that --segments splits.")(fn)
    fn = click.option("--segments", type=click.IntRange(min=1), default=1, show_default=True,
                      help="Split each long video into this many time segments analysed in "
                      "parallel and stitched into one item (the same result).")(fn)
    fn = click.option("--workers", type=click.IntRange(min=1), default=None,
                      help="Worker processes (default: one per core; local engine).")(fn)
    fn = click.option("--address", metavar="ADDR", default=None,
                      help="Ray cluster to join (default: start one on this machine).")(fn)
    return click.option("--engine", type=click.Choice(["local", "ray"]), default="local",
                        show_default=True, help="Run the analysis in local worker processes "
                        "or as Ray actors (needs consentry[ray]).")(fn)


def _analysis_options(fn: F) -> F:
    for flag, (name, kind, text) in reversed(_LIMIT_FLAGS.items()):
        fn = click.option(flag, f"limit_{name}", type=kind, default=getattr(Limits, name),
                          show_default=True, help=text)(fn)
    fn = click.option("--retry-delay", type=click.FloatRange(min=0), default=2.0,
                      show_default=True, help="Seconds before retrying an item whose error may "
                      "pass (I/O); doubled before each next try.")(fn)
    fn = click.option("--max-attempts", type=click.IntRange(min=1), default=3, show_default=True,
                      help="Tries per item for errors that may pass (a corrupt file gets one).")(fn)
    fn = click.option("--full-decode", is_flag=True,
                      help="Decode JPEGs at full size for hashing.")(fn)
    fn = click.option("--allow-missing-signals", is_flag=True,
                      help="Run even when block/review rules of the policy need signals that "
                      "will not run.")(fn)
    fn = click.option("--policy", "policy_path", type=click.Path(path_type=Path, dir_okay=False),
                      help="Policy file (TOML) turning findings into verdicts.")(fn)
    fn = click.option("--signals", callback=signal_names, metavar="A,B,...",
                      help="Signals to run (default: every installed one).")(fn)
    return signal_options(fn)


@click.group("backfill")
def command() -> None:
    """Backfills of everything already hosted: resumable, each item stored once."""


@command.command("run")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))
@click.option("--new", is_flag=True, help="Start a new run even if one with these sources and "
              "settings exists (default: continue it).")
@_analysis_options
@_engine_options
@common_options
@handle_errors
def run_cmd(sources: tuple[Path, ...], new: bool, engine: str, address: str | None,
            workers: int | None, segments: int, segment_min_seconds: float,
            **params: Any) -> None:
    """Record the files under SOURCES (folders, or manifest files: one path per line, or
    JSON Lines with "path" and "external_id") and analyse each once.

    The same command again continues the same run. Exit codes as `scan`.
    """
    missing = [str(p) for p in sources if not os.path.exists(p)]
    if missing:
        fail(f"no such file or folder: {', '.join(missing)}")
    record = _settings_record(params)
    absolute = [os.path.abspath(p) for p in sources]
    key = hashlib.sha256(json.dumps({"sources": absolute, "settings": record},
                                    sort_keys=True).encode()).hexdigest()
    _check_policy(record)
    from consentry.store import backfill as store

    db = state().database()
    run = None if new else store.find_run(db, key)
    if run is None:
        run_id = store.create_run(db, key, absolute, record, _scan_settings(record, absolute))
        run = store.get_run(db, run_id)
        assert run is not None
    _work(db, run, engine, address, workers, (segments, segment_min_seconds))


@command.command("resume")
@click.argument("run_id", type=int)
@_engine_options
@common_options
@handle_errors
def resume_cmd(run_id: int, engine: str, address: str | None, workers: int | None,
               segments: int, segment_min_seconds: float) -> None:
    """Continue a run where it stopped, with the settings it was started with."""
    from consentry.store import backfill as store

    db = state().database()
    run = store.get_run(db, run_id)
    if run is None:
        fail(f"no backfill run {run_id}")
    assert run is not None
    _work(db, run, engine, address, workers, (segments, segment_min_seconds))


def _work(db: Database, run: RunRecord, engine_name: str, address: str | None,
          workers: int | None, split: tuple[int, float]) -> None:
    from consentry.pipeline.backfill.manifest import read_sources
    from consentry.pipeline.scan_settings import settings_under
    from consentry.policy.engine import RulesPolicy
    from consentry.signals import catalog
    from consentry.store import backfill as store

    record = run.settings
    policy = RulesPolicy.from_file(Path(record["policy"]) if record.get("policy") else None)
    settings = settings_under(  # the policy's cascade and face descriptors, as scan
        policy, replace(_scan_settings_obj(record), segments=split[0], segment_min_s=split[1]),
        lambda: db)
    classes = catalog.resolve(settings.signals)
    if not run.manifest_complete:  # new, or killed while listing: list (again) first
        store.claim(db, run.run_id, store.owner_name())
        total = store.write_manifest(db, run.run_id, read_sources([Path(s) for s in run.sources]))
        run = store.get_run(db, run.run_id)
        assert run is not None
        if not state().json:
            click.echo(f"backfill {run.run_id}: {total:,} files listed", err=True)
    counts = store.counts(db, run.run_id)
    if counts[store.PENDING] + counts[store.RUNNING] == 0:
        if not state().json:
            click.echo(f"backfill {run.run_id} is complete: {counts[store.DONE]:,} done, "
                       f"{counts[store.ERROR]:,} errors (--new starts another)", err=True)
        _n_items, n_errors, n_flagged = store.scan_counts(db, run.scan_id or 0)
        sys.exit(1 if n_flagged else 3 if n_errors else EXIT_OK)
    engine = _engine(engine_name, address, workers, settings, classes)
    from consentry.pipeline.backfill.run import Backfill, RetryPolicy

    try:
        backfill = Backfill(db, policy, classes, engine,
                            retry=RetryPolicy(record.get("max_attempts", 3),
                                              record.get("retry_delay", 2.0)))
        summary = backfill.run(run, _sinks())
    finally:
        engine.close()
    sys.exit(summary.exit_code)


def _engine(name: str, address: str | None, workers: int | None, settings: ScanSettings,
            classes: list[Any]) -> Engine:
    from consentry.pipeline.runner import default_workers

    if name == "ray":
        from consentry.pipeline.ray_engine import RayEngine

        return RayEngine(settings, classes, address=address, actors=workers)
    from consentry.pipeline.backfill.engine import LocalEngine

    return LocalEngine(settings, classes, workers or default_workers())


def _sinks() -> list[Sink]:
    if state().json:
        from consentry.actions.sinks import JsonLinesSink

        return [JsonLinesSink()]
    from consentry.cli.summary import ScanConsole

    return [ScanConsole(None)]


def _settings_record(params: dict[str, Any]) -> dict[str, Any]:
    """Everything that decides what a run computes, as JSON: stored with the run (a resume
    runs the same analysis) and hashed into its key."""
    limits = {k[len("limit_"):]: params.pop(k) for k in list(params) if k.startswith("limit_")}
    from consentry.policy.loader import SHIPPED  # a bare shipped name (`cascade`) stays a name

    policy_path = params.pop("policy_path")
    return {
        "signals": list(params.pop("signals")) if params.get("signals") else None,
        "signal_params": {k: v for k, v in params.items() if k.startswith("opt_")},
        "limits": limits,
        "full_decode": params["full_decode"],
        "policy": (str(policy_path) if str(policy_path) in SHIPPED and not policy_path.exists()
                   else os.path.abspath(policy_path)) if policy_path else None,
        "allow_missing_signals": params["allow_missing_signals"],
        "max_attempts": params["max_attempts"],
        "retry_delay": params["retry_delay"],
    }


def _scan_settings_obj(record: dict[str, Any]) -> ScanSettings:
    return ScanSettings(limits=Limits(**{**asdict(Limits()), **record["limits"]}),
                        signals=tuple(record["signals"]) if record["signals"] else None,
                        options=build_options(dict(record["signal_params"])),
                        fast_jpeg=not record["full_decode"])


def _scan_settings(record: dict[str, Any], sources: list[str]) -> dict[str, Any]:
    """What the run's scan row records (as `scan` records its settings)."""
    return {"signals": record["signals"], "limits": record["limits"], "paths": sources,
            "policy": record["policy"], **record["signal_params"]}


def _check_policy(record: dict[str, Any]) -> None:
    """A policy file whose block/review rules need signals that will not run: exit 2 unless
    --allow-missing-signals (as `scan`)."""
    if record["policy"] is None:
        return
    from consentry.match.matchers import MATCHERS
    from consentry.policy.engine import RulesPolicy
    from consentry.signals import catalog

    policy = RulesPolicy.from_file(Path(record["policy"]))
    ran = {c.name for c in catalog.resolve(tuple(record["signals"]) if record["signals"] else None)}
    policy.spec.check_signals(ran | set(MATCHERS), allow_missing=record["allow_missing_signals"])


@command.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many runs to list, newest first.")
@common_options
@handle_errors
def list_cmd(limit: int) -> None:
    """The most recent backfill runs with their counts."""
    from consentry.store import backfill as store

    db = state().database()
    for run in store.list_runs(db, limit):
        row = {**run.as_json(), **store.counts(db, run.run_id)}
        if state().json:
            emit(row)
            continue
        sources = terminal_text(", ".join(run.sources))
        when = "finished" if run.finished_at else ("running" if run.owner else "stopped")
        sys.stdout.write(f"{run.run_id}\t{str(run.created_at)[:19]}\t{when}\t{row['done']}/"
                         f"{run.total} done\t{row['error']} errors\t{sources}\n")


@command.command("status")
@click.argument("run_id", type=int)
@common_options
@handle_errors
def status_cmd(run_id: int) -> None:
    """Counts of a run's entries: done, pending, running, error."""
    from consentry.store import backfill as store

    db = state().database()
    run = store.get_run(db, run_id)
    if run is None:
        fail(f"no backfill run {run_id}")
    assert run is not None
    counts = store.counts(db, run_id)
    if state().json:
        emit({"run_id": run_id, "total": run.total, **counts,
              "finished": run.finished_at is not None, "owner": run.owner})
        return
    sys.stdout.write(f"backfill {run_id}: {run.total} entries; " +
                     ", ".join(f"{counts[s]} {s}" for s in store.STATES) + "\n")


@command.command("items")
@click.argument("run_id", type=int)
@click.option("--state", "only", type=click.Choice(["pending", "running", "done", "error"]),
              help="Only entries in this state.")
@common_options
@handle_errors
def items_cmd(run_id: int, only: str | None) -> None:
    """One line per entry: its state, path and result (JSON Lines with --json)."""
    from consentry.store import backfill as store

    db = state().database()
    if store.get_run(db, run_id) is None:
        fail(f"no backfill run {run_id}")
    for entry in store.entries(db, run_id, only):
        if state().json:
            emit(entry.as_json(), flush=False)
            continue
        result = entry.result or {}
        verdict = (result.get("verdict") or {}).get("action") or "-"
        outcome = (f"error {entry.error_code}: {entry.error}" if entry.state == store.ERROR
                   else f"{verdict}" if entry.state == store.DONE else entry.state)
        sys.stdout.write(f"{entry.state}\t{terminal_text(entry.path)}\t{terminal_text(outcome)}\n")
    sys.stdout.flush()
