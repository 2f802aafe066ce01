"""Second-generation training data: augmented views of real faces, their self-blends and the
labelled DFDC fakes, passed once through the frozen front of EfficientNet-Lite0 and cached.

Why cache: on 2 shared CPU cores a full forward and backward pass costs ~20 s per batch of 28
at 160-224 px, so end-to-end fine-tuning sees a few thousand faces in an hour. The front of the
network (stem and blocks 0..FROZEN_BLOCKS-1, ImageNet weights, batch norm in inference mode)
is kept frozen; every training view goes through it once (onnxruntime), and only the last blocks
and the head are trained on the cached activations (train.py), many epochs for the price of one.

Views (views.py; each view its own platform augmentation, same distribution for both classes):
- label 0: DFDC REAL training crops (whole), DFD actor video frames (canonical crop);
- label 1: self-blends of those real faces (each beside its real, augmented identically) and
  the DFDC FAKE crops of the training source videos (the research dataset's own fakes).
Validation (no augmentation: the crops as a scan scores them): the DFDC validation source videos'
crops and frames of the FF++ validation videos. Nothing of the test split is read here.

Landmarks for the self-blend masks of DFDC crops: the faces signal's 5-point shape predictor on a
fixed face box (the median of dlib HOG boxes on the first crops: the crops share one framing);
HOG on every padded crop took ~0.15 s a crop on the shared machine, the fixed box ~2 ms.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
from PIL import Image

from consentry.detector.data import (
    DFDC_CROP_PAD,
    READ_PLAIN,
    READ_SBI,
    cut,
    dfdc_group,
    face_finder,
    read_order,
    splits,
    video_faces,
)
from consentry.detector.geometry import crop_box
from consentry.detector.views import pair_views, single_view, to_size

FROZEN_BLOCKS = 11  # stem + blocks 0-10 frozen (through the 112-channel stage); blocks 11-15 + head trained
SHARD = 512
FAKE_VIEWS = 2  # views of each labelled fake per view set (build_cache)


def _rgb(path: str | Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def fixed_box_landmarker(paths: list[Path], log=print):
    """A function crop -> 5 landmarks using the shape predictor on the median HOG box."""
    import dlib

    from consentry.signals.faces import dlib_files

    finder = face_finder()
    boxes = []
    for p in paths[:60]:
        rgb = _rgb(p)
        found = finder.find(np.pad(rgb, ((DFDC_CROP_PAD,) * 2, (DFDC_CROP_PAD,) * 2, (0, 0)), mode="edge"))
        if found:
            b = max(found, key=lambda d: d.size).box
            boxes.append([(v - DFDC_CROP_PAD) / rgb.shape[1] for v in b])
    box = np.median(np.array(boxes), 0)
    log(f"fixed face box (fraction of the crop) from {len(boxes)} HOG faces: {np.round(box, 3).tolist()}")
    shapes = dlib_files.shape_predictor()

    def landmarks(rgb: np.ndarray) -> np.ndarray:
        w = rgb.shape[1]
        rect = dlib.rectangle(*(round(v * w) for v in box))
        shape = shapes(np.ascontiguousarray(rgb), rect)
        return np.array([[p.x, p.y] for p in shape.parts()], np.float32)

    return landmarks


def prepare_sources(shared: Path, cache: Path, video_step: int = 12, val_step: int = 15,
                    limit: int | None = None, log=print) -> dict:
    """Lists (and landmarks, video frames) of what the views are made from -> cache/sources.json."""
    out = cache / "sources.json"
    if out.is_file():
        return json.loads(out.read_text())
    sp = splits(shared)
    # data.READ_*: the unread rest is the calibration's threshold reals (data.splits calib_dfdc)
    reals = [str(r.file) for r in read_order(sp["train_dfdc"])]
    n_sbi, n_plain = (8, 8) if limit else (READ_SBI, READ_PLAIN)
    landmark = fixed_box_landmarker([Path(p) for p in reals[:60]], log)
    sbi = [{"path": p, "lm": landmark(_rgb(p)).tolist(), "whole": True} for p in reals[:n_sbi]]
    log(f"landmarked {len(sbi)} DFDC real crops")
    plain = reals[n_sbi:n_sbi + n_plain]
    fakes = [str(r.file) for r in sp["train_fakes"]][: (8 if limit else None)]
    finder = face_finder()
    (cache / "frames").mkdir(parents=True, exist_ok=True)
    for row in sp["train_video"][: (1 if limit else None)]:
        for i, rgb, lm in video_faces(row.file, video_step, finder):
            box = crop_box(lm, margin=1.5)  # room to re-cut at random margins
            face = cut(rgb, box, 320)
            lm_c = (lm - np.array(box[:2])) * (320 / (box[2] - box[0]))
            path = cache / "frames" / f"{row.file.stem}_{i:05d}.jpg"
            Image.fromarray(face).save(path, quality=95)
            sbi.append({"path": str(path), "lm": lm_c.tolist(), "whole": False})
        log(f"train video {row.file.name}: {len(sbi)} self-blend sources")
    val_dfdc = sp["val_dfdc"]
    if limit:  # both classes, or a smoke run has nothing to rank
        val_dfdc = ([r for r in val_dfdc if r.label == "REAL"][:8]
                    + [r for r in val_dfdc if r.label == "FAKE"][:8])
    val = [{"path": str(r.file), "label": int(r.label == "FAKE"), "group": dfdc_group(r), "src": "dfdc"}
           for r in val_dfdc]
    (cache / "val").mkdir(exist_ok=True)
    for row in sp["val_video"][: (2 if limit else None)]:
        tag = f"{row.file.parent.parent.parent.name}_{row.file.stem}"
        for i, rgb, lm in video_faces(row.file, val_step, finder):
            path = cache / "val" / f"{tag}_{i:05d}.jpg"
            Image.fromarray(cut(rgb, crop_box(lm), 224)).save(path, quality=95)
            val.append({"path": str(path), "label": int(row.label == "FAKE"), "group": tag, "src": "ffpp"})
        log(f"val video {tag}")
    sources = {"sbi": sbi, "plain": plain, "fakes": fakes, "val": val}
    out.write_text(json.dumps(sources))
    return sources


def export_trunk(path: Path, size: int) -> Path:
    """The frozen front as ONNX: RGB 0-255 in, block FROZEN_BLOCKS-1's activations out."""
    import torch

    from consentry.detector.train import build_model

    model = build_model(0.0).eval()

    class Trunk(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = model

        def forward(self, x):
            net = self.m.net
            x = net._swish(net._bn0(net._conv_stem((x - self.m.mean) / self.m.std)))
            for block in net._blocks[:FROZEN_BLOCKS]:
                x = block(x)
            return x

    torch.onnx.export(Trunk().eval(), torch.zeros(1, 3, size, size), str(path), input_names=["rgb"],
                      output_names=["feat"], dynamic_axes={"rgb": {0: "n"}, "feat": {0: "n"}},
                      opset_version=17, dynamo=False)
    return path


def _jobs(sources: dict, fake_views: int, seed: int) -> list[tuple[str, int, int]]:
    jobs = [("pair", i, 0) for i in range(len(sources["sbi"]))]
    jobs += [("plain", i, 0) for i in range(len(sources["plain"]))]
    jobs += [("fake", i, v) for i in range(len(sources["fakes"])) for v in range(fake_views)]
    random.Random(seed).shuffle(jobs)  # every shard mixes all kinds: a partial cache is usable
    return jobs


def view_keys(sources: dict, fake_views: int, seed: int) -> np.ndarray:
    """For each view of set ``seed``, in shard order, the number of the face view it is (the
    same in every set: a pair's real view, its self-blend, a plain real, a fake's v-th view), so
    training can pair one face's views across sets (train_tail, ``consistency``)."""
    canonical = sorted(_jobs(sources, fake_views, 0))
    number = {}
    for job in canonical:
        for part in range(2 if job[0] == "pair" else 1):
            number[job, part] = len(number)
    return np.array([number[job, part] for job in _jobs(sources, fake_views, seed)
                     for part in range(2 if job[0] == "pair" else 1)], np.int64)


View = tuple[np.ndarray, int, str]  # image, label (1 = manipulated), kind (real / sbi / fake)


def _render(job: tuple[str, int, int], sources: dict, size: int, seed: int) -> list[View]:
    kind, i, v = job
    rng = np.random.default_rng([seed, ["pair", "plain", "fake"].index(kind), i, v])
    if kind == "pair":
        s = sources["sbi"][i]
        real, twin = pair_views(_rgb(s["path"]), np.array(s["lm"], np.float32), s["whole"], size, rng)
        return [(real, 0, "real"), (twin, 1, "sbi")]
    path = sources["plain"][i] if kind == "plain" else sources["fakes"][i]
    view = single_view(_rgb(path), None, size, rng)
    return [(view, int(kind == "fake"), "real" if kind == "plain" else "fake")]


def shards_folder(cache: Path, size: int, seed: int = 0) -> Path:
    """Where one set of views goes: another seed draws other augmentations (and self-blends) of
    the same faces, so several sets give more distinct views than more passes over one."""
    return cache / (f"shards{size}" if seed == 0 else f"shards{size}-seed{seed}")


def build_cache(shared: Path, cache: Path, size: int = 224, fake_views: int = FAKE_VIEWS, seed: int = 0,
                limit: int | None = None, threads: int = 2, log=print) -> dict:
    """Render every view, run the frozen trunk, write shards (resumes: finished shards are kept)."""
    from consentry.onnxrt import load_onnxruntime

    sources = prepare_sources(shared, cache, limit=limit, log=log)
    trunk_path = cache / f"trunk{size}.onnx"
    if not trunk_path.is_file():
        export_trunk(trunk_path, size)
    ort = load_onnxruntime()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(str(trunk_path), opts, providers=["CPUExecutionProvider"])
    shards = shards_folder(cache, size, seed)
    shards.mkdir(exist_ok=True)

    def run(imgs: list[np.ndarray]) -> np.ndarray:
        x = np.stack(imgs).transpose(0, 3, 1, 2).astype(np.float32)
        return np.concatenate([session.run(None, {"rgb": x[j:j + 32]})[0] for j in range(0, len(x), 32)])

    val_file = shards_folder(cache, size, 0) / "val.npz"  # validation is not augmented: one copy
    if not val_file.is_file():
        val_file.parent.mkdir(exist_ok=True)  # a later view set may be rendered first
        val = sources["val"]
        feats = run([to_size(_rgb(v["path"]), size) for v in val]).astype(np.float16)
        np.savez(val_file, feats=feats, labels=np.array([v["label"] for v in val]),
                 src=np.array([v["src"] for v in val]), group=np.array([v["group"] for v in val]))
        log(f"validation features: {len(val)}")
    jobs = _jobs(sources, fake_views, seed)
    for n, start in enumerate(range(0, len(jobs), SHARD)):
        out = shards / f"train_{n:04d}.npz"
        if out.is_file():
            continue
        views = [v for job in jobs[start:start + SHARD] for v in _render(job, sources, size, seed)]
        feats = run([v[0] for v in views]).astype(np.float16)
        np.savez(out.with_suffix(".tmp.npz"), feats=feats, labels=np.array([v[1] for v in views]),
                 kind=np.array([v[2] for v in views]))
        out.with_suffix(".tmp.npz").rename(out)
        log(f"shard {n}: {start + SHARD}/{len(jobs)} jobs")
    return {"jobs": len(jobs), "shards": len(list(shards.glob("train_*.npz")))}
