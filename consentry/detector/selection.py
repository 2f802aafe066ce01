"""The rule that chooses which trained detector ships (docs/detector.md, "Third attempt").

Fixed in writing before its candidates were trained. Each candidate's VALIDATION files are
scored through the scan (``consentry eval detector --split val --aggregation median
--scores-out FILE``); the test split is never read here. Two measures: D, the DFDC crop AUC (one
score per crop), and F, the FF++ c40 video AUC (each track's median, the shipped model's
aggregation, the same for every candidate: choosing it per candidate would pick the luckiest of
four on 20 videos). They are weighted by how much each can tell: 1 / the variance of the measure
over bootstrap resamples of the REFERENCE model's validation scores (source videos resampled, a
DFDC fake together with its original), the same weights for every candidate. The candidate with
the highest weighted mean ships; one within ``TIE`` of the reference leaves the reference in place.

    python -m consentry.detector.selection --reference model2 \\
        --scores model2=/tmp/val_model2_dfdc.json,/tmp/val_model2.json --scores 3c=...

(one ``eval detector`` run per labels file: the DFDC validation crops are in
../shared/data/dfdc-faces/labels.tsv, the FF++ videos in ../shared/data/deepfake-dev/labels.tsv).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from consentry.detector import DEFAULT_SHARED
from consentry.detector.data import dfdc_group, splits
from consentry.detector.metrics import bootstrap_values, roc_auc

TIE = 0.005


@dataclass(frozen=True)
class ValScores:
    """One model's validation scores, split into the two measured sets."""

    dfdc: tuple[np.ndarray, np.ndarray, np.ndarray]  # labels, scores, source-video groups
    video: tuple[np.ndarray, np.ndarray, np.ndarray]  # labels, scores, one group per video
    unscored: int


@dataclass(frozen=True)
class Measured:
    dfdc_auc: float
    video_auc: float
    criterion: float
    unscored: int


def validation_groups(shared: Path) -> dict[Path, tuple[str, str]]:
    """Validation file -> (set, bootstrap group): 'dfdc' by source video, 'video' by file."""
    sp = splits(shared)
    out = {r.file.resolve(): ("dfdc", dfdc_group(r)) for r in sp["val_dfdc"]}
    out.update({r.file.resolve(): ("video", r.file.name) for r in sp["val_video"]})
    return out


def read_scores(entries: list[dict], groups: dict[Path, tuple[str, str]]) -> ValScores:
    """``eval detector --scores-out`` entries; a file outside validation is refused (the rule
    must never see a test file)."""
    sets: dict[str, list[tuple[bool, float, str]]] = {"dfdc": [], "video": []}
    unscored = 0
    for e in entries:
        where = groups.get(Path(e["file"]).resolve())
        if where is None:
            raise ValueError(f"{e['file']} is not a validation file")
        if e.get("score") is None:
            unscored += 1
            continue
        sets[where[0]].append((e["label"] == "FAKE", float(e["score"]), where[1]))

    def arrays(rows: list[tuple[bool, float, str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (np.array([r[0] for r in rows], bool), np.array([r[1] for r in rows]),
                np.array([r[2] for r in rows]))

    return ValScores(arrays(sets["dfdc"]), arrays(sets["video"]), unscored)


def reliability_weights(reference: ValScores, n_boot: int = 1000, seed: int = 0) -> dict:
    """Weights 1/variance (normalised) of D and F on the reference model's bootstrap resamples."""
    sd = {}
    for name in ("dfdc", "video"):
        labels, scores, groups = getattr(reference, name)
        values = bootstrap_values(labels, scores, roc_auc, n_boot, seed, groups)
        if len(values) < 2:
            raise ValueError(f"the {name} validation set has too few scored reals or fakes")
        sd[name] = float(np.std(values, ddof=1))
    inv = {k: 1 / max(v, 1e-6) ** 2 for k, v in sd.items()}
    total = sum(inv.values())
    return {"w_dfdc": inv["dfdc"] / total, "w_video": inv["video"] / total,
            "sd_dfdc": sd["dfdc"], "sd_video": sd["video"], "n_boot": n_boot}


def measure(scores: ValScores, weights: dict) -> Measured:
    d = roc_auc(scores.dfdc[0], scores.dfdc[1])
    f = roc_auc(scores.video[0], scores.video[1])
    if d is None or f is None:
        raise ValueError("a validation set lacks reals or fakes")
    return Measured(d, f, weights["w_dfdc"] * d + weights["w_video"] * f, scores.unscored)


def choose(scored: dict[str, ValScores], reference: str, n_boot: int = 1000) -> dict:
    """The rule: every candidate measured with the reference's weights; the best ships unless
    it is within TIE of the reference."""
    weights = reliability_weights(scored[reference], n_boot)
    measured = {name: measure(s, weights) for name, s in scored.items()}
    best = max(measured, key=lambda n: measured[n].criterion)
    if measured[best].criterion - measured[reference].criterion < TIE:
        best = reference
    return {"weights": weights, "measured": {k: asdict(v) for k, v in measured.items()},
            "reference": reference, "ships": best, "tie": TIE}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scores", action="append", required=True, metavar="NAME=FILE[,FILE]",
                    help="a model's validation scores (eval detector --split val --scores-out)")
    ap.add_argument("--reference", required=True, help="the shipped model's NAME")
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args(argv)
    groups = validation_groups(args.shared)
    scored = {}
    for spec in args.scores:
        name, _, files = spec.partition("=")
        entries = [e for f in files.split(",") for e in json.loads(Path(f).read_text())]
        scored[name] = read_scores(entries, groups)
    if args.reference not in scored:
        ap.error(f"--reference {args.reference} has no --scores")
    print(json.dumps(choose(scored, args.reference, args.bootstrap), indent=1))


if __name__ == "__main__":
    main()
