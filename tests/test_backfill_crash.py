"""A 2,000-item backfill killed at random moments (SIGKILL, SIGTERM, Ctrl-C), five times each,
then resumed by running the same command again: every entry ends with exactly one stored
result, no item is stored twice or left without its entry, and the counts agree."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from consentry.store import backfill as store
from consentry.store.db import open_database
from consentry.store.tables.backfill import BackfillEntry, BackfillRun
from consentry.store.tables.core import Item
from consentry.testing.samples import synthetic_scene

N_FILES, N_TWINS, KILLS = 2000, 100, 5


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("backfill-crash")
    for i in range(N_FILES - N_TWINS):
        synthetic_scene(i, (64, 48)).save(folder / f"img-{i:04d}.png")
    for i in range(N_TWINS):  # identical files: analysed once, linked once
        shutil.copy(folder / f"img-{i:04d}.png", folder / f"twin-{i:04d}.png")
    return folder


def _invariants(url: str) -> dict[str, int]:
    """What must hold after any interruption: each entry has at most one item, each item of
    the run's scan belongs to exactly one done/error entry."""
    db = open_database(url)
    try:
        with db.session() as session:
            run = session.scalars(select(BackfillRun)).first()
            if run is None or not run.manifest_complete:
                return {}
            rows = session.execute(select(BackfillEntry.state, BackfillEntry.item_id)).all()
            stored = [item_id for state, item_id in rows if state in ("done", "error")]
            assert None not in stored
            assert len(stored) == len(set(stored))
            assert all(item_id is None for state, item_id in rows if state not in ("done", "error"))
            n_items = session.scalar(select(func.count()).select_from(Item)
                                     .where(Item.scan_id == run.scan_id))
            assert n_items == len(stored)
        return store.counts(db, 1)
    finally:
        db.close()


def _wait_for_progress(url: str, proc: subprocess.Popen[bytes], done_before: int) -> None:
    """Until the run has stored more than ``done_before`` entries (or the process ended)."""
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            if _invariants(url).get("done", 0) > done_before:
                return
        except Exception:  # the schema is being created right now
            pass
        time.sleep(0.05)


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "SIGINT"])
def test_killed_five_times_then_resumed(how: str, media: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'consentry.db'}"
    open_database(url).close()  # migrated here: the first run's start-up is then as a resume's
    cmd = [sys.executable, "-m", "consentry", "--db", url, "backfill", "run", str(media),
           "--signals", "hash", "--workers", "2", "--json"]
    rng = random.Random(how)
    progress: list[int] = []
    for attempt in range(KILLS):
        # Its own session, as a terminal's foreground job: Ctrl-C reaches the whole group.
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        # Moments are chosen by progress, not by the clock: a quiet machine hashes these 2,000
        # small files in a couple of seconds, so a blind sleep of that size could land after
        # the last one and the run would never be stopped mid-way.
        if attempt == 0:  # somewhere in start-up, migration or the listing of the manifest
            time.sleep(rng.uniform(0.05, 0.6))
        else:  # somewhere after it got going again
            _wait_for_progress(url, proc, progress[-1])
            time.sleep(rng.uniform(0.0, 0.1))
        if proc.poll() is not None:  # a fast machine finished the run before the signal came
            _out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err.decode()[-2000:]
            progress.append(_invariants(url).get("done", 0))
            break
        if how == "SIGINT":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(getattr(signal, how))
        _out, err = proc.communicate(timeout=60)
        if how != "SIGKILL" and proc.returncode not in (0, 130, -signal.SIGTERM, -signal.SIGINT):
            pytest.fail(f"exit {proc.returncode} after {how}: {err.decode()[-2000:]}")
        counts = _invariants(url)
        if counts and how != "SIGKILL":
            assert counts["running"] == 0  # an orderly stop hands back what it held
        progress.append(counts.get("done", 0))
    assert any(0 < done < N_FILES for done in progress), progress  # stopped mid-run
    final = subprocess.run(cmd, capture_output=True, timeout=120)
    assert final.returncode == 0, final.stderr.decode()[-2000:]
    counts = _invariants(url)
    assert counts == {"done": N_FILES, "pending": 0, "running": 0, "error": 0}
    db = open_database(url)
    try:
        results = [e.result for e in store.entries(db, 1)]
    finally:
        db.close()
    assert all(r is not None and r["status"] == "ok" for r in results)
    linked = [r for r in results if r.get("known_item_id")]
    assert len(linked) == N_TWINS  # of each identical pair exactly one was analysed
    by_id = {r["item_id"]: r for r in results}
    assert all(by_id[r["known_item_id"]]["pdq"] == r["pdq"] for r in linked)
    assert sorted(Path(r["path"]).name for r in results) == sorted(p.name for p in media.iterdir())
