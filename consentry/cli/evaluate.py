"""``consentry eval detector LABELS.tsv`` and ``consentry train-detector``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from consentry.cli.common import emit, fail, handle_errors, json_option, state
from consentry.detector import DEFAULT_SHARED

DEFAULT_CACHE = Path.home() / ".cache" / "consentry" / "detector"


def _need_onnxruntime() -> None:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        fail("onnxruntime is missing: pip install 'consentry[detector]'")


@click.group("eval")
def eval_group() -> None:
    """Measure a model on labelled data."""


@eval_group.command("detector")
@json_option
@click.argument("labels", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--model", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="ONNX model (default: the shipped one).")
@click.option("--aggregation", type=click.Choice(["mean", "median", "topk", "confident"]),
              help="Track aggregation (default: the one chosen on validation, stored with the model).")
@click.option("--flip/--no-flip", default=None,
              help="Average with the mirrored crop (default: as chosen on validation).")
@click.option("--fps", "faces_fps", type=click.FloatRange(min=0.001), default=2.0, show_default=True,
              help="Video frames sampled per second (as scan --faces-fps).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes (as scan --workers).")
@click.option("--bootstrap", "n_boot", type=int, default=1000, show_default=True,
              help="Bootstrap resamples for the 95% intervals.")
@click.option("--split", type=click.Choice(["all", "test", "val"]), default="all", show_default=True,
              help="Keep only the rows of our held-out test (or validation) split (consentry.detector.data).")
@click.option("--shared", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_SHARED,
              show_default=True, help="The shared data folder (to define --split).")
@click.option("--scores-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write every file's scan score and per-frame scores here (JSON).")
@handle_errors
def eval_detector(labels: Path, model: Path | None, aggregation: str | None, flip: bool | None,
                  faces_fps: float, workers: int,
                  n_boot: int, split: str, shared: Path, scores_out: Path | None) -> None:
    """Frame- and video-level AUC, AP, EER, accuracy (95% bootstrap CIs) on LABELS.tsv.

    LABELS.tsv: a header row, then ``file`` (relative to the TSV's folder), ``label`` REAL/FAKE
    and optional ``original``, ``kind``, ``dataset`` columns (../shared/data/deepfake-dev/labels.tsv).
    Every file is scored as ``scan --signals faces,manipulation`` scores it (same decoding, faces,
    tracks, crops and aggregation): a file's item score is its scan ``manipulation.score``.
    """
    _need_onnxruntime()
    from consentry.detector.data import read_labels
    from consentry.detector.eval import report
    from consentry.detector.scan_scores import score_rows
    from consentry.detector.scoring import read_model_info

    try:
        rows = read_labels(labels)
    except (KeyError, ValueError) as exc:
        fail(f"{labels}: not a labels TSV with 'file' and 'label' columns ({exc})")
    if split != "all":
        from consentry.detector.data import splits

        sp = splits(shared)
        keep = {r.file.resolve() for r in sp[f"{split}_dfdc"] + sp[f"{split}_video"]}
        rows = [r for r in rows if r.file.resolve() in keep]
    if not rows:
        fail(f"{labels}: no rows" + (f" in the {split} split" if split != "all" else ""))
    info = read_model_info(model)
    quiet = state().json
    done = [0]

    def progress(row, scored) -> None:
        done[0] += 1
        if not quiet and done[0] % 50 == 0:
            click.echo(f"  {done[0]}/{len(rows)} scored", err=True)

    start = time.monotonic()
    scored = score_rows(rows, model=model, flip=flip, faces_fps=faces_fps, workers=workers,
                        progress=progress)
    method = aggregation or info.aggregation
    out = report(scored, info.threshold, method, info.top_k, n_boot)
    out["seconds"] = round(time.monotonic() - start, 1)
    out["flip"] = info.flip if flip is None else flip
    out["faces_fps"] = faces_fps
    if scores_out:
        scores_out.write_text(json.dumps([
            {"file": str(x.row.file), "label": x.row.label, "dataset": x.row.dataset,
             "kind": x.scores.kind if x.scores else None,
             "score": x.scores.item_score(method, info.top_k) if x.scores else None,
             "whole_crop": x.scores.whole_crop if x.scores else None,
             "frames": x.scores.frames if x.scores else None, "error": x.error} for x in scored]))
    if quiet:
        emit(out)
        return
    _print(out)


def _fmt(block: dict | None) -> str:
    if not block or block.get("auc") is None:
        return "n/a"
    ci = block.get("auc_ci95")
    ci_s = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
    return (f"AUC {block['auc']:.3f}{ci_s}  AP {block['ap']:.3f}  EER {block['eer']:.3f}  "
            f"acc {block['accuracy']:.3f}  ({block['n_real']} real / {block['n_fake']} fake)")


def _print(out: dict) -> None:
    click.echo(f"{out['n_real']} real, {out['n_fake']} fake; threshold {out['threshold']:.3f}, "
               f"aggregation {out['aggregation']}")
    click.echo(f"frame: {_fmt(out['overall']['frame'])}")
    click.echo(f"video: {_fmt(out['overall']['video'])}")
    tables = (("by dataset", out["by_group"]), ("by method (vs. all reals of that kind)", out["by_method"]))
    for title, table in tables:
        click.echo(title + ":")
        for name, lv in table.items():
            click.echo(f"  {name}\n    frame: {_fmt(lv['frame'])}\n    video: {_fmt(lv['video'])}")
    for err in out["errors"]:
        click.echo(f"error: {err['file']}: {err['error']}", err=True)


@click.command("train-detector")
@json_option
@click.option("--shared", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_SHARED,
              show_default=True, help="The shared data folder (dfdc-faces, deepfake-dev).")
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_CACHE,
              show_default=True, help="Where video face crops and cached activations go (never the repo).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Where the ONNX model goes (default: the package's models/ folder).")
@click.option("--minutes", type=float, default=90.0, show_default=True,
              help="Training time budget (the learning rate follows whichever budget ends first).")
@click.option("--epochs", type=float, default=1.0, show_default=True,
              help="Passes over the cached training views (step budget).")
@click.option("--size", type=int, default=224, show_default=True,
              help="Side of the square face crops the model reads (pixels).")
@click.option("--batch", type=int, default=64, show_default=True, help="Training views per step.")
@click.option("--lr", type=float, default=3e-4, show_default=True,
              help="Peak learning rate of the trained blocks (AdamW; the fc layer gets 3x).")
@click.option("--val-every", type=int, default=60, show_default=True,
              help="Validate (and keep the best checkpoint) every this many steps.")
@click.option("--device", default="cpu", show_default=True,
              help="torch device for training (cpu, cuda, cuda:1, mps): the same recipe on any.")
@click.option("--train-from", type=click.IntRange(11, 15), default=11, show_default=True,
              help="First EfficientNet block trained (blocks 11 up to it run frozen; the stem and "
                   "blocks 0-10 are always frozen, their activations cached).")
@click.option("--ema", type=click.FloatRange(0.0, 0.9999), default=0.995, show_default=True,
              help="Validate, keep and export an exponential moving average of the weights with "
                   "this decay per step (0: the trained weights themselves).")
@click.option("--keep", type=click.Choice(["best", "last"]), default="last", show_default=True,
              help="Keep the checkpoint best on the training-time criterion, or the last one.")
@click.option("--fake-weight", type=click.FloatRange(min=0.0, min_open=True), default=1.0,
              show_default=True, help="Loss weight of the labelled DFDC fake views (self-blends: 1).")
@click.option("--view-sets", type=click.IntRange(1, 8), default=8, show_default=True,
              help="Sets of augmented views rendered and cached (each another draw of "
                   "augmentations and self-blends of the same faces), all trained on.")
@click.option("--consistency", type=click.FloatRange(min=0.0), default=0.0, show_default=True,
              help="Weight of a term pulling one face's scores in two view sets together "
                   "(needs two or more view sets; docs/detector.md, seventh attempt).")
@click.option("--video-aggregation", "video_aggregation",
              type=click.Choice(["mean", "median", "topk", "confident", "best"]), default="median",
              show_default=True,
              help="How a video track's frame scores make the item's score; 'best' picks the one "
                   "with the best validation video AUC (noise on a few real videos).")
@click.option("--flip/--no-flip", default=None,
              help="Score each face with its mirror and average (twice the cost); the threshold "
                   "is chosen with it. Default: on when training (the shipped model's), as stored "
                   "with --calibrate-only.")
@click.option("--smoke", is_flag=True, help="A tiny run (few faces, 2 steps) that checks the whole path.")
@click.option("--calibrate-only", is_flag=True,
              help="Train nothing: choose the model's threshold and aggregation again on the "
                   "validation split, through the scan's own analysis, and rewrite its JSON.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes for calibration (as scan --workers).")
@handle_errors
def train_detector(shared: Path, cache: Path, out: Path | None, minutes: float, epochs: float, size: int,
                   batch: int, lr: float, val_every: int, device: str, train_from: int, ema: float,
                   keep: str, fake_weight: float, view_sets: int, consistency: float,
                   video_aggregation: str, flip: bool | None, smoke: bool, calibrate_only: bool,
                   workers: int) -> None:
    """Reproduce the shipped model: render augmented views of real faces, their self-blends and
    the labelled DFDC fakes, cache the frozen front's activations, train the last blocks and the
    head, calibrate, export, choose the operating point on validation.

    Needs the 'train' extra (torch, efficientnet-lite) and ../shared. The default recipe is the
    shipped model's: about 95 minutes end to end on two CPU cores, ~8 GB of memory (docs/detector.md).
    ``--calibrate-only`` needs only the 'detector' extra.
    """
    if not (shared / "data/dfdc-faces/labels.tsv").is_file():
        fail(f"{shared} does not hold data/dfdc-faces (pass --shared)")
    aggregation = None if video_aggregation == "best" else video_aggregation
    if consistency and view_sets < 2:
        fail("--consistency pairs a face's views across view sets: it needs --view-sets 2 or more")
    if calibrate_only:
        _need_onnxruntime()
        from consentry.detector.build import default_out, recalibrate
        from consentry.detector.scoring import MODEL_NAME

        onnx_path = (out or default_out()) / MODEL_NAME
        if not onnx_path.is_file():
            fail(f"no model to calibrate at {onnx_path}")
        result = recalibrate(shared, onnx_path, workers=workers, aggregation=aggregation, flip=flip)
        if state().json:
            emit(result)
        else:
            click.echo(json.dumps(result, indent=1))
        return
    try:
        import efficientnet_lite_pytorch  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        fail("training needs the 'train' extra: pip install 'consentry[train]'")
    from consentry.detector.build import reproduce

    log = (lambda m: None) if state().json else (lambda m: click.echo(m, err=True))
    result = reproduce(shared, cache, out, minutes=minutes, epochs=epochs, size=size, batch=batch,
                       lr=lr, val_every=val_every, device=device, train_from=train_from, ema=ema,
                       keep=keep, fake_weight=fake_weight, view_sets=view_sets, consistency=consistency,
                       aggregation=aggregation, flip=flip is not False, smoke=smoke, log=log)
    if state().json:
        emit(result)
    else:
        click.echo(json.dumps(result, indent=1))


command = eval_group
