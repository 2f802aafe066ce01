"""Interoperability tested against Meta's own code: python-threatexchange (pytx, the
``threatexchange`` package of the dev extra) reads our exports, its files import into
Consentry, StopNCII records built with its dataclasses import (and withdraw), and every hash
type's compare and threshold semantics agree with pytx's on the same pairs.

pytx runs as users run it: its CLI in a subprocess with its state (``~/.threatexchange``) in a
temporary HOME. Its vPDQ extension needs Meta's ``vpdq`` C++ binding, which does not build here
(no FFmpeg development files): the vPDQ tests use pytx's own serialiser and matcher with the
binding's module name stubbed (they never call into it), and pytx's CLI sees no vPDQ type.
"""

from __future__ import annotations

import enum
import io
import itertools
import json
import subprocess
import sys
import types
from dataclasses import asdict
from pathlib import Path

import pytest

from consentry.signals.hashing import catalogue
from tests.conftest import THREATEXCHANGE, need

threatexchange = pytest.importorskip("threatexchange", reason="pytx is in the dev extra")

PDQ = THREATEXCHANGE / "pdq" / "data"
VIDEOS = THREATEXCHANGE / "tmk" / "sample-videos"
BANKED = [PDQ / "bridge-mods" / "aaa-orig.jpg", PDQ / "reg-test-input" / "pen-and-coaster.png"]
EDITS = [PDQ / "bridge-mods" / "blur-a-lot.jpg", PDQ / "bridge-mods" / "sharpen-a-lot.jpg"]
# q0122...: quality 100. (The first two of the set have PDQ quality 3 and 4: pytx's `match photo`
# crashes on them, a FAISS assertion on the empty hash it returns below quality 50.)
UNRELATED = sorted((PDQ / "reg-test-input" / "labelme-subset").glob("*.jpg"))[2:5]
VIDEO = VIDEOS / "chair-22-sd-grey-bar.mp4"
OTHER_VIDEO = VIDEOS / "pattern-hd-no-bar.mp4"
EXIF = PDQ / "reg-test-input" / "exif-rotn"


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def pytx(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run pytx's CLI with its state in a private HOME; returns stdout lines."""
    home = tmp_path / "pytx-home"
    home.mkdir()

    def run(*args: str) -> list[str]:
        proc = subprocess.run([sys.executable, "-m", "threatexchange", *args], capture_output=True,
                              text=True, timeout=300, env={"HOME": str(home), "PATH": "/usr/bin:/bin"})
        assert proc.returncode == 0, proc.stderr
        return [line for line in proc.stdout.splitlines() if line.strip()]

    return run


def _matched_banks(res) -> list[set[tuple[str, str]]]:  # type: ignore[no-untyped-def]
    return [{(m["bank"], m["signal"]) for m in line.get("matches", [])} for line in res.lines]


def test_pytx_local_file_reads_our_export_and_matches(run_cli, pytx, tmp_path: Path) -> None:
    need(PDQ)
    need(VIDEO)
    assert run_cli("bank", "create", "ncii", "--kind", "ncii").code == 0
    assert run_cli("bank", "add", "ncii", *map(str, BANKED), str(VIDEO)).code == 0
    export = tmp_path / "bank.te"
    assert run_cli("bank", "export", "ncii", "-o", str(export), "--format", "te").code == 0
    lines = export.read_text().splitlines()
    assert all(len(line.split(" ", 1)) == 2 for line in lines)  # '<signal_type> <signal>', no tail
    assert {line.split(" ", 1)[0] for line in lines} == {"pdq", "photo_md5", "video_md5", "vpdq"}

    pytx("config", "collab", "edit", "local_file", "--create", "--filename", str(export), "ours")
    pytx("fetch")
    for path in BANKED + EDITS:  # the banked photos and edits of them
        (hit,) = pytx("match", "photo", str(path))
        assert hit.startswith("pdq ") and "(ours)" in hit, path.name
    for path in UNRELATED:
        assert pytx("match", "photo", str(path)) == [], path.name
    (hit,) = pytx("match", "video", str(VIDEO))
    assert hit.startswith("video_md5 ") and "(ours)" in hit
    assert pytx("match", "video", str(OTHER_VIDEO)) == []
    # What pytx fetched is exactly what we exported (the types it knows), as `dataset` lists it.
    listed = {tuple(line.split(",")[:2]) for line in pytx("dataset", "-P", "--csv")[1:]}
    exported = {tuple(line.split(" ", 1)) for line in lines if line.split(" ", 1)[0] in ("pdq", "video_md5")}
    assert listed == exported


def test_pytx_hash_and_dataset_files_import_and_match(run_cli, pytx, tmp_path: Path) -> None:
    need(PDQ)
    need(VIDEO)
    hashed = tmp_path / "pytx-hashes.txt"
    out = [line for path in BANKED for line in pytx("hash", "photo", str(path))]
    out += pytx("hash", "video", str(VIDEO))  # video_md5 and video_sha256 lines
    hashed.write_text("\n".join(out) + "\n")
    assert run_cli("bank", "create", "from-pytx", "--kind", "ncii").code == 0
    res = run_cli("--json", "bank", "import", "from-pytx", str(hashed))  # format detected: te
    assert res.code == 0 and res.lines[0]["format"] == "te" and res.lines[0]["added"] == len(out)
    res = run_cli("--json", "scan", "--signals", "hash", *map(str, BANKED + EDITS + UNRELATED), str(VIDEO))
    found = _matched_banks(res)
    assert all(("from-pytx", "pdq") in m for m in found[: len(BANKED + EDITS)])
    assert all(m == set() for m in found[len(BANKED + EDITS) : -1])
    assert found[-1] == {("from-pytx", "md5"), ("from-pytx", "sha256")}

    # pytx's `dataset --csv` of a local_file collab holding pytx's own hashes.
    pytx("config", "collab", "edit", "local_file", "--create", "--filename", str(hashed), "theirs")
    pytx("fetch")
    dataset = tmp_path / "dataset.csv"
    dataset.write_text("\n".join(pytx("dataset", "-P", "--csv")) + "\n")
    assert run_cli("bank", "create", "dataset", "--kind", "other").code == 0
    res = run_cli("--json", "bank", "import", "dataset", str(dataset))
    assert res.code == 0 and res.lines[0]["format"] == "te-csv" and res.lines[0]["added"] == len(out)
    shown = run_cli("--json", "bank", "export", "dataset", "--format", "jsonl")
    rows = [json.loads(line) for line in shown.stdout.splitlines()]
    assert {r["metadata"]["collab"] for r in rows} == {"theirs"}
    assert {r["metadata"]["category"] for r in rows} == {"INVESTIGATION_SEED"}
    res = run_cli("--json", "scan", "--signals", "hash", str(EDITS[0]), str(VIDEO))
    assert [("dataset", "pdq") in m for m in _matched_banks(res)] == [True, False]
    assert ("dataset", "md5") in _matched_banks(res)[1]


def _stopncii_json(record) -> str:  # type: ignore[no-untyped-def]
    """A pytx StopNCIIHashRecord as the API's JSON (enums by value, sets as lists)."""

    def plain(value):  # type: ignore[no-untyped-def]
        if isinstance(value, enum.Enum):
            return value.value
        if isinstance(value, dict):
            return {plain(k): plain(v) for k, v in value.items()}
        if isinstance(value, (list, set, tuple)):
            return [plain(v) for v in value]
        return value

    return json.dumps(plain(asdict(record)))


def test_stopncii_records_from_pytx_dataclasses_import_and_withdraw(run_cli, tmp_path: Path) -> None:
    need(PDQ)
    from threatexchange.exchanges.clients.stopncii import api as stopncii
    from threatexchange.signal_type.md5 import VideoMD5Signal
    from threatexchange.signal_type.pdq.signal import PdqSignal

    photo_hash = PdqSignal.hash_from_file(BANKED[0])
    video_md5 = VideoMD5Signal.hash_from_file(VIDEO)
    status = stopncii.StopNCIICaseStatus
    feedback = stopncii.StopNCIICSPFeedback(stopncii.StopNCIICSPFeedbackValue.Blocked, {"ncii"}, "csp")

    def record(signal_type, value, hash_status):  # type: ignore[no-untyped-def]
        return stopncii.StopNCIIHashRecord(1764547200, signal_type, value, hash_status,
                                           {"CASE-1": hash_status}, [feedback])

    active = tmp_path / "stopncii.jsonl"
    active.write_text("\n".join([
        _stopncii_json(record(stopncii.StopNCIISignalType.ImagePDQ, photo_hash, status.Active)),
        _stopncii_json(record(stopncii.StopNCIISignalType.VideoMD5, video_md5, status.Received)),
        _stopncii_json(record(stopncii.StopNCIISignalType.VideoTMK, "ab" * 20, status.Active)),
    ]) + "\n")
    assert run_cli("bank", "create", "stopncii", "--kind", "ncii").code == 0
    res = run_cli("--json", "bank", "import", "stopncii", str(active), "--skip-bad")
    assert res.code == 3 and res.lines[0]["format"] == "stopncii" and res.lines[0]["added"] == 2
    assert res.lines[0]["bad_rows"] == ["line 3, field signalType: 'VideoTMK' is not a type Consentry "
                                        "matches (known: ImagePDQ, VideoMD5)"]
    res = run_cli("--json", "scan", "--signals", "hash", str(EDITS[0]), str(VIDEO))
    assert _matched_banks(res) == [{("stopncii", "pdq")}, {("stopncii", "md5")}]
    assert res.lines[0]["matches"][0]["case_id"] == "CASE-1"

    # Our export is the same records back (pytx's dacite parses them as its client does).
    exported = run_cli("bank", "export", "stopncii", "--format", "stopncii").stdout.splitlines()
    import dacite

    parsed = [dacite.from_dict(stopncii.StopNCIIHashRecord, json.loads(line),
                               config=dacite.Config(cast=[enum.Enum, set])) for line in exported]
    assert {(r.signalType, r.hashValue, r.hashStatus) for r in parsed} == {
        (stopncii.StopNCIISignalType.ImagePDQ, photo_hash, status.Active),
        (stopncii.StopNCIISignalType.VideoMD5, video_md5, status.Active)}

    withdrawn = tmp_path / "withdrawn.jsonl"  # the next fetch: the photo's case was withdrawn
    page = {"count": 1, "nextPageToken": None, "nextSetTimestamp": 1764547300, "hasMoreRecords": False,
            "hashRecords": [json.loads(_stopncii_json(
                record(stopncii.StopNCIISignalType.ImagePDQ, photo_hash, status.Withdrawn)))]}
    withdrawn.write_text(json.dumps(page) + "\n")
    res = run_cli("--json", "bank", "import", "stopncii", str(withdrawn))
    assert res.code == 0 and (res.lines[0]["added"], res.lines[0]["withdrawn"]) == (0, 1)
    res = run_cli("--json", "scan", "--signals", "hash", str(EDITS[0]), str(VIDEO))
    assert _matched_banks(res) == [set(), {("stopncii", "md5")}]


def test_pdq_compare_and_threshold_agree_with_pytx() -> None:
    need(PDQ)
    from threatexchange.signal_type.pdq.signal import PdqSignal

    ours = catalogue.get("pdq")
    images = sorted((PDQ / "bridge-mods").glob("*.jpg")) + UNRELATED
    images += sorted(p for p in (PDQ / "misc-images").glob("*") if p.is_file())
    hashes = [PdqSignal.hash_from_file(p) for p in images]
    hashes = [h for h in hashes if h]  # pytx gives "" below quality 50
    base = int(hashes[0], 16)
    for bits in (30, 31, 32, 33):  # either side of the threshold
        hashes.append(f"{base ^ ((1 << bits) - 1):064x}")
    for a, b in itertools.combinations(hashes, 2):
        theirs = PdqSignal.compare_hash(a, b)
        assert ours.distance(a, b) == theirs.distance.distance
        assert ours.matches(a, b) == theirs.match, (a, b)
    assert ours.default_threshold == 31 and ours.default_quality_min == PdqSignal.QUALITY_THRESHOLD


def test_digest_compare_agrees_with_pytx() -> None:
    from threatexchange.signal_type.md5 import VideoMD5Signal
    from threatexchange.signal_type.sha256 import VideoSHA256Signal

    for ours, theirs in [(catalogue.get("video_md5"), VideoMD5Signal),
                         (catalogue.get("video_sha256"), VideoSHA256Signal)]:
        examples = theirs.get_examples() + ours.examples()
        for value in examples:
            assert ours.parse(value) == theirs.validate_signal_str(value)
        for a, b in itertools.product(examples, repeat=2):
            assert ours.matches(a, b) == theirs.compare_hash(a, b).match
        assert theirs.get_name() in (ours.name, *ours.aliases)


@pytest.fixture
def pytx_vpdq(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """pytx's vPDQ module; its import of the C++ binding (not buildable here, and not called
    by what these tests use) is satisfied by an empty module."""
    stub = types.ModuleType("vpdq")
    stub.VpdqFeature = object  # type: ignore[attr-defined]  # only named in an annotation
    monkeypatch.setitem(sys.modules, "vpdq", stub)
    from threatexchange.extensions.vpdq import vpdq as pytx_vpdq
    from threatexchange.extensions.vpdq import vpdq_util

    return pytx_vpdq.VPDQSignal, vpdq_util


def _our_vpdq(path: Path) -> str:
    from consentry.match.banks.submission import submission_item
    from consentry.pipeline.hashing import hash_paths

    (report,) = list(hash_paths([path]))
    item = submission_item(report)
    assert item is not None
    return catalogue.get("vpdq").bank_values(item)[0][0]


def test_vpdq_compare_agrees_with_pytx(pytx_vpdq) -> None:
    need(VIDEOS)
    signal, util = pytx_vpdq
    ours = catalogue.get("vpdq")
    names = ["chair-22-sd-grey-bar", "chair-20-sd-bar", "chair-19-sd-bar", "chair-orig-22-sd-bar",
             "pattern-hd-no-bar", "doorknob-hd-no-bar"]
    values = {n: _our_vpdq(VIDEOS / f"{n}.mp4") for n in names}
    for value in values.values():  # pytx reads our canonical form, and we read its
        theirs = util.vpdq_to_json(util.json_to_vpdq(value))
        assert ", " in theirs and ours.parse(theirs) == value
        assert signal.validate_signal_str(value) == value
    agreed = 0
    for a, b in itertools.permutations(values.values(), 2):
        assert ours.matches(a, b) == signal.compare_hash(a, b).match
        agreed += ours.matches(a, b)
    assert agreed >= 4  # both outcomes are exercised


def test_pytx_vpdq_file_imports_and_matches(run_cli, pytx_vpdq, tmp_path: Path) -> None:
    need(VIDEOS)
    _signal, util = pytx_vpdq
    features = util.json_to_vpdq(_our_vpdq(VIDEO))
    line = f"vpdq {util.vpdq_to_json(features)}"  # as pytx serialises it: ", " and %.3g times
    (tmp_path / "v.te").write_text(line + "\n")
    assert run_cli("bank", "create", "v", "--kind", "ncii").code == 0
    assert run_cli("--json", "bank", "import", "v", str(tmp_path / "v.te")).lines[0]["added"] == 1
    res = run_cli("--json", "scan", "--signals", "hash", str(VIDEOS / "chair-orig-22-sd-bar.mp4"),
                  str(OTHER_VIDEO))
    assert _matched_banks(res) == [{("v", "vpdq")}, set()]


def test_exif_rotated_photos_match_pytx_hashes_of_the_stored_pixels(run_cli, pytx, tmp_path: Path) -> None:
    """pytx (like HMA) hashes the pixels as stored and ignores EXIF orientation; Consentry shows
    the image upright and keeps the stored orientation's hash too, so a plain (not dihedral)
    bank of pytx's hashes still matches."""
    need(EXIF)
    photos = sorted(EXIF.glob("exif-rotn-*.jpg"))
    theirs = {p.name: pytx("hash", "photo", str(p))[0] for p in photos}
    upright = theirs["exif-rotn-1.jpg"].split()[1]
    pdq = catalogue.get("pdq")
    turned = [n for n, line in theirs.items() if pdq.distance(line.split()[1], upright) > 31]
    assert len(turned) == 3  # pytx's hashes of the rotated files are of rotated pixels
    listing = tmp_path / "exif.te"
    listing.write_text("\n".join(theirs[n] for n in turned) + "\n")
    assert run_cli("bank", "create", "plain", "--kind", "ncii").code == 0
    assert run_cli("bank", "import", "plain", str(listing)).code == 0
    res = run_cli("--json", "scan", "--signals", "hash", *map(str, photos))
    by_name = {Path(line["path"]).name: line for line in res.lines}
    for name in turned:
        (match,) = by_name[name]["matches"]
        assert match["transform"] == "stored-orientation" and match["distance"] <= 8, name
    assert by_name["exif-rotn-1.jpg"]["matches"] == []  # upright: its stored pixels are not banked


def test_te_export_is_read_by_pytx_file_api(tmp_path: Path) -> None:
    """pytx's LocalFileSignalExchangeAPI itself (no CLI) parses every line of our te export."""
    from threatexchange.exchanges.impl.file_api import FileCollaborationConfig, LocalFileSignalExchangeAPI

    from consentry.match.banks import formats
    from consentry.match.banks.records import make_record

    records = [make_record(t.name, v) for t in catalogue.all_types() for v in t.examples()]
    path = tmp_path / "all.te"
    path.write_text(formats.dumps(records, "te"))
    api = LocalFileSignalExchangeAPI(FileCollaborationConfig(name="c", api="local_file", enabled=True,
                                                             filename=str(path)))
    (delta,) = list(api.fetch_iter([], None))
    assert set(delta.updates) == {(r.exchange_name, r.value) for r in records}
    parsed = formats.parse(io.StringIO(path.read_text()), "te")
    assert not parsed.errors
    assert [(r.signal, r.value) for _, r in parsed.records] == [(r.signal, r.value) for r in records]
