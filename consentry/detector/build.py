"""``train-detector`` end to end: prepare data, train, export to ONNX, choose the operating point.

The threshold and the track aggregation are chosen on the VALIDATION split only (data.splits)
and stored beside the model (``<model>.json``); the test split is never touched here.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

from consentry.detector.data import prepare, splits
from consentry.detector.scoring import MODEL_NAME


def default_out() -> Path:
    return Path(__file__).resolve().parent / "models"


def reproduce(shared: Path, cache: Path, out: Path | None, *, minutes: float, steps: int, size: int,
              batch_pairs: int, lr: float = 2e-4, val_every: int = 100, smoke: bool = False,
              log=print) -> dict:
    from consentry.detector.export import export
    from consentry.detector.train import Recipe, train

    out = out or default_out()
    if smoke:
        cache = cache / "smoke"
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    if smoke or not (cache / "train.json").is_file():
        log(f"preparing data in {cache}")
        counts = prepare(shared, cache, limit=40 if smoke else None, log=log)
    else:
        counts = {"train": len(json.loads((cache / "train.json").read_text())), "reused_cache": True}
    timings["prepare_min"] = round((time.monotonic() - t0) / 60, 1)
    recipe = Recipe(size=size, lr=lr, batch_pairs=2 if smoke else batch_pairs, steps=2 if smoke else steps,
                    max_minutes=minutes, val_every=1 if smoke else val_every)
    t1 = time.monotonic()
    run_dir = cache / "run"
    summary = train(cache, run_dir, recipe, log=log)
    timings["train_min"] = round((time.monotonic() - t1) / 60, 1)
    onnx_path = export(run_dir / "best.pt", out / MODEL_NAME, size)
    t2 = time.monotonic()
    op = calibrate(shared, onnx_path, smoke=smoke)
    timings["calibrate_min"] = round((time.monotonic() - t2) / 60, 1)
    timings["total_min"] = round((time.monotonic() - t0) / 60, 1)
    meta = {"size": size, **op, "recipe": asdict(recipe), "validation_history": summary["history"],
            "train_faces": summary["train_faces"], "timings": timings,
            "method": "self-blended images (real faces only), EfficientNet-Lite0 ImageNet init"}
    onnx_path.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    return {"model": str(onnx_path), "data": counts, **op, "timings": timings,
            "best_validation": max((h["selection"] or 0 for h in summary["history"]), default=None)}


def calibrate(shared: Path, onnx_path: Path, smoke: bool = False) -> dict:
    """Aggregation and threshold chosen on the validation split (never the test split)."""
    from consentry.detector.eval import choose_operating_point, report, score_rows
    from consentry.detector.items import ItemScorer
    from consentry.detector.scoring import Scorer

    sp = splits(shared)
    val_rows = sp["val_dfdc"] + sp["val_video"]
    if smoke:
        val_rows = sp["val_dfdc"][:4] + [r for r in sp["val_dfdc"] if r.label == "FAKE"][:4]
    scored = score_rows(val_rows, ItemScorer(Scorer(onnx_path)))
    op = choose_operating_point(scored)
    val = report(scored, op["threshold"], op["aggregation"], op["top_k"], n_boot=200)
    op["validation"] = {"frame_auc": val["frame_auc"], "video_auc": val["video_auc"],
                        "by_group": {k: {"frame_auc": v["frame"]["auc"],
                                         "video_auc": v["video"]["auc"] if v["video"] else None}
                                     for k, v in val["by_group"].items()}}
    return op
