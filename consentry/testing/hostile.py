"""Bad input, made on the spot: each file is something a scanner meets in the wild.

Used by the tests (every case must give one clear error and never stop the batch) and
handy for checking a deployment by hand.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

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


# -- names FFmpeg would read as protocols ------------------------------------------------

def protocol_names(other: str) -> list[str]:
    """File names that FFmpeg, given a name, reads as a protocol: another file (``other``,
    a name relative to the same folder), standard input, a slice of a file, the network."""
    return [
        f"concat:{other}|{other}",
        "pipe:0",
        f"subfile,,start,0,end,0,,:{other}",
        "http:127.0.0.1:9",
        f"file:{other}",
        f"async:{other}",
    ]


def write_protocol_named(folder: Path, content: Path, other: str) -> list[Path]:
    """Copies of the video ``content`` under each of ``protocol_names(other)`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    data = content.read_bytes()
    out = []
    for name in protocol_names(other):
        path = folder / name
        path.write_bytes(data)
        out.append(path)
    return out


# -- names that are not text ----------------------------------------------------------------

HOSTILE_NAME_BYTES = [
    b"latin1-caf\xe9.png",  # not UTF-8
    b"bad-\xff\xfe-bytes.png",
    b"line\nbreak.png",
    b"escape-\x1b[31mred\x1b[0m-\x1b]0;title\x07.png",  # colour and window-title sequences
    b"carriage\rreturn.png",
    b"back\\slash.png",
]


def write_hostile_names(folder: Path) -> list[Path]:
    """Small PNGs whose names are not valid UTF-8 or hold newlines and terminal escapes."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, raw in enumerate(HOSTILE_NAME_BYTES):
        path = Path(os.fsdecode(os.fsencode(folder) + b"/" + raw))
        synthetic_scene(40 + i, (96, 72)).save(path, format="PNG")
        out.append(path)
    return out


# -- media that hides an image after its first frame -----------------------------------------

ANIMATED_FORMATS = ("GIF", "PNG", "WEBP", "TIFF")


def hide_in_frames(path: Path, hidden: Image.Image, fmt: str, *, position: int = 1,
                   frames: int = 3) -> Path:
    """An animated GIF/APNG/WebP or multi-page TIFF whose frame (page) ``position`` is
    ``hidden`` and whose other frames are unrelated scenes."""
    size = hidden.size
    images = [synthetic_scene(70 + i, size) for i in range(frames)]
    images[position] = hidden.convert("RGB")
    options: dict[str, object] = {"save_all": True, "append_images": images[1:]}
    if fmt in ("GIF", "PNG", "WEBP"):
        options |= {"duration": 300, "loop": 0}
    if fmt == "WEBP":
        options |= {"quality": 95}
    images[0].save(path, format=fmt, **options)
    return path


def still_as_video(path: Path, still: Image.Image, *, seconds: float = 3.0, fps: int = 25,
                   lead_in: float = 1.0) -> Path:
    """A banked photo turned into a short H.264 video: ``lead_in`` seconds of an unrelated scene,
    then the photo until the end (even dimensions, as H.264 wants)."""
    from fractions import Fraction

    import av
    import numpy as np

    width, height = (still.size[0] // 2) * 2, (still.size[1] // 2) * 2
    photo = np.asarray(still.convert("RGB").resize((width, height)))
    other = np.asarray(synthetic_scene(91, (width, height)))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps, 1))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(int(seconds * fps)):
            rgb = other if i < lead_in * fps else photo
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


# -- sizes declared without the data ----------------------------------------------------------

def jpeg_claiming_size(path: Path, width: int = 9000, height: int = 9000) -> Path:
    """A small real JPEG whose frame header is rewritten to declare ``width`` x ``height``."""
    buf = io.BytesIO()
    synthetic_scene(5, (64, 48)).save(buf, format="JPEG", quality=80)
    data = bytearray(buf.getvalue())
    at = data.find(b"\xff\xc0")  # baseline SOF0: length(2) precision(1) height(2) width(2)
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    path.write_bytes(bytes(data))
    return path


def tiff_page_without_size(path: Path) -> Path:
    """A two-page TIFF whose second page has no ImageWidth tag (found by the media fuzzer:
    PIL raised TypeError while counting pages)."""
    buf = io.BytesIO()
    pages = [synthetic_scene(i, (64, 48)) for i in range(2)]
    pages[0].save(buf, format="TIFF", save_all=True, append_images=pages[1:])
    data = bytearray(buf.getvalue())
    width_tag = b"\x00\x01\x04\x00\x01\x00\x00\x00"  # tag 256, LONG, count 1 (little-endian)
    second = data.find(width_tag, data.find(width_tag) + 1)
    data[second : second + 2] = b"\x99\x99"  # an unknown private tag instead
    path.write_bytes(bytes(data))
    return path


def gif_with_oversized_frame(path: Path, side: int = 30_000) -> Path:
    """A 64x48 GIF (under 1 KB) whose second frame declares a ``side`` x ``side`` canvas with
    "restore to background" disposal: PIL allocated that canvas while seeking to the frame,
    before its size could be checked (found by fuzz_media, 31333x27208 from 5.7 KB)."""
    buf = io.BytesIO()
    synthetic_scene(2, (64, 48)).convert("P").save(buf, format="GIF")
    first = buf.getvalue().rstrip(b"\x3b")  # the trailer goes after the second frame
    control = b"\x21\xf9\x04" + bytes([2 << 2]) + b"\x0a\x00\x00\x00"  # disposal 2, 100 ms
    descriptor = b"\x2c" + struct.pack("<4H", 0, 0, side, side) + b"\x00"
    pixels = b"\x02\x02\x44\x01\x00"  # LZW: minimum code size 2, one short sub-block
    path.write_bytes(first + control + descriptor + pixels + b"\x3b")
    return path


def mp4_of_unknown_codec(path: Path) -> Path:
    """An MP4 whose video sample entry names a codec FFmpeg does not know (found by the
    media fuzzer: the stream then has no codec context)."""
    full = write_video(path.with_suffix(".full.mp4"), frames=10, size=(64, 48))
    data = bytearray(full.read_bytes())
    full.unlink()
    at = data.find(b"avc1", data.find(b"stsd"))
    data[at : at + 4] = b"zzzz"
    path.write_bytes(bytes(data))
    return path


def mkv_with_non_utf8_tags(path: Path) -> Path:
    """A Matroska clip whose title tags are bytes that are not UTF-8 (found by the media
    fuzzer: PyAV raised UnicodeDecodeError while opening it)."""
    import av

    marker = b"TTTTTTTT"
    with av.open(str(path), "w", format="matroska") as container:
        container.metadata["title"] = marker.decode()
        stream = container.add_stream("libx264", rate=Fraction(4, 1))
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.metadata["title"] = marker.decode()
        for _ in range(4):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    path.write_bytes(path.read_bytes().replace(marker, b"\xba" * len(marker)))
    return path


# -- policy files ---------------------------------------------------------------------------

def deep_policy(depth: int = 5000) -> str:
    """A policy whose ``when`` nests ``any`` ``depth`` levels deep (inline tables)."""
    inner = "{any = [" * depth + '{bank = ["ncii"]}' + "]}" * depth
    return (f'version = 1\n[[rule]]\nid = "deep"\naction = "block"\nmessage = "deep"\n'
            f"when = {inner}\n")


def many_rules_policy(rules: int = 100_000) -> str:
    head = "version = 1\n"
    body = "".join(f'[[rule]]\nid = "r{i}"\naction = "review"\nmessage = "m"\n'
                   f'when = {{bank = ["ncii"]}}\n' for i in range(rules))
    return head + body
