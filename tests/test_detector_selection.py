"""The detector selection rule (consentry/detector/selection.py): weights by reliability, ties
keep the shipped model, and a test file can never reach it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from consentry.detector.selection import TIE, ValScores, choose, read_scores, reliability_weights


def _set(n_real: int, n_fake: int, shift: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.r_[np.zeros(n_real, bool), np.ones(n_fake, bool)]
    scores = rng.normal(0, 1, len(labels)) + shift * labels
    return labels, scores, np.array([f"g{i}" for i in range(len(labels))])


def _model(dfdc_shift: float, video_shift: float, seed: int = 0) -> ValScores:
    return ValScores(_set(400, 480, dfdc_shift, seed), _set(4, 16, video_shift, seed + 1), 0)


def test_the_small_video_set_weighs_less_than_the_large_crop_set() -> None:
    w = reliability_weights(_model(0.8, 0.8), n_boot=300)
    assert w["sd_video"] > 3 * w["sd_dfdc"]
    assert w["w_dfdc"] > 0.9 and w["w_dfdc"] + w["w_video"] == pytest.approx(1.0)


def test_a_gain_on_the_reliable_set_outweighs_a_loss_on_four_videos() -> None:
    out = choose({"ref": _model(0.8, 1.5), "cand": _model(1.2, 0.9)}, "ref", n_boot=300)
    m = out["measured"]
    assert m["cand"]["dfdc_auc"] > m["ref"]["dfdc_auc"] and m["cand"]["video_auc"] < m["ref"]["video_auc"]
    assert out["ships"] == "cand"


def test_the_same_scores_are_a_tie_and_keep_the_reference() -> None:
    out = choose({"ref": _model(0.8, 1.5), "same": _model(0.8, 1.5)}, "ref", n_boot=200)
    assert out["measured"]["same"]["criterion"] - out["measured"]["ref"]["criterion"] < TIE
    assert out["ships"] == "ref"


def test_scores_of_a_file_outside_validation_are_refused(tmp_path: Path) -> None:
    val_file, test_file = tmp_path / "val.jpg", tmp_path / "test.jpg"
    groups = {val_file.resolve(): ("dfdc", "src1")}
    entries = [{"file": str(val_file), "label": "REAL", "score": 0.2}]
    assert read_scores(entries, groups).dfdc[2].tolist() == ["src1"]
    with pytest.raises(ValueError, match="not a validation file"):
        read_scores([*entries, {"file": str(test_file), "label": "FAKE", "score": 0.9}], groups)


def test_unscored_files_are_counted_not_measured(tmp_path: Path) -> None:
    f = tmp_path / "a.mp4"
    got = read_scores([{"file": str(f), "label": "FAKE", "score": None}], {f.resolve(): ("video", "a")})
    assert got.unscored == 1 and len(got.video[0]) == 0


def test_a_source_video_s_real_and_its_fakes_are_drawn_separately() -> None:
    from consentry.detector.metrics import bootstrap_values

    # 3 source videos, each with its real crop and 2 fakes made from it (one group per video)
    labels = np.array([False, True, True] * 3)
    groups = np.repeat(["a", "b", "c"], 3)
    scores = np.arange(9, dtype=float)
    counts = bootstrap_values(labels, scores, lambda y, s: float((~y).sum()), n=50, groups=groups)
    assert set(counts) == {3.0}  # drawing a video's fakes never brings its real in as well
