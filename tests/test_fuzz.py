"""A bounded atheris run of each fuzzer (tests/fuzz/): a crash, a hang or an unexpected
exception fails the test with the input libFuzzer saved. ``make fuzz`` runs them longer
(CONSENTRY_FUZZ_SECONDS). Each run prints its executions; the corpus lives in a temporary
folder, so every run starts again from the seeds the fuzzer writes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris", reason="atheris (the dev extra) runs the fuzzers")

FUZZ = Path(__file__).resolve().parent / "fuzz"
SECONDS = int(os.environ.get("CONSENTRY_FUZZ_SECONDS", "3"))
# The decode path is slower per input (FFmpeg, PIL): it gets more of the budget.
SHARE = {"fuzz_media.py": 2.0, "fuzz_policy.py": 1.0, "fuzz_hashlists.py": 1.0}


@pytest.mark.parametrize("fuzzer", sorted(SHARE))
def test_fuzzer_finds_nothing(fuzzer: str, tmp_path: Path) -> None:
    seconds = max(1, round(SECONDS * SHARE[fuzzer]))
    corpus, artifacts = tmp_path / "corpus", tmp_path / "artifacts"
    artifacts.mkdir()
    cmd = [sys.executable, str(FUZZ / fuzzer), f"-max_total_time={seconds}", "-timeout=30",
           "-rss_limit_mb=3072", f"-artifact_prefix={artifacts}/", "-print_final_stats=1",
           str(corpus)]
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 300, env=env)
    found = sorted(p.name for p in artifacts.iterdir())
    tail = "\n".join(proc.stderr.splitlines()[-40:])
    assert proc.returncode == 0 and not found, f"{fuzzer} found {found}:\n{tail}"
    runs = re.search(r"Done (\d+) runs in (\d+) second", proc.stderr)
    assert runs, tail
    print(f"{fuzzer}: {runs.group(1)} executions in {runs.group(2)} s, nothing found")
