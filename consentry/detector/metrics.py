"""Ranking metrics with no dependency beyond numpy: ROC AUC, average precision, EER, bootstrap CIs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Probability that a random fake outscores a random real (ties count half)."""
    y = np.asarray(labels, bool)
    s = np.asarray(scores, np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if not n_pos or not n_neg:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    # average ranks over ties
    _uniq, start, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = start + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float | None:
    y = np.asarray(labels, bool)
    if not y.any() or y.all():
        return None
    order = np.argsort(-np.asarray(scores, np.float64), kind="mergesort")
    hits = y[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].mean())


def eer(labels: np.ndarray, scores: np.ndarray) -> tuple[float | None, float | None]:
    """Equal error rate and the threshold where false-accept and false-reject rates cross."""
    y = np.asarray(labels, bool)
    s = np.asarray(scores, np.float64)
    if not y.any() or y.all():
        return None, None
    best = (2.0, 0.5, 0.5)
    for t in np.unique(s):
        far = float((s[~y] >= t).mean())  # reals called fake
        frr = float((s[y] < t).mean())  # fakes missed
        if abs(far - frr) < best[0]:
            best = (abs(far - frr), (far + frr) / 2, float(t))
    return best[1], best[2]


def accuracy(labels: np.ndarray, scores: np.ndarray, threshold: float) -> float | None:
    y = np.asarray(labels, bool)
    if not len(y):
        return None
    return float(((np.asarray(scores) >= threshold) == y).mean())


def bootstrap_values(labels: np.ndarray, scores: np.ndarray, metric: Callable, n: int = 1000,
                     seed: int = 0, groups: np.ndarray | None = None) -> list[float]:
    """``metric`` on ``n`` resamples, reals and fakes resampled separately (by ``groups`` if
    given, so frames of one video, or the fakes of one source video, move together)."""
    y = np.asarray(labels, bool)
    s = np.asarray(scores, np.float64)
    if not y.any() or y.all():
        return []
    g = np.asarray(groups) if groups is not None else np.arange(len(y))
    rng = np.random.default_rng(seed)
    units = {lab: np.unique(g[y == lab]) for lab in (True, False)}
    # a unit's reals and its fakes are separate draws: a DFDC source video groups its real crop
    # with the fakes made from it, and drawing one must not bring in the other
    index = {(lab, u): np.flatnonzero((g == u) & (y == lab)) for lab in (True, False) for u in units[lab]}
    values = []
    for _ in range(n):
        picks = [index[lab, u] for lab in (True, False) for u in rng.choice(units[lab], len(units[lab]))]
        idx = np.concatenate(picks)
        v = metric(y[idx], s[idx])
        if v is not None:
            values.append(v)
    return values


def bootstrap_ci(labels: np.ndarray, scores: np.ndarray, metric: Callable, n: int = 1000,
                 seed: int = 0, groups: np.ndarray | None = None) -> tuple[float, float] | None:
    """95% percentile interval of ``bootstrap_values``."""
    values = bootstrap_values(labels, scores, metric, n, seed, groups)
    if not values:
        return None
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def wilson_ci(hits: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """95% Wilson score interval of a rate (sensible at 0 of n, unlike the bootstrap)."""
    if n <= 0:
        return None
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def rate_ci(flagged: np.ndarray, groups: np.ndarray | None = None, n: int = 1000,
            seed: int = 0) -> tuple[float, float] | None:
    """95% interval of the share flagged: Wilson for independent items; with ``groups``
    (frames of one video move together) a percentile bootstrap over groups."""
    flagged = np.asarray(flagged, bool)
    if not len(flagged):
        return None
    if groups is None or len(np.unique(groups)) == len(flagged):
        return wilson_ci(int(flagged.sum()), len(flagged))
    g = np.asarray(groups)
    units = np.unique(g)
    if flagged.all() or not flagged.any():  # the bootstrap would say [0, 0]: count videos instead
        return wilson_ci(len(units) if flagged.all() else 0, len(units))
    index = [np.flatnonzero(g == u) for u in units]
    rng = np.random.default_rng(seed)
    values = [flagged[np.concatenate([index[i] for i in rng.integers(0, len(units), len(units))])].mean()
              for _ in range(n)]
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)
