"""How far reduced-scale JPEG decoding moves PDQ from Meta's C++ on a full RGB decode.

    .venv/bin/python -m bench.bench_pdq_drift [--images 98]

Images: JPEGs (quality 70-95) of random crops of real photographs, resized so the short side
is 1024-3000 px (the sizes the scan decodes at reduced scale): Meta's 4032x3024 phone photo and
1600x1004 bridge from ../shared/reference/threatexchange, and scikit-image's public-domain
photos (hubble, retina, coffee, astronaut, motorcycle). Plus synthetic worst cases: a screen of
text and checkerboards. Hashes of quality < 50 are left out (PDQ's own advice). For each
scale, two ways to downsample the reduced plane: Meta's filter sized for the reduced plane
("resized"), and Meta's full-size filter summed over each reduced pixel ("full geometry",
what consentry.signals.hashing.pdq does).
"""

from __future__ import annotations

import argparse
import io
import statistics
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image, ImageDraw, ImageOps

from consentry.signals.hashing import pdq

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference" / "threatexchange" / "pdq" / "data"
SCALES = (2, 4, 8)


def _sources() -> list[Image.Image]:
    import skimage

    data = Path(skimage.__file__).parent / "data"
    photos = [ImageOps.exif_transpose(Image.open(REFERENCE / "reg-test-input/exif-rotn/exif-rotn-1.jpg")),
              Image.open(REFERENCE / "bridge-mods/aaa-orig.jpg")]
    photos += [Image.open(data / name) for name in ("hubble_deep_field.jpg", "retina.jpg", "coffee.png",
                                                    "astronaut.png", "motorcycle_left.png")]
    return [p.convert("RGB") for p in photos]


def _jpeg(img: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def photo_variants(count: int, seed: int = 5) -> Iterator[bytes]:
    rng = np.random.default_rng(seed)
    sources = _sources()
    for i in range(count):
        src = sources[i % len(sources)]
        w, h = int(src.width * rng.uniform(0.4, 1.0)), int(src.height * rng.uniform(0.4, 1.0))
        x, y = int(rng.integers(0, src.width - w + 1)), int(rng.integers(0, src.height - h + 1))
        crop = src.crop((x, y, x + w, y + h))
        scale = int(rng.integers(1024, 3001)) / min(crop.size)
        crop = crop.resize((int(crop.width * scale), int(crop.height * scale)), Image.Resampling.BICUBIC)
        yield _jpeg(crop, int(rng.integers(70, 96)))


def worst_cases() -> dict[str, bytes]:
    screen = Image.new("RGB", (1920, 1080), "white")
    draw = ImageDraw.Draw(screen)
    rng = np.random.default_rng(1)
    for _ in range(60):
        draw.text((int(rng.integers(0, 1620)), int(rng.integers(0, 1060))),
                  "Lorem ipsum dolor sit amet " * 2, fill=(0, 0, 0))
    out = {"screen of text": _jpeg(screen, 90)}
    yy, xx = np.mgrid[0:1080, 0:1920]
    for period in (12, 16, 24):
        board = ((xx // period + yy // period) % 2) * 127.0 + xx * 0.05 + yy * 0.08
        out[f"checkerboard {period} px"] = _jpeg(Image.fromarray(np.clip(board, 0, 255).astype(np.uint8)), 90)
    return out


def drifts(data: bytes) -> dict[str, int] | None:
    full = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    bits, quality = pdqhash.compute(full)
    if quality < 50:
        return None
    reference = pdq.bits_to_hex(bits)
    out = {}
    for scale in SCALES:
        img = Image.open(io.BytesIO(data))
        img.draft("L", (img.width // scale, img.height // scale))
        plane = np.asarray(img)
        out[f"1/{scale} resized"] = pdq.distance(reference, pdq.from_luma(plane).hex)
        out[f"1/{scale} full geometry"] = pdq.distance(reference, pdq.from_luma(plane, full.shape[:2]).hex)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=98)
    args = parser.parse_args()
    rows = [d for data in photo_variants(args.images) if (d := drifts(data)) is not None]
    keys = list(rows[0])
    print(f"| photo JPEGs ({len(rows)}, short side 1024-3000 px) | median | 95th pct | max |")
    print("|---|---:|---:|---:|")
    for key in keys:
        values = sorted(r[key] for r in rows)
        p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
        print(f"| {key} | {statistics.median(values):g} | {p95} | {values[-1]} |")
    print()
    print("| worst case (1920x1080) | " + " | ".join(keys) + " |")
    print("|---|" + "---:|" * len(keys))
    for name, data in worst_cases().items():
        d = drifts(data)
        print(f"| {name} | " + (" | ".join(str(d[k]) for k in keys) if d else "quality < 50") + " |")


if __name__ == "__main__":
    main()
