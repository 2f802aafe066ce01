"""Train the last blocks and the head of EfficientNet-Lite0 on cached front activations (features.py).

The whole network is one ``train.build_model`` Detector (ImageNet weights); only blocks
``FROZEN_BLOCKS``.. and the head get gradients, and they read the cached activations of the frozen
front, so the exported network (front + trained tail) computes exactly what was trained. Runs on
``--device`` (cpu, cuda...) unchanged; resumes from ``last.pt`` after an interruption; keeps the
checkpoint with the best validation criterion (mean of DFDC crop AUC and FF++ frame AUC, as for
the first generation), or with ``keep="last"`` the final weights; with ``ema`` the weights
validated and kept are an exponential moving average of the trained ones (batch-norm statistics
averaged too); at the end fits Platt calibration (sigmoid(a * logit + b)) on the
validation faces and stores it in the model's buffers, so exported scores are calibrated.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from consentry.detector.features import FROZEN_BLOCKS
from consentry.detector.metrics import roc_auc


@dataclass
class TailRecipe:
    size: int = 224
    epochs: float = 1.0
    train_from: int = 13  # blocks FROZEN_BLOCKS..train_from-1 run without gradients (cost)
    batch: int = 64
    lr: float = 3e-4
    head_lr_mult: float = 3.0
    weight_decay: float = 1e-2
    dropout: float = 0.3
    val_every: int = 150  # steps
    max_minutes: float = 60.0
    seed: int = 0
    device: str = "cpu"
    # third attempt (docs/detector.md): an exponential moving average of the weights (0 = off)
    # and which weights are kept: "best" on the training-time criterion, or "last" (no selection)
    ema: float = 0.0
    keep: str = "best"
    fake_weight: float = 1.0  # loss weight of the labelled DFDC fake views (self-blends stay 1)
    view_sets: int = 1  # sets of augmented views trained on (features.shards_folder, seeds 0..)
    # seventh attempt: weight of the squared logit difference between two views of one face
    # drawn from two view sets (0 = off): the score a face gets should not hang on its re-encode
    consistency: float = 0.0


def load_shards(folders: list[Path]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every view of every shard, the activations filled into one preallocated array (eight view
    sets are ~7.4 GB: concatenating would hold them twice)."""
    files = [p for folder in folders for p in sorted(folder.glob("train_[0-9]*.npz")) if ".tmp" not in p.name]
    if not files:
        raise FileNotFoundError(f"no feature shards in {', '.join(map(str, folders))}")
    meta = []
    for f in files:
        with np.load(f) as shard:  # an npz reads a member when asked: the activations stay unread
            meta.append((shard["labels"], shard["kind"]))
    labels, kinds = np.concatenate([m[0] for m in meta]), np.concatenate([m[1] for m in meta])
    feats = None
    at = 0
    for f in files:
        with np.load(f) as shard:
            part = shard["feats"]
        if feats is None:
            feats = np.empty((len(labels), *part.shape[1:]), part.dtype)
        feats[at:at + len(part)] = part
        at += len(part)
    assert feats is not None and at == len(labels)
    return feats, labels, kinds


def pair_index(keys: list[np.ndarray]) -> np.ndarray:
    """(faces, sets) -> the row of face f's view in set s, rows numbered as load_shards
    concatenates the sets (``keys``: features.view_keys of each set, in load order)."""
    n = len(keys[0])
    table = np.empty((n, len(keys)), np.int64)
    at = 0
    for s, k in enumerate(keys):
        if len(k) != n or len(np.unique(k)) != n:
            raise ValueError("every view set must hold each face view once")
        table[k, s] = at + np.arange(n)
        at += n
    return table


def batch_rows(step: int, recipe: TailRecipe, n_rows: int, pairs: np.ndarray | None) -> np.ndarray:
    """The rows of one step, the same after a resume: a permutation of all views per epoch, or
    with ``pairs`` batch/2 faces, each seen in two different view sets."""
    steps_per_epoch = n_rows // recipe.batch
    epoch, at = divmod(step, steps_per_epoch)
    if pairs is None:
        order = np.random.default_rng([recipe.seed, epoch]).permutation(n_rows)
        return order[at * recipe.batch:(at + 1) * recipe.batch]
    half = recipe.batch // 2
    faces_per_pass = len(pairs) // half  # steps to see every face once, two of its views
    cycle, at = divmod(step, faces_per_pass)
    faces = np.random.default_rng([recipe.seed, cycle, 1]).permutation(len(pairs))[at * half:(at + 1) * half]
    rng = np.random.default_rng([recipe.seed, step, 2])
    first = rng.integers(0, pairs.shape[1], half)
    second = (first + rng.integers(1, pairs.shape[1], half)) % pairs.shape[1]  # never the same set
    return np.concatenate([pairs[faces, first], pairs[faces, second]])


def tail_logits(model, feats, train_from: int = FROZEN_BLOCKS):
    """The network after the frozen front: blocks FROZEN_BLOCKS.. , head, pooling, fc (blocks
    before ``train_from`` without gradients: they are frozen too)."""
    import torch

    net = model.net
    x = feats
    rate = net._global_params.drop_connect_rate or 0.0
    n = len(net._blocks)
    with torch.no_grad():
        for idx in range(FROZEN_BLOCKS, train_from):
            x = net._blocks[idx](x, drop_connect_rate=rate * idx / n if model.training else None)
    for idx in range(train_from, n):
        x = net._blocks[idx](x, drop_connect_rate=rate * idx / n if model.training else None)
    x = net._swish(net._bn1(net._conv_head(x)))
    x = net._avg_pooling(x).flatten(1)
    return net._fc(net._dropout(x)).squeeze(1)


def trainable(model, train_from: int = FROZEN_BLOCKS) -> tuple[list, list]:
    net = model.net
    body = [p for b in net._blocks[train_from:] for p in b.parameters()]
    body += [*net._conv_head.parameters(), *net._bn1.parameters()]
    return body, list(net._fc.parameters())


def val_logits(model, feats: np.ndarray, device: str, batch: int = 256) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(feats), batch):
            x = torch.from_numpy(feats[i:i + batch]).float().to(device)
            out.append(tail_logits(model, x).cpu().numpy())
    return np.concatenate(out)


def val_report(logits: np.ndarray, val) -> dict:
    labels, src, group = val["labels"].astype(bool), val["src"], val["group"]
    rep: dict = {}
    for name in ("dfdc", "ffpp"):
        sel = src == name
        rep[f"{name}_frame_auc"] = roc_auc(labels[sel], logits[sel]) if sel.any() else None
    sel = src == "ffpp"
    if sel.any():
        p = 1 / (1 + np.exp(-logits[sel]))
        vids = sorted(set(group[sel]))
        rep["ffpp_video_auc"] = roc_auc(np.array([labels[sel][group[sel] == g][0] for g in vids]),
                                        np.array([p[group[sel] == g].mean() for g in vids]))
    parts = [rep[k] for k in ("dfdc_frame_auc", "ffpp_frame_auc") if rep.get(k) is not None]
    rep["selection"] = float(np.mean(parts)) if parts else None
    return rep


def _train_mode(model, train_from: int) -> None:
    model.train()
    for b in model.net._blocks[:train_from]:
        b.eval()


def _ema_model(model, decay: float):
    if not decay:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def fit_platt(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(a, b) minimising the log loss of sigmoid(a * logit + b): Newton steps on 2 parameters."""
    a, b = 1.0, 0.0
    if labels.all() or not labels.any():
        return a, b  # one class only (a smoke run): nothing to fit
    y = labels.astype(np.float64)
    z = logits.astype(np.float64)
    for _ in range(50):
        p = 1 / (1 + np.exp(-(a * z + b)))
        g = np.array([((p - y) * z).sum(), (p - y).sum()])
        w = p * (1 - p) + 1e-9
        h = np.array([[(w * z * z).sum(), (w * z).sum()], [(w * z).sum(), w.sum()]]) + 1e-6 * np.eye(2)
        step = np.linalg.solve(h, g)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-8:
            break
    return float(a), float(b)


def _log_loss(logits: np.ndarray, labels: np.ndarray, a: float = 1.0, b: float = 0.0) -> float:
    p = np.clip(1 / (1 + np.exp(-(a * logits + b))), 1e-7, 1 - 1e-7)
    return float(-(labels * np.log(p) + (1 - labels) * np.log(1 - p)).mean())


def train_tail(shards: list[Path], out: Path, recipe: TailRecipe, log=print,
               keys: list[np.ndarray] | None = None) -> dict:
    """Train on the views in ``shards`` (folders of one or more view sets; the first holds
    val.npz). ``recipe.consistency`` needs ``keys`` (features.view_keys of each set)."""
    import torch

    from consentry.detector.train import build_model

    torch.manual_seed(recipe.seed)
    torch.set_num_threads(2)
    dev = recipe.device
    feats, labels, kinds = load_shards(shards)
    val = dict(np.load(shards[0] / "val.npz"))
    log(f"{len(feats)} training views ({int(labels.sum())} fake: "
        f"{int((kinds == 'sbi').sum())} self-blends, {int((kinds == 'fake').sum())} DFDC fakes); "
        f"{len(val['labels'])} validation faces")
    model = build_model(recipe.dropout).to(dev)
    for p in model.parameters():
        p.requires_grad_(False)
    body, head = trainable(model, recipe.train_from)
    for b in model.net._blocks[:recipe.train_from]:
        b.eval()  # frozen blocks keep their ImageNet batch-norm statistics (as when caching)
    for p in body + head:
        p.requires_grad_(True)
    opt = torch.optim.AdamW([{"params": body, "lr": recipe.lr},
                             {"params": head, "lr": recipe.lr * recipe.head_lr_mult}],
                            weight_decay=recipe.weight_decay)
    steps_per_epoch = len(feats) // recipe.batch
    total = int(steps_per_epoch * recipe.epochs)
    out.mkdir(parents=True, exist_ok=True)
    state = {"step": 0, "history": [], "best": -1.0, "minutes": 0.0}
    last = out / "last.pt"
    resumed: dict = torch.load(last, map_location=dev) if last.is_file() else {}
    if resumed:  # resume where an interrupted run stopped
        model.load_state_dict(resumed["model"])
        opt.load_state_dict(resumed["opt"])
        state = resumed["state"]
        log(f"resumed at step {state['step']}")
    _train_mode(model, recipe.train_from)
    ema = _ema_model(model, recipe.ema)
    if ema is not None and "ema" in resumed:
        ema.load_state_dict(resumed["ema"])
    kept = ema.module if ema is not None else model  # the weights validated, kept and exported
    weights = np.where(kinds == "fake", recipe.fake_weight, 1.0).astype(np.float32)
    pairs = None
    if recipe.consistency:
        if keys is None or len(keys) < 2:
            raise ValueError("the consistency term needs two or more view sets and their view keys")
        # the keys come from the sources, the rows from the shards on disk: a missing shard
        # would shift every later row under its key
        if sum(len(k) for k in keys) != len(feats):
            raise ValueError(f"{len(feats)} views on disk, {sum(len(k) for k in keys)} expected: "
                             "the consistency term needs every view set complete (a partial cache?)")
        pairs = pair_index(keys)
    start = time.monotonic() - state["minutes"] * 60
    losses: list[float] = []
    step = state["step"]
    while step < total:
        idx = batch_rows(step, recipe, len(feats), pairs)
        # warm-up then cosine over whichever budget (steps or minutes) runs out first: on a
        # loaded machine the run still ends at a low learning rate
        progress = min(1.0, max(step / total, (time.monotonic() - start) / 60 / recipe.max_minutes))
        # a Python float: a numpy scalar in the optimiser state makes last.pt unloadable by
        # torch.load (weights_only), so an interrupted run could not resume
        scale = float(min(1.0, progress / 0.03) * 0.5 * (1 + np.cos(np.pi * progress)))
        for g, base in zip(opt.param_groups, (recipe.lr, recipe.lr * recipe.head_lr_mult), strict=True):
            g["lr"] = base * scale
        x = torch.from_numpy(feats[idx]).float().to(dev)
        y = torch.from_numpy(labels[idx].astype(np.float32)).to(dev)
        logits = tail_logits(model, x, recipe.train_from)
        w = torch.from_numpy(weights[idx]).to(dev)
        per_view = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")
        loss = (per_view * w).sum() / w.sum()
        if pairs is not None:  # the batch's halves are the same faces in two view sets
            a, b = logits.chunk(2)
            loss = loss + recipe.consistency * ((a - b) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if ema is not None:
            ema.update_parameters(model)
        losses.append(float(loss.detach()))
        step += 1
        minutes = (time.monotonic() - start) / 60
        stop = step == total or minutes >= recipe.max_minutes
        if step % recipe.val_every == 0 or stop:
            rep = val_report(val_logits(kept, val["feats"], dev), val)
            _train_mode(model, recipe.train_from)
            rep.update(step=step, epoch=round(step / steps_per_epoch, 2), minutes=round(minutes, 1),
                       train_loss=float(np.mean(losses[-recipe.val_every:])))
            state["history"].append(rep)
            log(json.dumps(rep))
            if recipe.keep == "last" or (rep["selection"] or 0.0) > state["best"]:
                state["best"] = rep["selection"] or 0.0
                torch.save(kept.state_dict(), out / "best.pt")
            state.update(step=step, minutes=minutes)
            ck = {"model": model.state_dict(), "opt": opt.state_dict(), "state": state}
            if ema is not None:
                ck["ema"] = ema.state_dict()
            torch.save(ck, last)
        if stop:
            break
    model.load_state_dict(torch.load(out / "best.pt", map_location=dev))
    z = val_logits(model, val["feats"], dev)
    a, b = fit_platt(z, val["labels"])
    model.logit_scale.fill_(a)
    model.logit_bias.fill_(b)
    torch.save(model.state_dict(), out / "calibrated.pt")
    calibration = {"method": "Platt (sigmoid(a * logit + b)) on the validation faces", "a": a, "b": b,
                   "log_loss_before": _log_loss(z, val["labels"]),
                   "log_loss_after": _log_loss(z, val["labels"], a, b)}
    summary = {"recipe": asdict(recipe), "history": state["history"], "best_selection": state["best"],
               "train_views": len(feats), "minutes": round((time.monotonic() - start) / 60, 1),
               "calibration": calibration}
    (out / "history.json").write_text(json.dumps(summary, indent=1))
    return summary
