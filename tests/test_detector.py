"""Manipulation detector: self-blending, the shipped ONNX model, metrics and ``eval detector``."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from consentry.detector import metrics
from consentry.detector.data import crop_landmarks, face_finder, read_labels, splits
from consentry.detector.geometry import face_outline
from consentry.detector.sbi import self_blend
from tests.conftest import DEEPFAKE_DEV, DFDC_FACES, SHARED, need


def _real_crops(n: int) -> list[Path]:
    rows = read_labels(need(DFDC_FACES / "labels.tsv"))
    return [r.file for r in rows if r.label == "REAL"][:n]


def test_self_blend_mixes_a_face_only_with_itself_inside_the_face() -> None:
    finder = face_finder()
    checked = 0
    for path in _real_crops(12):
        rgb = np.asarray(Image.open(path).convert("RGB"))
        lm = crop_landmarks(finder, rgb)
        if lm is None:
            continue
        fake, mask = self_blend(rgb, lm, np.random.default_rng(checked))
        assert fake.shape == rgb.shape and mask.shape == rgb.shape[:2]
        # outside the mask the picture is untouched: nothing but this face went in
        outside = mask < 1e-3
        assert np.abs(fake[outside].astype(int) - rgb[outside].astype(int)).max() <= 1
        # inside, the blend changed the face
        inside = mask > 0.2
        assert inside.sum() > 0.1 * mask.size
        assert np.abs(fake[inside].astype(int) - rgb[inside].astype(int)).mean() > 1.0
        # and the mask lies within the face: inside the (generous) face outline's bounding box
        outline = face_outline(lm, None, forehead=True)
        ys, xs = np.nonzero(mask > 0.05)
        iod = np.linalg.norm(lm[0:2].mean(0) - lm[2:4].mean(0))
        assert xs.min() >= outline[:, 0].min() - 0.25 * iod and xs.max() <= outline[:, 0].max() + 0.25 * iod
        assert ys.min() >= outline[:, 1].min() - 0.25 * iod and ys.max() <= outline[:, 1].max() + 0.25 * iod
        checked += 1
    assert checked >= 8


def test_self_blend_takes_no_second_image() -> None:
    import inspect

    params = list(inspect.signature(self_blend).parameters)
    assert params == ["rgb", "landmarks", "rng"]


def test_splits_never_train_on_fakes_or_held_out_sources() -> None:
    need(DFDC_FACES / "labels.tsv")
    need(DEEPFAKE_DEV / "labels.tsv")
    sp = splits(SHARED)
    train = sp["train_dfdc"] + sp["train_video"]
    assert train and all(r.label == "REAL" for r in train)
    train_names = {r.file.name for r in train}
    for held in ("val_dfdc", "test_dfdc"):
        sources = {r.file.name for r in sp[held]} | {r.original.replace(".mp4", ".jpg") for r in sp[held]}
        assert not train_names & sources, held
    test_ids = {"585", "599", "672", "720", "866", "878", "183", "253", "469", "481"}
    assert not any(Path(r.file).stem in test_ids for r in sp["train_video"])


def test_threshold_reals_are_real_crops_no_training_item_shares_a_source_video_with() -> None:
    from consentry.detector.data import READ_REALS, dfdc_group, read_order

    need(DFDC_FACES / "labels.tsv")
    need(DEEPFAKE_DEV / "labels.tsv")
    sp = splits(SHARED)
    calib = sp["calib_dfdc"]
    assert len(calib) == 3735 and all(r.label == "REAL" for r in calib)  # the count docs report
    groups = {dfdc_group(r) for r in calib}
    read = read_order(sp["train_dfdc"])[:READ_REALS]  # what features.prepare_sources reads
    assert not groups & {dfdc_group(r) for r in read + sp["train_fakes"]}
    for held in ("val_dfdc", "test_dfdc"):
        assert not groups & {dfdc_group(r) for r in sp[held]}, held
    # the order models 2-4 were trained in (a changed order would move read reals into calib)
    order = [r.file.name for r in read_order(sp["train_dfdc"])]
    assert (order[0], order[3000], calib[0].file.name) == (
        "xiutcafpof.jpg", "zmrqqtqyfg.jpg", "hakgdmsskq.jpg")


def test_auc_matches_pairwise_definition() -> None:
    rng = np.random.default_rng(0)
    y = rng.random(60) < 0.4
    s = np.round(rng.random(60), 1)  # ties on purpose
    pairs = [(1.0 if a > b else 0.5 if a == b else 0.0) for a, b in itertools.product(s[y], s[~y])]
    assert metrics.roc_auc(y, s) == pytest.approx(np.mean(pairs))
    assert metrics.roc_auc(y, y.astype(float)) == 1.0
    assert metrics.roc_auc(np.ones(3, bool), np.ones(3)) is None
    lo, hi = metrics.bootstrap_ci(y, s, metrics.roc_auc, n=200)
    assert lo <= metrics.roc_auc(y, s) <= hi
    e, thr = metrics.eer(y, y.astype(float))
    assert e == 0.0 and thr == 1.0


def test_operating_point_lets_at_most_one_percent_of_validation_reals_through() -> None:
    from consentry.detector.data import Row
    from consentry.detector.eval import choose_operating_point
    from consentry.detector.scan_scores import ItemScores, Scored

    rng = np.random.default_rng(1)

    def item(label: str, score: float, n: int) -> Scored:
        s = round(score, 4)  # a scan's 4-decimal score
        return Scored(Row(Path(f"{label}{n}.jpg"), label, "", "d", "image"),
                      ItemScores("image", {0: [(0.0, s)]}, s, "topk", True))

    scored = [item("REAL", v, i) for i, v in enumerate(rng.uniform(0, 0.8, 300))]
    scored += [item("FAKE", v, i) for i, v in enumerate(rng.uniform(0.2, 1.0, 100))]
    op = choose_operating_point(scored)
    reals = sorted(x.scores.signal_score for x in scored if x.row.label == "REAL")
    assert sum(s >= op["threshold"] for s in reals) == 3  # floor(1% of 300)
    assert reals[-4] < op["threshold"] < reals[-3]
    assert op["validation_false_positive_rate"] == 0.01
    assert op["threshold"] == round(op["threshold"], 5)  # half a score step: prints as it acts


def test_threshold_reals_raise_the_threshold_until_the_interval_upper_end_holds_two_percent() -> None:
    from consentry.detector.data import Row
    from consentry.detector.eval import choose_operating_point
    from consentry.detector.scan_scores import ItemScores, Scored

    rng = np.random.default_rng(2)

    def item(label: str, score: float, n: int) -> Scored:
        s = round(score, 4)
        return Scored(Row(Path(f"{label}{n}.jpg"), label, "", "d", "image"),
                      ItemScores("image", {0: [(0.0, s)]}, s, "topk", True))

    val = [item("REAL", v, i) for i, v in enumerate(rng.uniform(0, 0.8, 300))]
    val += [item("FAKE", v, i) for i, v in enumerate(rng.uniform(0.2, 1.0, 100))]
    plain = choose_operating_point(val)
    # reals that score higher than validation's: 1% of validation's would flag ~5% of these
    high = [item("REAL", v, 1000 + i) for i, v in enumerate(rng.uniform(0.3, 0.85, 2000))]
    op = choose_operating_point(val, threshold_reals=high)
    assert op["threshold_by_rule"]["validation"] == plain["threshold"] < op["threshold"]
    pooled = np.array([x.scores.signal_score for x in val + high if x.row.label == "REAL"])
    flagged = int((pooled >= op["threshold"]).sum())
    assert op["threshold_reals"]["n"] == 2300 and op["threshold_reals"]["flagged"] == flagged
    assert metrics.wilson_ci(flagged, 2300)[1] <= 0.02 < metrics.wilson_ci(flagged + 1, 2300)[1]
    assert flagged / 2300 < 0.02  # the point sits below the budget: the upper end is what is held
    # reals that score lower leave the validation threshold as it was: the rule only raises it
    low = [item("REAL", v, 5000 + i) for i, v in enumerate(rng.uniform(0, 0.3, 2000))]
    assert choose_operating_point(val, threshold_reals=low)["threshold"] == plain["threshold"]


def test_operating_point_keeps_the_fixed_video_aggregation_unless_asked_to_choose() -> None:
    from consentry.detector.data import Row
    from consentry.detector.eval import choose_operating_point
    from consentry.detector.scan_scores import ItemScores, Scored

    def video(label: str, n: int, frames: list[float]) -> Scored:
        return Scored(Row(Path(f"{label}{n}.mp4"), label, "", "d", "video"),
                      ItemScores("video", {0: [(i / 2, s) for i, s in enumerate(frames)]},
                                 round(float(np.mean(frames)), 4), "mean"))

    # fakes: a few very high frames over a low body (a top-5 mean ranks them; a median cannot)
    scored = [video("FAKE", i, [0.95] * 5 + [0.2 + 0.01 * i] * 20) for i in range(8)]
    scored += [video("REAL", i, [0.5 + 0.01 * i] * 25) for i in range(8)]
    chosen = choose_operating_point(scored, aggregation=None)
    assert chosen["aggregation"] == "topk" and chosen["aggregation_rule"] == "best validation video AUC"
    fixed = choose_operating_point(scored)
    assert fixed["aggregation"] == "median" and fixed["aggregation_rule"] == "fixed"
    assert fixed["validation_video_auc_by_aggregation"]["median"] == 0.0  # reported, not acted on
    with pytest.raises(ValueError, match="unknown aggregation"):
        choose_operating_point(scored, aggregation="max")


def _shipped_model() -> Path:
    from consentry.detector.scoring import model_path

    try:
        return model_path()
    except FileNotFoundError:
        pytest.fail("the shipped detector model is missing")


def test_shipped_model_loads_offline_and_scores_in_unit_interval() -> None:
    from consentry.detector.scoring import Scorer

    path = _shipped_model()
    assert path.stat().st_size < 30_000_000
    scorer = Scorer(path)
    assert 0.0 < scorer.info.threshold < 1.0
    crops = [np.asarray(Image.open(p).convert("RGB")) for p in _real_crops(4)]
    crops.append(np.zeros((224, 224, 3), np.uint8))
    scores = scorer.score(crops)
    assert scores.shape == (5,) and np.all((scores >= 0) & (scores <= 1))
    heat = scorer.occlusion_map(crops[0], grid=4)
    assert heat.shape == (4, 4) and heat.max() <= 1.0


def _tiny_labels(tmp_path: Path, n: int = 3) -> Path:
    rows = [r for r in csv.DictReader(need(DEEPFAKE_DEV / "labels.tsv").open(), delimiter="\t")
            if r["kind"] == "image"]
    chosen = [r for r in rows if r["label"] == "REAL"][:n] + [r for r in rows if r["label"] == "FAKE"][:n]
    tsv = tmp_path / "labels.tsv"
    with tsv.open("w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(["file", "label", "original", "kind", "dataset"])
        for r in chosen:
            w.writerow([str(DEEPFAKE_DEV / r["file"]), r["label"], r["original"], r["kind"], "dev crops"])
    return tsv


def test_eval_detector_json_on_a_tiny_labels_file(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    _shipped_model()
    tsv = _tiny_labels(tmp_path)
    res = run_cli("eval", "detector", str(tsv), "--json", "--bootstrap", "50")
    assert res.code == 0, res.stderr
    (out,) = res.lines
    for key in ("frame_auc", "video_auc", "n_real", "n_fake", "by_group"):
        assert key in out
    assert out["n_real"] == 3 and out["n_fake"] == 3
    assert out["video_auc"] is None  # no videos in the set
    assert 0.0 <= out["frame_auc"] <= 1.0
    assert set(out["by_group"]) == {"dev crops"}
    assert out["whole_crop_images"] >= 1


def test_eval_scores_each_file_exactly_as_a_scan_does(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    """eval detector goes through the scan's own analysis: its per-file score and per-frame
    scores are the ones ``scan --json`` reports for the same file - a DFDC crop, an FF++ video
    and the same video under a misleading name (type comes from content, not the suffix)."""
    _shipped_model()
    crop = _real_crops(1)[0]
    video = need(DEEPFAKE_DEV / "mudouble__FaceForensics-Detection_Website/media/in_out_videos/manipulate"
                 / "FaceSwap/c40/videos/599_585.mp4")
    disguised = tmp_path / "clip.jpg"
    disguised.write_bytes(video.read_bytes())
    tsv = tmp_path / "labels.tsv"
    tsv.write_text("file\tlabel\tkind\tdataset\n"
                   f"{crop}\tREAL\timage\tcrops\n{video}\tFAKE\tvideo\tff\n{disguised}\tFAKE\tvideo\tff\n")
    scores_file = tmp_path / "scores.json"
    res = run_cli("eval", "detector", str(tsv), "--json", "--bootstrap", "20", "--scores-out",
                  str(scores_file))
    assert res.code == 0, res.stderr
    evaluated = {Path(x["file"]).name: x for x in json.loads(scores_file.read_text())}
    scan = run_cli("scan", "--json", "--signals", "faces,manipulation", str(crop), str(video),
                   str(disguised))
    assert scan.code in (0, 1), scan.stderr
    scanned = {Path(x["path"]).name: x["manipulation"] for x in scan.lines if "path" in x}
    assert set(evaluated) == set(scanned) == {crop.name, video.name, disguised.name}
    for name, manip in scanned.items():
        ev = evaluated[name]
        assert ev["error"] is None
        assert ev["score"] == manip["score"] and manip["score"] is not None, name
        frames = sorted((round(t, 3), track, round(s, 4)) for t, track, s in ev["frames"])
        assert frames == sorted((t, tr["track"], s) for tr in manip["tracks"] for t, s in tr["timeline"])
    assert evaluated[disguised.name]["kind"] == "video"  # sniffed, as a scan does
    assert evaluated[disguised.name]["score"] == evaluated[video.name]["score"]
    assert evaluated[crop.name]["whole_crop"] is True
    assert len(evaluated[video.name]["frames"]) >= 10  # ~2 frames/s over 12 s


def test_eval_detector_refuses_a_file_without_labels(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.tsv"
    bad.write_text("path\tsomething\nx\ty\n")
    res = run_cli("eval", "detector", str(bad), "--json")
    assert res.code == 2
    assert "label" in json.loads(res.stdout.splitlines()[-1])["error"]


@pytest.mark.slow
def test_train_detector_smoke_run_exports_a_working_model(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    need(DFDC_FACES / "labels.tsv")
    pytest.importorskip("torch")
    pytest.importorskip("efficientnet_lite_pytorch")
    res = run_cli("train-detector", "--smoke", "--json", "--shared", str(SHARED), "--cache",
                  str(tmp_path / "cache"), "--out", str(tmp_path / "model"), timeout=1200)
    assert res.code == 0, res.stderr
    (out,) = res.lines
    model = Path(out["model"])
    assert model.is_file() and model.with_suffix(".json").is_file()
    from consentry.detector.scoring import Scorer

    scorer = Scorer(model)
    assert scorer.score([np.zeros((224, 224, 3), np.uint8)]).shape == (1,)
    # nothing was written into the repository
    assert not (Path(__file__).resolve().parents[1] / "cache").exists()
    # the same command again resumes from the run's last checkpoint (torch.load(weights_only)
    # refused it while the optimiser state held a numpy scalar)
    again = run_cli("train-detector", "--smoke", "--shared", str(SHARED), "--cache", str(tmp_path / "cache"),
                    "--out", str(tmp_path / "model"), timeout=1200)
    assert again.code == 0 and "resumed at step" in again.stderr, again.stderr
    # the other recipes' options (model 2's blocks, best checkpoint, fakes at half weight, two
    # view sets) get a run folder of their own
    other = run_cli("train-detector", "--smoke", "--json", "--shared", str(SHARED), "--cache",
                    str(tmp_path / "cache"), "--out", str(tmp_path / "other"), "--train-from", "13",
                    "--ema", "0.9", "--keep", "best", "--fake-weight", "0.5", "--view-sets", "2",
                    "--consistency", "0.5", "--flip", "--video-aggregation", "best", timeout=1200)
    assert other.code == 0, other.stderr
    assert (tmp_path / "cache/smoke/run224-ema0.9-fakew0.5-views2-cons0.5/calibrated.pt").is_file()
    meta_file = tmp_path / "other" / model.name.replace(".onnx", ".json")
    meta = json.loads(meta_file.read_text())
    assert meta["flip"] is True and meta["aggregation_rule"] == "best validation video AUC"
    assert meta["threshold_reals"]["n"] >= 1 and "calib_dfdc" in meta["threshold_rule"]
    # calibrating again with mirror averaging off and the median fixed keeps the old point on record
    recal = run_cli("train-detector", "--calibrate-only", "--shared", str(SHARED), "--out",
                    str(tmp_path / "other"), "--no-flip", timeout=1200)
    assert recal.code == 0, recal.stderr
    meta = json.loads(meta_file.read_text())
    assert meta["flip"] is False and meta["aggregation"] == "median" and meta["aggregation_rule"] == "fixed"
    assert meta["previous_operating_points"][-1]["flip"] is True
    assert Scorer(tmp_path / "other" / model.name).info.flip is False


def test_scan_reports_manipulation_per_track_with_timeline_and_blurred_heatmap(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    _shipped_model()
    crop = _real_crops(1)[0]
    video = need(DEEPFAKE_DEV / "mudouble__FaceForensics-Detection_Website/media/in_out_videos/manipulate"
                 / "FaceSwap/c40/videos/599_585.mp4")
    from consentry.testing.samples import synthetic_scene

    scene = tmp_path / "scene.png"
    synthetic_scene(1).save(scene)  # 640x480, no face
    report = tmp_path / "report.html"
    res = run_cli("scan", "--json", "--signals", "faces,manipulation", "--report", str(report),
                  str(crop), str(video), str(scene))
    assert res.code in (0, 1), res.stderr
    items = {Path(x["path"]).name: x for x in res.lines if "path" in x}
    image = items[crop.name]["manipulation"]
    assert 0.0 <= image["score"] <= 1.0
    assert [t["track"] for t in image["tracks"]] == [0]  # a pre-cropped face: scored whole
    # a larger picture without a face is not judged (no false "manipulated face")
    assert items["scene.png"]["manipulation"]["score"] is None
    assert items["scene.png"]["manipulation"]["tracks"] == []
    vid = items[video.name]["manipulation"]
    assert vid["tracks"], "the swapped face must be scored"
    longest = max(vid["tracks"], key=lambda t: len(t["timeline"]))
    assert len(longest["timeline"]) >= 10  # ~2 frames/s over 12 s
    times = [t for t, _ in longest["timeline"]]
    assert times == sorted(times) and all(0.0 <= s <= 1.0 for _, s in longest["timeline"])
    assert vid["score"] == pytest.approx(max(t["score"] for t in vid["tracks"]))
    page = report.read_text()
    assert page.count("<svg") >= 2 and "most suspicious face" in page


def test_onnx_export_matches_torch(tmp_path: Path) -> None:
    """The exported graph must compute what the trained network computes (Lite uses ReLU6)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("onnx")
    from consentry.detector.export import export
    from consentry.detector.scoring import Scorer
    from consentry.detector.train import build_model

    torch.manual_seed(0)
    model = build_model(dropout=0.0, pretrained=False).eval()
    ckpt = tmp_path / "m.pt"
    torch.save(model.state_dict(), ckpt)
    onnx_path = export(ckpt, tmp_path / "m.onnx", 96, {"size": 96, "threshold": 0.5})
    x = np.random.default_rng(0).uniform(0, 255, (3, 3, 96, 96)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    got = Scorer(onnx_path).session.run(None, {"rgb": x})[0]
    np.testing.assert_allclose(got, expected, atol=1e-4)
