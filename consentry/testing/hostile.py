"""Bad input, made on the spot: each file is something a scanner meets in the wild.

Used by the tests (every case must give one clear error and never stop the batch) and
handy for checking a deployment by hand.
"""

from __future__ import annotations

import os
import struct
import zlib
from fractions import Fraction
from pathlib import Path

import numpy as np

from consentry.testing.samples import synthetic_scene, write_video


def png_bomb(path: Path, width: int = 40_000, height: int = 40_000) -> Path:
    """A tiny PNG whose header declares ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width * 3 + 1))  # one row; the rest is "missing"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def long_claiming_video(path: Path, hours: float = 10.0) -> Path:
    """A two-frame MP4 whose timestamps claim it lasts ``hours``."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(1, 1))
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1)
        for pts in (0, int(hours * 3600)):
            frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def truncated_jpeg(path: Path) -> Path:
    good = path.with_suffix(".full.jpg")
    synthetic_scene(1, (800, 600)).save(good, quality=90)
    data = good.read_bytes()
    good.unlink()
    path.write_bytes(data[: len(data) // 3])
    return path


def truncated_mp4(path: Path) -> Path:
    full = write_video(path.with_suffix(".full.mp4"), frames=60)
    data = full.read_bytes()
    full.unlink()
    path.write_bytes(data[: len(data) // 2])
    return path


def random_bytes(path: Path, size: int = 50_000, seed: int = 7) -> Path:
    path.write_bytes(np.random.default_rng(seed).bytes(size))
    return path


def write_hostile_set(folder: Path) -> dict[str, Path]:
    """Every bad-input case the scanner must survive, keyed by case name."""
    folder.mkdir(parents=True, exist_ok=True)
    cases: dict[str, Path] = {}
    cases["empty"] = folder / "empty.jpg"
    cases["empty"].write_bytes(b"")
    cases["truncated_jpeg"] = truncated_jpeg(folder / "truncated.jpg")
    cases["truncated_mp4"] = truncated_mp4(folder / "truncated.mp4")
    cases["random_bytes"] = random_bytes(folder / "random.jpg")
    cases["text"] = folder / "readme.txt"
    cases["text"].write_text("just some text, not media\n")
    cases["png_bomb"] = png_bomb(folder / "bomb.png")
    cases["long_video"] = long_claiming_video(folder / "ten-hours.mp4")
    loop_dir = folder / "loop"
    loop_dir.mkdir(exist_ok=True)
    (loop_dir / "back").symlink_to(loop_dir, target_is_directory=True)
    cases["symlink_loop_dir"] = loop_dir / "back"
    cases["symlink_loop_file"] = folder / "self-link.jpg"
    cases["symlink_loop_file"].symlink_to(cases["symlink_loop_file"].name)
    cases["fifo"] = folder / "pipe.jpg"
    os.mkfifo(cases["fifo"])
    return cases
