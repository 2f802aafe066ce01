"""Shared start-up for the atheris fuzzers in this folder (run by tests/test_fuzz.py, or by
hand: ``python tests/fuzz/fuzz_media.py -max_total_time=60``; libFuzzer's flags apply)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def run(test_one_input: Callable[[bytes], None], seeds: Callable[[Path], None]) -> None:
    """Write the seed corpus into the first folder named on the command line (when given and
    empty), then fuzz ``test_one_input`` until libFuzzer's limits stop it."""
    import atheris

    folders = [Path(a) for a in sys.argv[1:] if not a.startswith("-")]
    if folders:
        folders[0].mkdir(parents=True, exist_ok=True)
        if not any(folders[0].iterdir()):
            seeds(folders[0])
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
