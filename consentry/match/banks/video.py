"""Meta's vPDQ video-matching rule (as in ThreatExchange's vpdq and python-threatexchange).

Only frames with quality >= the bank's minimum count, and duplicate frame hashes count once.
``query_match_pct`` is the share of the query's unique frames within the distance threshold of
some target frame; ``target_match_pct`` the share of the target's unique frames matched by some
query frame. A video matches when both reach the bank's thresholds (Meta's defaults: query
80%, target 0%).
"""

from __future__ import annotations

from dataclasses import dataclass

from consentry.signals.hashing.mih import hex_to_words, popcount_distance


@dataclass(frozen=True)
class VideoMatch:
    query_match_pct: float
    target_match_pct: float
    min_distance: int


def unique_good_frames(frames: list[tuple[str, int]], quality_min: int) -> list[str]:
    return list(dict.fromkeys(h for h, q in frames if q >= quality_min))


def compare(query: list[str], target: list[str], threshold: int) -> VideoMatch | None:
    """Both lists are unique frame hashes that passed the quality gate."""
    if not query or not target:
        return None
    qw, tw = hex_to_words(query), hex_to_words(target)
    dist = popcount_distance(qw[:, None, :], tw[None, :, :])  # |query| x |target|
    close = dist <= threshold
    return VideoMatch(
        query_match_pct=round(100.0 * float(close.any(axis=1).mean()), 2),
        target_match_pct=round(100.0 * float(close.any(axis=0).mean()), 2),
        min_distance=int(dist.min()),
    )

