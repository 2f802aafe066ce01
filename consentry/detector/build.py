"""``train-detector`` end to end: prepare data, train, export to ONNX, choose the operating point.

The threshold and the track aggregation are chosen on the VALIDATION split only (data.splits)
and stored beside the model (``<model>.json``); the test split is never touched here.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from consentry.detector.data import splits
from consentry.detector.scoring import FIXED_AGGREGATION, MODEL_NAME

if TYPE_CHECKING:
    from consentry.detector.train_tail import TailRecipe


def default_out() -> Path:
    return Path(__file__).resolve().parent / "models"


# 4: eight view sets, mirror averaging, median aggregation; 3: four view sets (docs/detector.md)
MODEL_VERSION = "4"


def method(recipe: TailRecipe, flip: bool = False) -> str:
    """What the model JSON says of how it was made (from the recipe it was trained with)."""
    views = f"{recipe.view_sets} view sets" if recipe.view_sets > 1 else "one view set"
    avg = f", an EMA of the weights (decay {recipe.ema:g})" if recipe.ema else ""
    if recipe.consistency:
        avg += (f", a consistency term (weight {recipe.consistency:g}) on one face's logits in two "
                "view sets")
    kept = "the last weights kept" if recipe.keep == "last" else "the best validation checkpoint kept"
    return (f"EfficientNet-Lite0 (ImageNet init), stem and blocks 0-{recipe.train_from - 1} frozen, "
            f"blocks {recipe.train_from}-15 + head fine-tuned on labelled DFDC fakes and self-blended "
            f"real faces beside real faces ({views}{avg}; {kept}), platform augmentations on both "
            "classes, Platt calibration on validation"
            + ("; each face scored with its mirror image and the two averaged" if flip else ""))


def reproduce(shared: Path, cache: Path, out: Path | None, *, minutes: float, epochs: float, size: int,
              batch: int, lr: float = 3e-4, val_every: int = 60, device: str = "cpu",
              train_from: int = 11, ema: float = 0.995, keep: str = "last", fake_weight: float = 1.0,
              view_sets: int = 8, consistency: float = 0.0, aggregation: str | None = FIXED_AGGREGATION,
              flip: bool = True, smoke: bool = False, log=print) -> dict:
    from consentry.detector.export import export
    from consentry.detector.features import FAKE_VIEWS, build_cache, prepare_sources, shards_folder, view_keys
    from consentry.detector.train_tail import TailRecipe, train_tail

    out = out or default_out()
    if smoke:
        cache = cache / "smoke"
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    counts = {}
    for seed in range(view_sets):
        counts[f"views_seed{seed}"] = build_cache(shared, cache, size=size, seed=seed,
                                                  limit=1 if smoke else None, log=log)
    timings["prepare_min"] = round((time.monotonic() - t0) / 60, 1)
    recipe = TailRecipe(size=size, epochs=epochs, batch=8 if smoke else batch, lr=lr,
                        val_every=1 if smoke else val_every, max_minutes=minutes, device=device,
                        train_from=train_from, ema=ema, keep=keep, fake_weight=fake_weight,
                        view_sets=view_sets, consistency=consistency)
    t1 = time.monotonic()
    run_dir = cache / run_folder(recipe)
    sources = prepare_sources(shared, cache, limit=1 if smoke else None, log=log)  # cached: a read
    keys = [view_keys(sources, FAKE_VIEWS, seed) for seed in range(view_sets)]
    summary = train_tail([shards_folder(cache, size, seed) for seed in range(view_sets)], run_dir, recipe,
                         log=log, keys=keys)
    timings["train_min"] = round((time.monotonic() - t1) / 60, 1)
    # the size goes beside the model at once: calibration scores through the signal, which reads it
    onnx_path = export(run_dir / "calibrated.pt", out / MODEL_NAME, size, {"size": size, "flip": flip})
    t2 = time.monotonic()
    op = calibrate(shared, onnx_path, smoke=smoke, aggregation=aggregation)
    timings["calibrate_min"] = round((time.monotonic() - t2) / 60, 1)
    timings["total_min"] = round((time.monotonic() - t0) / 60, 1)
    meta = {"size": size, "flip": flip, **op, "model_version": MODEL_VERSION, "recipe": asdict(recipe),
            "score_calibration": summary["calibration"], "validation_history": summary["history"],
            "train_views": summary["train_views"], "timings": timings, "method": method(recipe, flip)}
    onnx_path.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    return {"model": str(onnx_path), "data": counts, **op, "timings": timings,
            "best_validation": summary["best_selection"]}


def run_folder(recipe: TailRecipe) -> str:
    """A run resumes from its folder's last checkpoint, so another recipe gets its own folder
    (model 2's recipe keeps the name it had: ``run224``)."""
    name = f"run{recipe.size}"
    if recipe.train_from != 13:
        name += f"-from{recipe.train_from}"
    if recipe.ema:
        name += f"-ema{recipe.ema:g}"
    if recipe.keep != "best":
        name += f"-{recipe.keep}"
    if recipe.fake_weight != 1.0:
        name += f"-fakew{recipe.fake_weight:g}"
    if recipe.view_sets != 1:
        name += f"-views{recipe.view_sets}"
    if recipe.consistency:
        name += f"-cons{recipe.consistency:g}"
    return name


CALIBRATION_PATH = ("the scan's own analysis: consentry.pipeline.runner.analyse_paths with the "
                    "signals faces + manipulation (faces_fps 2), scores read from the manipulation "
                    "signal's result")


def calibrate(shared: Path, onnx_path: Path, smoke: bool = False, workers: int = 1,
              aggregation: str | None = FIXED_AGGREGATION, flip: bool | None = None) -> dict:
    """Threshold (and, with ``aggregation=None``, the aggregation) chosen on the validation split
    and the threshold reals (data.splits calib_dfdc; never the test split), on scores from the
    scan's own analysis of each file; the model is scored as its JSON says (size; mirror
    averaging unless ``flip`` is given)."""
    from consentry.detector.eval import choose_operating_point, report
    from consentry.detector.scan_scores import score_rows

    sp = splits(shared)
    val_rows = sp["val_dfdc"] + sp["val_video"]
    if smoke:
        val_rows = sp["val_dfdc"][:4] + [r for r in sp["val_dfdc"] if r.label == "FAKE"][:4]
    scored = score_rows(val_rows, model=onnx_path, workers=workers, flip=flip)
    calib_rows = sp["calib_dfdc"][:4] if smoke else sp["calib_dfdc"]
    threshold_reals = score_rows(calib_rows, model=onnx_path, workers=workers, flip=flip)
    op = choose_operating_point(scored, aggregation=aggregation, threshold_reals=threshold_reals)
    val = report(scored, op["threshold"], op["aggregation"], op["top_k"], n_boot=200)
    op["calibrated_on"] = CALIBRATION_PATH
    op["threshold_reals_left_out"] = {  # no face found, or an error: not in the pooled count
        "unscored": sum(1 for x in threshold_reals if x.scores is not None and not x.scores.frames),
        "errors": sum(1 for x in threshold_reals if x.error)}
    op["validation"] = {"frame_auc": val["frame_auc"], "video_auc": val["video_auc"],
                        "n_real": val["n_real"], "n_fake": val["n_fake"],
                        "unscored_items": val["unscored_items"], "errors": len(val["errors"]),
                        "by_group": {k: {"frame_auc": v["frame"]["auc"],
                                         "video_auc": v["video"]["auc"] if v["video"] else None}
                                     for k, v in val["by_group"].items()}}
    return op


def recalibrate(shared: Path, onnx_path: Path, workers: int = 1,
                aggregation: str | None = FIXED_AGGREGATION, flip: bool | None = None) -> dict:
    """Choose the operating point of an existing model again and rewrite its JSON's calibration
    fields (the recipe and training history stay); the previous threshold is kept on record.
    ``flip`` set turns mirror averaging on or off (the threshold is chosen with it)."""
    meta_file = onnx_path.with_suffix(".json")
    meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
    previous_flip = bool(meta.get("flip", False))
    t0 = time.monotonic()
    # the JSON is rewritten once, at the end: an interrupted calibration leaves the model as it was
    op = calibrate(shared, onnx_path, workers=workers, aggregation=aggregation, flip=flip)
    op["flip"] = previous_flip if flip is None else flip
    op["calibrate_min"] = round((time.monotonic() - t0) / 60, 1)
    previous = [*meta.get("previous_operating_points", [])]
    if "threshold" in meta:
        previous.append({k: meta.get(k) for k in ("threshold", "aggregation", "threshold_rule",
                                                  "threshold_reals", "calibrated_on",
                                                  "validation_false_positive_rate",
                                                  "validation_true_positive_rate")})
        previous[-1]["flip"] = previous_flip
        previous[-1]["calibrated_on"] = previous[-1]["calibrated_on"] or (
            "detector/items.py (its own PyAV decoding, dlib HOG with upsampling and IoU tracker; "
            "removed)")
    meta.update(op)
    meta["previous_operating_points"] = previous
    staged = meta_file.with_name(meta_file.name + ".tmp")
    staged.write_text(json.dumps(meta, indent=1) + "\n")
    staged.replace(meta_file)  # never half a JSON beside the model
    return {"model": str(onnx_path), **op}
