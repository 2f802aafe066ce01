"""Second-generation training data: what the model is trained on, and how views are made."""

from __future__ import annotations

import numpy as np
from PIL import Image

from consentry.detector.data import dfdc_group, read_labels, splits
from consentry.detector.views import WORK, pair_views, platform, single_view
from tests.conftest import DEEPFAKE_DEV, DFDC_FACES, SHARED, need


def test_training_fakes_are_labelled_dfdc_fakes_of_training_sources_only() -> None:
    need(DFDC_FACES / "labels.tsv")
    need(DEEPFAKE_DEV / "labels.tsv")
    sp = splits(SHARED)
    fakes = sp["train_fakes"]
    assert len(fakes) > 3000 and all(r.label == "FAKE" for r in fakes)
    held = {dfdc_group(r) for r in sp["val_dfdc"] + sp["test_dfdc"]}
    held_files = {r.file.name for r in sp["val_dfdc"] + sp["test_dfdc"]}
    assert not {dfdc_group(r) for r in fakes} & held
    assert not {r.file.name for r in fakes} & held_files


def test_a_real_and_its_self_blend_get_the_same_augmentation() -> None:
    from consentry.detector.data import crop_landmarks, face_finder

    rows = [r for r in read_labels(need(DFDC_FACES / "labels.tsv")) if r.label == "REAL"][:6]
    finder = face_finder()
    checked = 0
    for n, row in enumerate(rows):
        rgb = np.asarray(Image.open(row.file).convert("RGB"))
        lm = crop_landmarks(finder, rgb)
        if lm is None:
            continue
        real, twin = pair_views(rgb, lm, True, 224, np.random.default_rng(n))
        assert real.shape == twin.shape == (224, 224, 3)
        diff = np.abs(real.astype(int) - twin.astype(int))
        # the corners lie outside the face mask: identical treatment leaves them (nearly) equal
        corners = np.concatenate([diff[:16, :16].ravel(), diff[:16, -16:].ravel()])
        assert corners.mean() < 2.0
        # while the face itself differs: the blend is the one thing left to learn
        assert diff[80:160, 70:150].mean() > corners.mean()
        checked += 1
    assert checked >= 3


def test_platform_augmentation_treats_every_image_alike_and_varies_between_draws() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (WORK, WORK, 3), dtype=np.uint8)
    outs = [platform([img, img.copy()], np.random.default_rng(seed)) for seed in range(12)]
    assert all(np.array_equal(a, b) for a, b in outs)
    assert len({a.tobytes() for a, _ in outs}) > 6
    view = single_view(img[:224, :224], None, 160, np.random.default_rng(1))
    assert view.shape == (160, 160, 3) and view.dtype == np.uint8
