"""Join the faces of successive sampled frames into tracks (one person's continuous
appearance), so a person is matched once per appearance from its few best faces.

At 2 frames/s a face moves between samples, so association accepts either overlapping boxes
or a nearby centre at a similar size; a track ends when its face is not seen for
``max_gap_s`` seconds (a cut, or the person left).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from consentry.signals.face_types import FaceDetection, FaceTrack

Box = tuple[float, float, float, float]


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def affinity(a: FaceDetection, b: FaceDetection) -> float:
    """0 when ``b`` cannot be the same appearance as ``a``; higher is more likely."""
    overlap = iou(a.box, b.box)
    if overlap >= 0.2:
        return overlap
    ratio = b.size / a.size if a.size > 0 else 0.0
    if not 0.6 <= ratio <= 1.0 / 0.6:
        return 0.0
    ax, ay = (a.box[0] + a.box[2]) / 2, (a.box[1] + a.box[3]) / 2
    bx, by = (b.box[0] + b.box[2]) / 2, (b.box[1] + b.box[3]) / 2
    reach = 0.6 * (a.size + b.size) / 2
    dist = ((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5
    return 0.2 * (1.0 - dist / reach) if dist < reach else 0.0


@dataclass
class _Live:
    track: FaceTrack
    last: FaceDetection
    best: list[FaceDetection] = field(default_factory=list)  # holds the chips we keep


class Tracker:
    def __init__(self, max_gap_s: float = 1.5, keep_best: int = 3) -> None:
        self.max_gap_s = max_gap_s
        self.keep_best = keep_best
        self._live: list[_Live] = []
        self._done: list[_Live] = []
        self._next_id = 0

    def update(self, detections: list[FaceDetection], timestamp: float) -> list[tuple[int, FaceDetection]]:
        """Assign this frame's detections to tracks; returns ``(track_id, detection)`` pairs."""
        still = []
        for live in self._live:
            (still if timestamp - live.last.timestamp <= self.max_gap_s else self._done).append(live)
        self._live = still
        pairs = sorted(
            ((affinity(live.last, det), li, di)
             for li, live in enumerate(self._live) for di, det in enumerate(detections)),
            reverse=True,
        )
        taken_tracks: set[int] = set()
        assigned: dict[int, _Live] = {}
        for score, li, di in pairs:
            if score <= 0.0 or li in taken_tracks or di in assigned:
                continue
            taken_tracks.add(li)
            assigned[di] = self._live[li]
        out: list[tuple[int, FaceDetection]] = []
        for di, det in enumerate(detections):
            live = assigned.get(di)
            if live is None:
                live = _Live(FaceTrack(self._next_id), det)
                self._next_id += 1
                self._live.append(live)
            live.track.detections.append(det)
            live.last = det
            self._keep_if_best(live, det)
            out.append((live.track.track, det))
        return out

    def _keep_if_best(self, live: _Live, det: FaceDetection) -> None:
        """Keep the crops of the few best matchable faces; drop the rest (memory)."""
        if not det.matchable:
            det.chip = None
            return
        live.best.append(det)
        live.best.sort(key=lambda d: d.quality, reverse=True)
        for dropped in live.best[self.keep_best:]:
            dropped.chip = None
        del live.best[self.keep_best:]

    def tracks(self) -> list[FaceTrack]:
        every = self._done + self._live
        return sorted((live.track for live in every), key=lambda t: t.track)
