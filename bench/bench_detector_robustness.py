"""Robustness of the manipulation detector to what platforms do to a picture (slow: minutes).

Real faces - DFDC REAL test crops (deepfake-dev, held out from training and validation) and
scikit-image's astronaut photo - and, for AUC, DFDC FAKE test crops, each through the same 20
variants (JPEG q30-95, greyscale, resizing, crop margins +-15%, small rotations, blur,
brightness, mirror, screenshot-style rescales). Every variant is written to a temporary file and
scored by the scan's own analysis (consentry.detector.scan_scores, as ``consentry scan
--signals faces,manipulation``). Reported per model: share of real variants flagged at the
model's operating point (target <= 2%), the spread of a real face's score over its variants
(standard deviation, target <= 0.05), and AUC per variant kind (real vs fake, same variant).
Reporting only: nothing here chooses a threshold. ``--split val`` takes the faces from the
validation split instead, for choices made on this measure (mirror averaging, docs/detector.md);
a report reads the test split.

    .venv/bin/python -m bench.bench_detector_robustness [--faces 60] [--model A.onnx --model B.onnx]
        [--split val] [--flip | --no-flip]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from consentry.detector import DEFAULT_SHARED
from consentry.detector.data import Row, splits
from consentry.detector.metrics import roc_auc
from consentry.detector.scan_scores import score_rows
from consentry.detector.scoring import model_path, read_model_info


def _jpeg(q: int) -> Callable[[Image.Image], tuple[Image.Image, dict]]:
    return lambda im: (im, {"format": "JPEG", "quality": q})


def _margin(frac: float) -> Callable[[Image.Image], tuple[Image.Image, dict]]:
    """Crop (frac < 0) or pad with the edge colour (frac > 0) by |frac| of the side in total."""
    def apply(im: Image.Image) -> tuple[Image.Image, dict]:
        w, h = im.size
        if frac < 0:
            d = int(w * -frac / 2), int(h * -frac / 2)
            return im.crop((d[0], d[1], w - d[0], h - d[1])), {"format": "PNG"}
        pad = int(w * frac / 2), int(h * frac / 2)
        arr = np.pad(np.asarray(im), ((pad[1], pad[1]), (pad[0], pad[0]), (0, 0)), mode="edge")
        return Image.fromarray(arr), {"format": "PNG"}
    return apply


def _resize(f: float) -> Callable[[Image.Image], tuple[Image.Image, dict]]:
    return lambda im: (im.resize((max(8, int(im.width * f)), max(8, int(im.height * f))), Image.BICUBIC),
                       {"format": "JPEG", "quality": 90})


def _screenshot(f: float, gamma: float) -> Callable[[Image.Image], tuple[Image.Image, dict]]:
    def apply(im: Image.Image) -> tuple[Image.Image, dict]:
        lut = [round(255 * (i / 255) ** gamma) for i in range(256)] * 3
        shot = im.point(lut).resize((int(im.width * f), int(im.height * f)), Image.BILINEAR)
        return shot, {"format": "PNG"}
    return apply


VARIANTS: dict[str, tuple[str, Callable[[Image.Image], tuple[Image.Image, dict]]]] = {
    "jpeg30": ("jpeg", _jpeg(30)), "jpeg50": ("jpeg", _jpeg(50)), "jpeg70": ("jpeg", _jpeg(70)),
    "jpeg95": ("jpeg", _jpeg(95)),
    "grey": ("greyscale", lambda im: (ImageOps.grayscale(im).convert("RGB"), {"format": "PNG"})),
    "grey-jpeg60": ("greyscale", lambda im: (ImageOps.grayscale(im).convert("RGB"),
                                             {"format": "JPEG", "quality": 60})),
    "resize0.25": ("resize", _resize(0.25)), "resize0.5": ("resize", _resize(0.5)),
    "resize2": ("resize", _resize(2.0)),
    "crop15": ("margin", _margin(-0.15)), "crop8": ("margin", _margin(-0.08)),
    "pad8": ("margin", _margin(0.08)), "pad15": ("margin", _margin(0.15)),
    "rot-8": ("rotation", lambda im: (im.rotate(-8, Image.BILINEAR), {"format": "PNG"})),
    "rot+8": ("rotation", lambda im: (im.rotate(8, Image.BILINEAR), {"format": "PNG"})),
    "blur1": ("blur", lambda im: (im.filter(ImageFilter.GaussianBlur(1)), {"format": "PNG"})),
    "bright1.2": ("colour", lambda im: (ImageEnhance.Brightness(im).enhance(1.2), {"format": "PNG"})),
    "mirror": ("mirror", lambda im: (ImageOps.mirror(im), {"format": "PNG"})),
    "screenshot0.7": ("screenshot", _screenshot(0.7, 0.9)),
    "screenshot1.5": ("screenshot", _screenshot(1.5, 1.1)),
}


def faces(n: int, seed: int = 0, split: str = "test") -> list[tuple[str, str, Image.Image]]:
    """(name, label, image): n REAL and n FAKE DFDC crops of the split and the astronaut photo (REAL)."""
    from skimage import data

    crops = splits(DEFAULT_SHARED)[f"{split}_dfdc"]
    rng = random.Random(seed)
    out = [("astronaut", "REAL", Image.fromarray(data.astronaut()))]
    for label in ("REAL", "FAKE"):
        rows = [r for r in crops if r.label == label]
        out += [(r.file.stem, label, Image.open(r.file).convert("RGB")) for r in rng.sample(rows, n)]
    return out


def write_variants(folder: Path, pictures: list[tuple[str, str, Image.Image]]) -> list[tuple[Row, str, str]]:
    rows = []
    for name, label, im in pictures:
        for variant, (_kind, make) in VARIANTS.items():
            img, fmt = make(im)
            ext = ".jpg" if fmt["format"] == "JPEG" else ".png"
            path = folder / f"{label}_{name}_{variant}{ext}"
            img.save(path, **fmt)
            rows.append((Row(path, label, "", "robustness", "image"), name, variant))
    return rows


def measure(model: Path, rows: list[tuple[Row, str, str]], flip: bool | None = None) -> dict:
    info = read_model_info(model)
    scored = score_rows([r for r, _, _ in rows], model=model, flip=flip)
    table = [(name, variant, r.label, s.scores.signal_score if s.scores else None)
             for (r, name, variant), s in zip(rows, scored, strict=True)]
    reals = [t for t in table if t[2] == "REAL" and t[3] is not None]
    by_face: dict[str, list[float]] = {}
    for name, _v, _l, score in reals:
        by_face.setdefault(name, []).append(score)
    stds = np.array([np.std(v) for v in by_face.values()])
    by_kind = {}
    for kind in sorted({k for k, _ in VARIANTS.values()}):
        sel = [t for t in table if VARIANTS[t[1]][0] == kind and t[3] is not None and t[0] != "astronaut"]
        by_kind[kind] = roc_auc(np.array([t[2] == "FAKE" for t in sel]), np.array([t[3] for t in sel]))
    astro = {v: s for n, v, _l, s in table if n == "astronaut"}
    return {"model": str(model), "threshold": info.threshold,
            "flip": info.flip if flip is None else flip,
            "real_variants": len(reals), "unscored": sum(t[3] is None for t in table),
            "real_flagged_share": float(np.mean([t[3] >= info.threshold for t in reals])),
            "real_score_std_median": float(np.median(stds)),
            "real_score_std_p90": float(np.percentile(stds, 90)),
            "real_faces_with_std_over_0.05": float(np.mean(stds > 0.05)),
            "auc_by_variant_kind": by_kind, "astronaut": astro,
            "astronaut_flagged": [v for v, s in astro.items() if s is not None and s >= info.threshold]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=int, default=60, help="REAL and FAKE DFDC test crops each")
    ap.add_argument("--model", type=Path, action="append", help="ONNX model(s); default: the shipped one")
    ap.add_argument("--split", choices=("test", "val"), default="test",
                    help="DFDC crops from the test split (reports) or validation (choices)")
    ap.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                    help="mirror averaging on or off (default: as stored beside each model)")
    ap.add_argument("--out", type=Path, help="also write the results here (JSON)")
    args = ap.parse_args()
    models = args.model or [model_path()]
    with tempfile.TemporaryDirectory() as tmp:
        rows = write_variants(Path(tmp), faces(args.faces, split=args.split))
        results = [{"split": args.split, **measure(m, rows, args.flip)} for m in models]
    for res in results:
        print(json.dumps(res, indent=1))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
