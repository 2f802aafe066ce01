"""The Ray engine on a small local cluster (two CPUs, loopback): the same item JSON as the local
engine, a backfill across the cluster that survives one of its workers being killed, a long
video's segments spread over the actors, and a watchdog that stops only what makes no progress."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from consentry.actions.sinks import ListSink
from consentry.pipeline.runner import Analysis
from consentry.pipeline.scan import Pipeline
from consentry.settings import Limits, ScanSettings
from consentry.signals import catalog
from consentry.store import backfill as store
from consentry.store.db import open_database
from consentry.testing.samples import synthetic_scene, write_samples
from tests.conftest import poll

ray = pytest.importorskip("ray")

TIMING_FIELDS = ("item_id", "scan_id")  # what differs between two scans of the same files


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A Ray cluster on this machine with two CPUs (two actors); its address."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             _node_ip_address="127.0.0.1", configure_logging=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _by_path(reports: list) -> dict[str, dict]:  # type: ignore[type-arg]
    out = {}
    for report in reports:
        item = report.as_json()
        out[item["path"]] = {k: v for k, v in item.items() if k not in TIMING_FIELDS}
    return out


def test_ray_gives_the_local_engines_item_json(cluster: str, tmp_path: Path) -> None:
    from consentry.pipeline.ray_engine import RayAnalysis

    write_samples(tmp_path / "media")  # images, an animated GIF, a video, a text file
    # Every installed signal. No cap on the local workers' address space: they fork from this
    # process, which maps Ray's shared memory.
    settings = ScanSettings(limits=Limits(max_worker_memory=0))
    classes = catalog.resolve(None)
    db = open_database(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        local, remote = ListSink(), ListSink()
        Pipeline(db).scan(Analysis([tmp_path / "media"], settings, 2, classes), [local])
        Pipeline(db).scan(RayAnalysis([tmp_path / "media"], settings, classes, actors=2), [remote])
    finally:
        db.close()
    assert len(local.reports) == len(remote.reports) == 14
    assert [r.path for r in local.reports] == [r.path for r in remote.reports]  # same order
    assert _by_path(remote.reports) == _by_path(local.reports)


def _actor_pids() -> list[int]:
    """Processes of Ray actors analysing for us (Ray names them after the actor class)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.startswith(b"ray::AnalyserActor"):
            pids.append(int(proc.name))
    return pids


def test_backfill_across_the_cluster_survives_a_killed_worker(cluster: str, tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    n = 400
    for i in range(n):
        synthetic_scene(i, (64, 48)).save(media / f"img-{i:04d}.png")
    url = f"sqlite:///{tmp_path / 'consentry.db'}"
    db = open_database(url)
    cmd = [sys.executable, "-m", "consentry", "--db", url, "backfill", "run", str(media),
           "--signals", "hash", "--engine", "ray", "--address", cluster, "--workers", "2",
           "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    killed = None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            run = store.get_run(db, 1)
            if run is not None and run.manifest_complete and store.counts(db, 1)["done"] >= 40:
                pids = _actor_pids()
                if pids:
                    killed = pids[0]
                    os.kill(killed, signal.SIGKILL)
                    break
            time.sleep(0.05)
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert killed is not None, "the run ended before a worker could be killed"
    assert proc.returncode == 0, err.decode()[-3000:]
    counts = store.counts(db, 1)
    assert counts == {"done": n, "pending": 0, "running": 0, "error": 0}
    entries = list(store.entries(db, 1))
    db.close()
    item_ids = [e.item_id for e in entries]
    assert None not in item_ids and len(set(item_ids)) == n  # nothing lost, nothing doubled
    lines = out.decode().splitlines()
    assert all(line.startswith("{") for line in lines), [x for x in lines if x[:1] != "{"]
    assert len(lines) == n
    assert all(e.result and e.result["status"] == "ok" for e in entries)


def test_index_shards_on_ray_actors_answer_as_one_index(cluster: str, tmp_path: Path) -> None:
    import numpy as np

    from consentry.pipeline.ray_shards import ray_sharded_index
    from consentry.signals.hashing.shards import ShardedIndex

    rng = np.random.default_rng(3)
    words = rng.integers(0, 2**64, size=(20_000, 4), dtype=np.uint64)
    payload = np.arange(20_000, dtype=np.int64)
    queries = words[:200].copy()
    queries[:, 1] ^= np.uint64(0xFF)  # 8 bits off each
    local = ShardedIndex.build(words, payload, 2, "prefix")
    local.save(tmp_path / "idx")
    remote = ray_sharded_index(tmp_path / "idx")
    expected = local.search(queries)
    assert len(expected[0]) >= 200
    for a, b in zip(remote.search(queries), expected, strict=True):
        np.testing.assert_array_equal(a, b)


def test_segments_of_a_video_spread_over_the_actors_and_stitch_to_the_unsplit_item(
        cluster: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from consentry.pipeline.analysis import Analyser
    from consentry.pipeline.ray_engine import RayEngine
    from consentry.signals.options import HashOptions
    from consentry.testing.samples import write_video

    clip = write_video(tmp_path / "clip.mp4", frames=150, fps=25, size=(160, 120))
    image = tmp_path / "still.png"
    synthetic_scene(3, (96, 64)).save(image)
    signals = ("hash", "faces")  # faces do not split: one more task over the whole video
    settings = ScanSettings(signals=signals, options=(HashOptions(video_fps=5.0),),
                            segments=4, segment_min_s=1.0)
    classes = catalog.resolve(signals)
    engine = RayEngine(settings, classes, actors=2)
    try:
        with caplog.at_level("INFO", logger="consentry.pipeline.ray_engine"):
            reports = list(engine.analyse_files([clip, image]))
    finally:
        engine.close()
    unsplit = replace(settings, segments=1)
    assert [r.as_json() for r in reports] == \
        [Analyser(unsplit, classes).analyse(p).as_json() for p in (clip, image)]
    assert len(reports[0].as_json()["vpdq"]) == 30
    assert f"{clip}: 5 tasks on 2 actors" in caplog.messages


def test_a_long_item_that_keeps_decoding_is_not_stopped_by_the_watchdog(
        cluster: str, tmp_path: Path) -> None:
    """``--max-item-seconds`` on Ray means "without progress", as on the local engine: a video
    whose analysis takes several times the limit but decodes all along is not killed."""
    from consentry.pipeline.ray_engine import RayEngine
    from consentry.signals.options import HashOptions
    from consentry.testing.samples import write_video

    clip = write_video(tmp_path / "clip.mp4", frames=2500, fps=25, size=(480, 360))
    limit = 1.0  # the actor beats on every frame (~2 ms here)
    settings = ScanSettings(signals=("hash",), options=(HashOptions(video_fps=25.0),),
                            limits=Limits(max_item_s=limit))
    classes = catalog.resolve(("hash",))
    engine = RayEngine(settings, classes, actors=1)
    try:
        started = time.monotonic()
        (report,) = engine.analyse_files([clip])
        took = time.monotonic() - started
    finally:
        engine.close()
    assert report.status.value == "ok", report.error
    # the case under test: the item outlived the limit (2,500 vPDQ frames take ~4 s here)
    assert took > 2 * limit, f"the analysis took {took:.1f} s: too fast to test the watchdog"
    assert len(report.as_json()["vpdq"]) == 2500


def test_service_jobs_run_on_the_cluster_with_actors_kept_across_batches(
        cluster: str, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    """``consentry serve --engine ray``: the job worker hands each batch of uploads to Ray
    actors it keeps (models load once), and a job's result is the local scan's."""
    pytest.importorskip("fastapi")
    import threading

    from fastapi.testclient import TestClient

    from consentry.service import ServiceSettings, create_app
    from consentry.service.jobs import JobRunner
    from consentry.store import keys
    from tests.conftest import THREATEXCHANGE, need

    photo = need(THREATEXCHANGE / "pdq" / "data" / "bridge-mods" / "aaa-orig.jpg")
    db = open_database(f"sqlite:///{tmp_path / 'c.db'}")
    settings = ServiceSettings(spool_dir=tmp_path / "spool", rate_per_minute=0, job_poll_s=0.02,
                               engine="ray", ray_address=cluster, scan_workers=2)
    runner = JobRunner(db, settings)
    thread = threading.Thread(target=runner.run_forever, daemon=True)
    before = set(_actor_pids())
    token, _ = keys.create(db, "submit", "submitter", "tester")
    headers = {"Authorization": f"Bearer {token}"}
    results, actors = [], []
    try:
        thread.start()
        with TestClient(create_app(db, settings)) as client:
            for _ in range(2):  # two batches
                with open(photo, "rb") as f:
                    r = client.post("/v1/scan?wait=60", files={"file": f},
                                    data={"signals": "hash"}, headers=headers)
                assert r.status_code == 200, r.text
                results.append(r.json()["result"])
                actors.append(_started(before, 2))
    finally:
        runner.stop.set()
        thread.join(30)
        db.close()
    assert len(actors[0]) == 2 and actors[1] == actors[0]  # the same two actors, both batches
    cli = run_cli("scan", "--json", "--signals", "hash", str(photo)).lines[0]
    skip = {"path", "item_id", "scan_id", "job_id", "external_id"}
    for result in results:
        assert {k: v for k, v in result.items() if k not in skip} == \
            {k: v for k, v in cli.items() if k not in skip}
    assert _gone(actors[0]), "the job worker left its actors running after it stopped"


def _started(before: set[int], n: int, wait_s: float = 60.0) -> set[int]:
    """Our actor processes once ``n`` are up (or what is up at the deadline): an answer can come
    from the first actor while the second is still starting, which on a loaded machine takes
    seconds."""
    return poll(lambda: set(_actor_pids()) - before, lambda pids: len(pids) >= n, wait_s)


def _gone(pids: set[int], wait_s: float = 10.0) -> bool:
    """The processes end (Ray kills a closed engine's actors asynchronously)."""
    return not poll(lambda: pids & set(_actor_pids()), lambda alive: not alive, wait_s)
