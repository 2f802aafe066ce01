"""Scan settings: limits that keep hostile input from hurting us, and sampling rates."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

DB_ENV = "CONSENTRY_DB"


@dataclass(frozen=True)
class Limits:
    """Safe defaults; every one can be raised on the command line."""

    max_pixels: int = 100_000_000  # per image / per frame (a 40000x40000 bomb is 1.6e9)
    max_file_bytes: int = 4 * 1024**3
    max_duration_s: float = 4 * 3600.0  # videos claiming more are refused before decoding
    # Wall-clock budget for decoding one item: max_decode_s, plus decode_s_per_video_s for
    # each second of video decoded so far (a two-hour video that keeps decoding gets its
    # time; a decoder stuck on few frames is stopped after max_decode_s as before).
    max_decode_s: float = 300.0
    decode_s_per_video_s: float = 2.0
    max_frames: int = 200_000  # frames handed to signals (a video's sampled frames)
    max_decoded_frames: int = 10_000_000  # frames decoded (4 h at ~700 fps)
    # The worker watchdog (consentry.pipeline.workers): an item still running after this
    # many seconds (a decoder stuck inside one frame) is killed and recorded as an error.
    # 0 turns it off.
    max_item_s: float = 600.0
    # Address space of each worker process (RLIMIT_AS): one huge image fails alone with
    # "out of memory" instead of taking the machine. 6 GiB leaves a 24 GB machine room for
    # two workers and the main process; 0 = no cap.
    max_worker_memory: int = 6 * 1024**3


OptionsT = TypeVar("OptionsT")


@dataclass(frozen=True)
class ScanSettings:
    """What every signal of a scan shares. Each signal's own options are instances of its
    options dataclass (consentry.signals.options) in ``options``; a signal whose options are
    not given runs with its defaults."""

    limits: Limits = field(default_factory=Limits)
    signals: tuple[str, ...] | None = None  # None = every installed signal
    options: tuple[Any, ...] = ()
    fast_jpeg: bool = True  # PIL draft decode for hashing large JPEGs (see docs/performance.md)
    thumbnails: bool = False  # only made when a report is asked for
    # --skip-known: SHA-256 -> the stored item that the same signal versions already analysed;
    # such a file is read (to hash it) but not decoded again
    known_items: Mapping[str, int] | None = None
    # The policy's cascade (consentry.policy.cascade.Cascade): signals that run only when a
    # gate on earlier signals holds. None or empty: every signal runs on every item.
    cascade: Any = None
    # Someone is enrolled in the likeness registry: the analysis computes the descriptors of
    # each face track's best faces (batched). False: none are computed there (the likeness
    # matcher computes any it needs), so nobody's face is embedded without a reason.
    likeness_descriptors: bool = False
    # --segments: a video lasting at least segment_min_s is split into this many time
    # segments analysed in parallel and stitched into one item (consentry.pipeline.segments)
    segments: int = 1
    segment_min_s: float = 60.0

    def options_for(self, cls: type[OptionsT]) -> OptionsT:
        for given in self.options:
            if type(given) is cls:
                return given
        return cls()


def default_db_url() -> str:
    import platformdirs  # only when no --db or CONSENTRY_DB is given

    data_dir = Path(platformdirs.user_data_dir("consentry", appauthor=False))
    return f"sqlite:///{data_dir / 'consentry.db'}"


def resolve_db_url(cli_value: str | None) -> str:
    return cli_value or os.environ.get(DB_ENV) or default_db_url()
