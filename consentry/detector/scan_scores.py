"""Score labelled files through the scan's own analysis, for ``eval detector`` and calibration.

Every file goes through ``consentry.pipeline.runner.analyse_paths`` with the signals ``faces``
and ``manipulation``: the same decoding (content sniffing, limits), face finding, tracking,
crops, sampling (``faces_fps``) and aggregation as ``consentry scan --signals
faces,manipulation``. Nothing here decodes media or finds faces itself, so a threshold chosen
on these scores is the threshold scans apply. The per-frame scores come from the
manipulation signal's payload (unrounded; the JSON timeline holds them rounded to 4 places);
the item score for the signal's own aggregation is its JSON ``score``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from consentry.detector.data import Row
from consentry.detector.scoring import read_model_info, track_score
from consentry.settings import ScanSettings
from consentry.signals.options import FacesOptions
from consentry.types import ItemReport

SIGNALS = ("faces", "manipulation")


@dataclass(frozen=True)
class ItemScores:
    """What the scan's manipulation signal said about one file."""

    kind: str  # "image" | "video"
    tracks: dict[int, list[tuple[float, float]]] = field(default_factory=dict)  # track -> [(t, score)]
    signal_score: float | None = None  # the scan's own ``manipulation.score``
    aggregation: str = "mean"  # the aggregation the signal applied (stored beside the model)
    whole_crop: bool = False  # an image scored whole as one pre-cropped face

    @property
    def frames(self) -> list[tuple[float, int, float]]:
        """(t, track, score) for every scored face."""
        return [(t, track, s) for track, tl in sorted(self.tracks.items()) for t, s in tl]

    def track_scores(self, method: str, top_k: int) -> dict[int, float]:
        return {t: track_score([s for _, s in tl], method, top_k) for t, tl in self.tracks.items()}

    def item_score(self, method: str, top_k: int) -> float | None:
        """Max over tracks; for the signal's own aggregation exactly the scan's score."""
        if method == self.aggregation:
            return self.signal_score
        per_track = self.track_scores(method, top_k)
        return max(per_track.values()) if per_track else None

    def frame_scores(self) -> list[float]:
        """One score per sampled frame: the most suspicious face on it."""
        by_t: dict[float, float] = {}
        for t, _, s in self.frames:
            by_t[t] = max(by_t.get(t, 0.0), s)
        return list(by_t.values())


@dataclass
class Scored:
    row: Row
    scores: ItemScores | None
    error: str | None = None


def item_scores(report: ItemReport, aggregation: str) -> ItemScores:
    """The manipulation signal's result on one analysed item (ValueError when it has none).
    A video readable only in part keeps its result, as in a scan."""
    result = report.results.get("manipulation")
    if result is None:
        why = report.signal_errors.get("manipulation") or report.error or "; ".join(
            f"{k}: {v}" for k, v in report.signal_errors.items()) or "the signal did not run"
        raise ValueError(f"no manipulation score: {why}")
    payload = result.payload
    return ItemScores(kind=report.kind.value if report.kind else "image",
                      tracks={int(t): list(tl) for t, tl in payload.timelines.items()},
                      signal_score=result.fields["manipulation"]["score"], aggregation=aggregation,
                      whole_crop=bool(payload.scored_whole))


def score_rows(rows: Iterable[Row], *, model: Path | None = None, flip: bool | None = None,
               faces_fps: float = 2.0, workers: int = 1,
               progress: Callable[[Row, Scored], None] | None = None) -> list[Scored]:
    """Score every row's file as a scan would; one bad file never stops the rest."""
    from consentry.pipeline.runner import analyse_paths
    from consentry.signals.faces.signal import FacesSignal
    from consentry.signals.manipulation import ManipulationSignal

    rows = list(rows)
    by_path: dict[Path, list[Row]] = {}
    for row in rows:
        by_path.setdefault(row.file, []).append(row)
    settings = ScanSettings(signals=SIGNALS, options=(FacesOptions(faces_fps=faces_fps),))
    signals = [FacesSignal, ManipulationSignal.using(model, flip)]
    aggregation = read_model_info(model).aggregation  # what the signal applies (same JSON)
    scored: dict[Row, Scored] = {}
    for report in analyse_paths(list(by_path), settings, signals, workers):
        try:
            scores, error = item_scores(report, aggregation), report.error
        except ValueError as exc:
            scores, error = None, str(exc)
        for row in by_path.get(report.path, []):
            scored[row] = Scored(row, scores, error)
            if progress:
                progress(row, scored[row])
    return [scored.get(row) or Scored(row, None, "not analysed") for row in rows]
