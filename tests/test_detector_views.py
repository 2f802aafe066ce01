"""Second-generation training data: what the model is trained on, and how views are made."""

from __future__ import annotations

import numpy as np
import pytest
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


def _toy_sources() -> dict:
    return {"sbi": [{"path": f"s{i}"} for i in range(5)], "plain": [f"p{i}" for i in range(4)],
            "fakes": [f"f{i}" for i in range(3)]}


def _labels_in_set(sources: dict, seed: int) -> np.ndarray:
    from consentry.detector.features import _jobs

    # as build_cache writes a set's rows: a pair gives its real view then its self-blend
    return np.array([lab for kind, _i, _v in _jobs(sources, 2, seed)
                     for lab in ([0, 1] if kind == "pair" else [int(kind == "fake")])])


def test_view_keys_name_the_same_face_view_in_every_view_set() -> None:
    from consentry.detector.features import _jobs, view_keys

    sources = _toy_sources()
    n = 5 * 2 + 4 + 3 * 2
    canonical = np.empty(n, int)
    for seed in (0, 1, 5):
        keys, labels = view_keys(sources, 2, seed), _labels_in_set(sources, seed)
        assert sorted(keys) == list(range(n))  # each face view once per set
        canonical[keys] = labels
        if seed:  # shuffled otherwise than set 0, yet each key keeps its label (real, self-blend, fake)
            assert list(_jobs(sources, 2, seed)) != list(_jobs(sources, 2, 0))
            assert (canonical[view_keys(sources, 2, 0)] == _labels_in_set(sources, 0)).all()


def test_consistency_batches_pair_each_face_across_two_different_view_sets() -> None:
    from consentry.detector.features import view_keys
    from consentry.detector.train_tail import TailRecipe, batch_rows, pair_index

    sources = _toy_sources()
    keys = [view_keys(sources, 2, seed) for seed in range(3)]
    n = len(keys[0])
    pairs = pair_index(keys)
    row_key = np.concatenate(keys)
    assert (row_key[pairs] == np.arange(n)[:, None]).all()  # row of face f in set s holds f
    assert (pairs // n == np.arange(3)).all()  # ... and lies in set s's rows
    recipe = TailRecipe(batch=4)
    seen = []
    for step in range(n // 2):  # one pass: every face once
        rows = batch_rows(step, recipe, 3 * n, pairs)
        a, b = rows[:2], rows[2:]
        assert (row_key[a] == row_key[b]).all() and (a // n != b // n).all()
        seen += list(row_key[a])
    assert sorted(seen) == list(range(n))
    # without the term: a permutation of every row per epoch, as before
    plain = np.concatenate([batch_rows(s, recipe, 3 * n, None) for s in range(3 * n // 4)])
    assert sorted(plain) == list(range(3 * n))
    with pytest.raises(ValueError, match="each face view once"):
        pair_index([keys[0], keys[1][:-1]])
