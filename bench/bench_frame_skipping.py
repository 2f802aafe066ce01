"""How many frames a video decode skips when the signals sample 1 frame a second: frames
decoded with skipping against a full decode, and the CPU seconds of each (all threads).

    .venv/bin/python bench/bench_frame_skipping.py ../shared/reference/threatexchange/tmk/sample-videos/*.mp4
"""

from __future__ import annotations

import argparse
import resource
from pathlib import Path

from consentry.media import video as video_media
from consentry.media.skipping import NotExact
from consentry.settings import Limits


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def decode(path: Path, per_second: float, skip: bool) -> tuple[int, int, float, str]:
    """(frames decoded, frames in the video, CPU seconds, note)."""
    with open(path, "rb") as fh, video_media.open_video(fh, "mp4", Limits()) as (container, info):
        step = max(1, int((info.fps or 25.0) / per_second))
        frames = video_media.iter_frames(container, info, Limits(),
                                         (lambda i: i % step == 0) if skip else None)
        started, note = _cpu(), ""
        try:
            for frame in frames:
                if frame.index % step == 0:
                    frame.rgb  # noqa: B018 - what a sampling signal costs too
        except NotExact as exc:
            note = f"not exact: {exc}"
        return frames.budget.decoded, frames.numbered, _cpu() - started, note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", nargs="+", type=Path)
    parser.add_argument("--per-second", type=float, default=1.0)
    args = parser.parse_args()
    totals = {True: [0, 0.0], False: [0, 0.0]}
    for path in args.videos:
        row = []
        for skip in (True, False):
            decoded, numbered, cpu, note = decode(path, args.per_second, skip)
            totals[skip][0] += decoded
            totals[skip][1] += cpu
            row.append(f"{'skip' if skip else 'full'} {decoded}/{numbered} {cpu:.2f} s {note}")
        print(f"{path.name}: " + "; ".join(row), flush=True)
    (skipped, skip_cpu), (full, full_cpu) = totals[True], totals[False]
    print(f"all: decoded {skipped:,} of {full:,} frames ({skipped / full:.0%}); "
          f"CPU {skip_cpu:.1f} s vs {full_cpu:.1f} s")


if __name__ == "__main__":
    main()
