"""Score a whole file (image or video) without the scan pipeline: used by ``eval detector``.

Faces are found with dlib's HOG detector and 5-point landmarks (geometry.Landmarker) and linked
into tracks by box overlap - the same crops the ``manipulation`` signal cuts from the faces
signal's detections.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from consentry.detector.geometry import Landmarker
from consentry.detector.scoring import Scorer, aggregate, face_crop, is_face_crop, keep_large

VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"}


@dataclass
class ItemScores:
    kind: str  # "image" | "video"
    frames: list[tuple[float, int, float]] = field(default_factory=list)  # (t, track, score)
    whole_crop: bool = False

    def track_scores(self, method: str, top_k: int) -> dict[int, float]:
        tracks: dict[int, list[float]] = {}
        for _, track, s in self.frames:
            tracks.setdefault(track, []).append(s)
        return {t: aggregate(v, method, top_k) for t, v in tracks.items()}

    def item_score(self, method: str, top_k: int) -> float | None:
        per_track = self.track_scores(method, top_k)
        return max(per_track.values()) if per_track else None

    def frame_scores(self) -> list[float]:
        """One score per sampled frame: the most suspicious face on it."""
        by_t: dict[float, float] = {}
        for t, _, s in self.frames:
            by_t[t] = max(by_t.get(t, 0.0), s)
        return list(by_t.values())


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class ItemScorer:
    def __init__(self, scorer: Scorer, per_second: float = 2.0, max_side: int = 960) -> None:
        self.scorer, self.per_second, self.max_side = scorer, per_second, max_side
        self.landmarker = Landmarker()

    def _faces(self, rgb: np.ndarray, upsample: int) -> list[tuple[tuple, np.ndarray]]:
        scale = min(1.0, self.max_side / max(rgb.shape[:2]))
        small = rgb if scale == 1.0 else np.asarray(
            Image.fromarray(rgb).resize((round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))))
        found = []
        for box, _ in self.landmarker.detect(small, upsample):
            full = tuple(v / scale for v in box)
            found.append((full, self.landmarker.landmarks(rgb, full)))
        return keep_large(found, width=lambda f: f[0][2] - f[0][0])

    def score_image(self, rgb: np.ndarray) -> ItemScores:
        faces = self._faces(rgb, upsample=1)
        if not faces or (len(faces) == 1 and is_face_crop(rgb.shape, faces[0][1])):
            return ItemScores("image", [(0.0, 0, float(self.scorer.score([rgb])[0]))], whole_crop=True)
        scores = self.scorer.score([face_crop(rgb, lm) for _, lm in faces])
        return ItemScores("image", [(0.0, i, float(s)) for i, s in enumerate(scores)])

    def score_video(self, path: Path) -> ItemScores:
        import av

        out = ItemScores("video")
        tracks: list[tuple[int, tuple]] = []  # (track id, last box)
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            fps = float(stream.average_rate or 25)
            step = max(1, round(fps / self.per_second))
            for i, frame in enumerate(container.decode(stream)):
                if i % step:
                    continue
                rgb = frame.to_ndarray(format="rgb24")
                faces = self._faces(rgb, upsample=0)
                if not faces:
                    continue
                scores = self.scorer.score([face_crop(rgb, lm) for _, lm in faces])
                for (box, _), s in zip(faces, scores, strict=True):
                    best = max(range(len(tracks)), key=lambda k: _iou(tracks[k][1], box), default=None)
                    if best is None or _iou(tracks[best][1], box) < 0.3:
                        tracks.append((len(tracks), box))
                        best = len(tracks) - 1
                    tracks[best] = (tracks[best][0], box)
                    out.frames.append((round(i / fps, 3), tracks[best][0], float(s)))
        return out

    def score_file(self, path: Path) -> ItemScores:
        if path.suffix.lower() in VIDEO_SUFFIXES:
            return self.score_video(path)
        return self.score_image(np.asarray(Image.open(path).convert("RGB")))
