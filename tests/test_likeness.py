"""The likeness registry: enrolment with consent, refusals, removal, audit, and the proof
on FaceForensics++ videos (../shared) that it finds a protected person's face pasted into
someone else's video, and does not confuse that person with others."""

from __future__ import annotations

import ast
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from consentry.cli.person import analyse_photos
from consentry.match.likeness import service
from consentry.match.likeness.consent import ConsentRequest
from consentry.match.likeness.index import LikenessIndex
from consentry.match.likeness.matcher import THRESHOLD, LikenessMatcher
from consentry.signals.faces import dlib_files
from consentry.store.db import current_actor, open_database
from consentry.store.tables.core import AuditEntry, Item
from consentry.store.tables.likeness import ConsentRecord, FaceEmbedding, Person
from consentry.store.tables.verdicts import Verdict
from consentry.testing.faces import group_photo, save_png, video_frame
from tests.conftest import DEEPFAKE_DEV, THREATEXCHANGE, need

pytestmark = pytest.mark.skipif(dlib_files.unavailable_reason() is not None,
                                reason=str(dlib_files.unavailable_reason()))

FFPP = DEEPFAKE_DEV / "mudouble__FaceForensics-Detection_Website" / "media" / "in_out_videos"
YOUTUBE = FFPP / "original/youtube/c40/videos"
ACTORS = FFPP / "original/actors/c40/videos"
SWAPS = [FFPP / "manipulate/Deepfakes/c40/videos/183_253.mp4",
         FFPP / "manipulate/FaceSwap/c40/videos/183_253.mp4"]
NOT_253 = [YOUTUBE / "183.mp4", FFPP / "manipulate/Face2Face/c40/videos/183_253.mp4"]
OTHER_ACTORS = ["01__kitchen_pan", "06__outside_talking_still_laughing", "07__talking_against_wall",
                "09__walking_down_street_outside_angry", "13__talking_against_wall",
                "13__walking_down_indoor_hall_disgust", "18__kitchen_pan", "27__kitchen_pan"]
CONSENT = "the person, signed consent form, witnessed by J. Doe"
REVIEW = (date.today() + timedelta(days=365)).isoformat()
ENROL = ("person", "enrol", "--consent-method", "signed-document", "--consent", CONSENT,
         "--review-date", REVIEW)


def _consent(review: date | None = None) -> ConsentRequest:
    return ConsentRequest("signed-document", CONSENT, review or date.today() + timedelta(days=365))


def _frame_photo(video: Path, index: int, out: Path) -> Path:
    return save_png(video_frame(need(video), index), out)


def _crops(n: int) -> list[Path]:
    rows = need(DEEPFAKE_DEV / "labels.tsv").read_text().splitlines()[1:]
    names = sorted(r.split("\t")[0] for r in rows if "\tREAL\t" in r and "faces_224/" in r)
    return [DEEPFAKE_DEV / name for name in names[:n]]


def test_proof_253_found_in_both_face_swaps_not_in_183(run_cli, tmp_path: Path) -> None:
    photo = _frame_photo(YOUTUBE / "253.mp4", 45, tmp_path / "253.png")
    enrolled = run_cli(*ENROL, "--name", "Person 253", "--photos", str(photo), "--json")
    assert enrolled.code == 0, enrolled.stderr
    person = enrolled.lines[0]["person"]
    videos = [need(p) for p in SWAPS + NOT_253]
    scan = run_cli("scan", "--json", "--signals", "faces", "--faces-fps", "1", "--workers", "2",
                   *map(str, videos))
    assert scan.code in (0, 1), scan.stderr
    results = {line["path"]: line for line in scan.lines}
    for swap in SWAPS:
        hits = results[str(swap)]["likeness"]
        assert [h["person"] for h in hits] == [person], (swap, hits)
        assert hits[0]["distance"] <= THRESHOLD
        assert len(hits[0]["frames"]) >= 2  # decided from several faces of the track
    for other in NOT_253:
        assert results[str(other)]["faces"], other  # a face was there to compare
        assert results[str(other)]["likeness"] == [], (other, results[str(other)]["likeness"])


def _actor_proof(run_cli, tmp_path: Path, others: list[str]) -> None:
    photo = _frame_photo(ACTORS / "08__podium_speech_happy.mp4", 120, tmp_path / "08.png")
    enrolled = run_cli(*ENROL, "--name", "Actor 08", "--photos", str(photo), "--json")
    assert enrolled.code == 0, enrolled.stderr
    videos = [need(ACTORS / "08__talking_against_wall.mp4")] + [need(ACTORS / f"{o}.mp4") for o in others]
    scan = run_cli("scan", "--json", "--signals", "faces", "--faces-fps", "0.5", "--workers", "2",
                   *map(str, videos), timeout=900)
    assert scan.code in (0, 1), scan.stderr
    results = {Path(line["path"]).stem: line for line in scan.lines}
    own = results["08__talking_against_wall"]
    assert {h["person"] for h in own["likeness"]} == {1}
    # Matched tracks cover most of the faces seen (one actor on screen throughout).
    matched = {h["track"] for h in own["likeness"]}
    assert sum(f["n_frames"] for f in own["faces"] if f["track"] in matched) >= 0.6 * sum(
        f["n_frames"] for f in own["faces"])
    for other in others:
        assert results[other]["likeness"] == [], (other, results[other]["likeness"])


def test_proof_actor_08_found_in_own_video_not_in_two_others(run_cli, tmp_path: Path) -> None:
    _actor_proof(run_cli, tmp_path, ["07__talking_against_wall", "27__kitchen_pan"])


@pytest.mark.slow
def test_proof_actor_08_not_in_any_other_actor_video(run_cli, tmp_path: Path) -> None:
    _actor_proof(run_cli, tmp_path, OTHER_ACTORS)


def test_refuses_photo_without_a_face_and_stores_nothing(run_cli, tmp_path: Path) -> None:
    good = save_png(group_photo(_crops(1), size=(400, 300)), tmp_path / "one.png")
    bridge = need(THREATEXCHANGE / "pdq/data/bridge-mods/aaa-orig.jpg")
    result = run_cli(*ENROL, "--name", "A", "--photos", str(good), str(bridge))
    assert result.code == 2
    assert str(bridge) in result.stderr and "no face" in result.stderr
    listed = run_cli("person", "list", "--json")
    assert listed.code == 0 and listed.lines == []


def test_refuses_photo_with_several_faces_naming_it(run_cli, tmp_path: Path) -> None:
    crowd = save_png(group_photo(_crops(3)), tmp_path / "crowd.png")
    result = run_cli(*ENROL, "--name", "A", "--photos", str(crowd), "--json")
    assert result.code == 2
    error = result.lines[0]["error"]
    assert str(crowd) in error and "3 faces" in error
    assert run_cli("person", "list", "--json").lines == []


def test_enrolment_needs_a_consent_record(run_cli, tmp_path: Path) -> None:
    photo = save_png(group_photo(_crops(1), size=(400, 300)), tmp_path / "one.png")
    result = run_cli("person", "enrol", "--name", "A", "--photos", str(photo))
    assert result.code == 2 and "--consent" in result.stderr
    past = (date.today() - timedelta(days=1)).isoformat()
    far = (date.today() + timedelta(days=6 * 366)).isoformat()
    refused = {
        "one character": ("--consent-method", "in-person", "--consent", "x", "--review-date", REVIEW),
        "zero-width characters": ("--consent-method", "in-person", "--consent",
                                  "\u200b\u200c\u200d\u2060\ufeff" * 5, "--review-date", REVIEW),
        "no method": ("--consent", CONSENT, "--review-date", REVIEW),
        "no review date": ("--consent-method", "in-person", "--consent", CONSENT),
        "review date passed": ("--consent-method", "in-person", "--consent", CONSENT,
                               "--review-date", past),
        "review date today": ("--consent-method", "in-person", "--consent", CONSENT,
                              "--review-date", date.today().isoformat()),
        "review date too far": ("--consent-method", "in-person", "--consent", CONSENT,
                                "--review-date", far),
    }
    for why, args in refused.items():
        result = run_cli("person", "enrol", "--name", "A", *args, "--photos", str(photo))
        assert result.code == 2, (why, result.stderr)
    invisible = run_cli(*ENROL, "--name", "\u200b\u2060", "--photos", str(photo))
    assert invisible.code == 2 and "--name" in invisible.stderr
    assert run_cli("person", "list", "--json").lines == []


def test_enrolment_finds_faces_through_the_scan_analysis() -> None:
    """One face pipeline: enrolment reads the faces signal's result; the service never runs
    the pipeline itself (arrows point down) and has no decoder of its own."""
    source = Path(service.__file__).read_text()
    imported = {node.module for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.ImportFrom) and node.module}
    assert not [m for m in imported if m.startswith(("consentry.pipeline", "consentry.media"))]
    assert not hasattr(service, "read_photo_face")
    person_cli = Path(service.__file__).parents[2] / "cli" / "person.py"
    assert "analyse_paths" in person_cli.read_text()


def _enrol(db, photo: Path, name: str = "Alex", **kw):  # type: ignore[no-untyped-def]
    return service.enrol(db, name=name, consent=kw.pop("consent", _consent()),
                         photos=analyse_photos([photo] * kw.pop("copies", 1)),
                         actor=current_actor(), **kw)


def test_same_face_twice_needs_force_and_is_audited(sqlite_url: str, tmp_path: Path) -> None:
    photo = save_png(group_photo(_crops(1), size=(400, 300)), tmp_path / "one.png")
    db = open_database(sqlite_url)
    try:
        first = _enrol(db, photo).person
        with pytest.raises(service.DuplicateFace, match="matches a person already enrolled") as err:
            _enrol(db, photo, name="Someone else")
        said = str(err.value).split(": ", 1)[1]  # after the photo's path: the refusal names nobody
        assert said.startswith("the face matches")
        assert "Alex" not in said and "person " + str(first.person_id) not in said
        assert f"id {first.person_id}" not in said
        assert [p.person_id for p in service.list_persons(db)] == [first.person_id]
        forced = _enrol(db, photo, name="Twin", force=True)
        assert forced.duplicates_forced == 1
        with db.session() as session:
            dup_audits = session.scalars(select(AuditEntry).where(
                AuditEntry.action == "likeness.enrol_duplicate")).all()
        assert [(a.subject, a.details["forced"]) for a in dup_audits] == [
            (f"person:{first.person_id}", False), (f"person:{first.person_id}", True)]
    finally:
        db.close()


def test_expired_consent_stops_matching_until_renewed(sqlite_url: str, tmp_path: Path) -> None:
    photo = save_png(group_photo(_crops(1), size=(400, 300)), tmp_path / "one.png")
    db = open_database(sqlite_url)
    try:
        person = _enrol(db, photo).person
        assert LikenessMatcher.load(db) is not None
        with db.session() as session:  # a year later: the review date has come
            session.execute(update(ConsentRecord).values(review_date=date.today()))
        assert LikenessMatcher.load(db) is None
        assert service.get_person(db, person.person_id).as_json()["matching"] is False
        service.renew(db, person.person_id, _consent(), actor=current_actor())
        matcher = LikenessMatcher.load(db)
        assert matcher is not None and matcher.index.persons() == {person.person_id}
    finally:
        db.close()


def _likeness_policy(tmp_path: Path):  # type: ignore[no-untyped-def]
    from consentry.policy.engine import RulesPolicy

    path = tmp_path / "policy.toml"
    path.write_text('version = 1\nname = "likeness"\n[[rule]]\nid = "protected"\naction = "review"\n'
                    'message = "A protected person appears"\nwhen = { likeness = true }\n')
    return RulesPolicy.from_file(path)


def test_enrol_match_remove_audit_and_forget(db_url: str, tmp_path: Path) -> None:
    """On SQLite and PostgreSQL: every step is audited; removal deletes the descriptors and
    the consent, and stored results, verdicts and audit entries keep only a pseudonym."""
    crop = _crops(1)
    photo = save_png(group_photo(crop, size=(400, 300)), tmp_path / "one.png")
    consent_doc = tmp_path / "consent.pdf"
    consent_doc.write_bytes(b"%PDF-1.4 signed consent form")
    name = "Alexandra Quintessa"
    db = open_database(db_url)
    try:
        consent = ConsentRequest("signed-document", CONSENT, date.today() + timedelta(days=90),
                                 consent_doc)
        person = _enrol(db, photo, name=name, consent=consent, copies=2).person
        person_id = person.person_id
        shown = service.get_person(db, person_id).as_json(detail=True)
        assert shown["faces"] == 2 and shown["consents"][0]["document"] == "consent.pdf"
        assert shown["consents"][0]["attested_by"] == current_actor()
        assert shown["consents"][0]["method"] == "signed-document"
        assert len(shown["consents"][0]["document_sha256"]) == 64
        assert "vector" not in str(shown)
        with db.session() as session:
            vectors = [bytes(v) for v in session.scalars(select(FaceEmbedding.vector))]

        matcher = LikenessMatcher.load(db)
        assert matcher is not None and matcher.index.persons() == {person_id}
        from consentry.pipeline.analysis import Analyser
        from consentry.pipeline.decision import decide_batch
        from consentry.settings import ScanSettings
        from consentry.signals.faces.signal import FacesSignal
        from consentry.store import scans as scan_store

        with db.session() as session:
            scan_id = scan_store.start_scan(session, {})
        report = Analyser(ScanSettings(), [FacesSignal]).analyse(crop[0])
        decide_batch([report], db, scan_id, [matcher], _likeness_policy(tmp_path))
        assert [(h["person"], h["name"]) for h in report.fields["likeness"]] == [(person_id, name)]
        assert report.verdict is not None and report.verdict.action == "review"

        removal = service.remove(db, person_id, actor=current_actor(), reason="asked")
        assert (removal.embeddings_deleted, removal.items_rewritten) == (2, 1)
        with db.session() as session:
            assert session.scalar(select(func.count(FaceEmbedding.id))) == 0
            assert session.scalar(select(func.count(ConsentRecord.id))) == 0
            assert session.get(Person, person_id) is None
            assert len(LikenessIndex.from_session(session, current_only=False)) == 0
            audits = session.execute(select(AuditEntry.action, AuditEntry.subject, AuditEntry.actor,
                                            AuditEntry.details).order_by(AuditEntry.id)).all()
            result = session.scalars(select(Item.result)).one()
            reasons = session.scalars(select(Verdict.reasons)).one()
        pseudonym = audits[-1].subject.removeprefix("person:")
        assert pseudonym.startswith("removed-")
        assert [(a.action, a.subject) for a in audits] == [
            ("likeness.enrol", f"person:{pseudonym}"), ("likeness.scan", f"scan:{scan_id}"),
            ("likeness.match", f"person:{pseudonym}"), ("likeness.remove", f"person:{pseudonym}")]
        assert all(a.actor == current_actor() for a in audits)
        # The match is still there (item, track, distance), about nobody in particular.
        assert [(h["person"], h["name"]) for h in result["likeness"]] == [(pseudonym, None)]
        for stored in (str(audits), str(result), str(reasons)):
            assert name not in stored and CONSENT not in stored and "consent.pdf" not in stored
            assert f"person {person_id}" not in stored and f"'person': {person_id}" not in stored
        assert LikenessMatcher.load(db) is None  # nobody enrolled: no matching at all
        matcher.index.remove(person_id)
        assert len(matcher.index) == 0
        if db.sqlite_path is not None:  # nor in the file's free pages or its write-ahead log
            files = [p for p in db.sqlite_path.parent.iterdir()
                     if p.name.startswith(db.sqlite_path.name) and p.is_file()]
            raw = b"".join(p.read_bytes() for p in files)
            assert name.encode() not in raw and CONSENT.encode() not in raw
            assert not any(v[:64] in raw for v in vectors)
    finally:
        db.close()


def test_a_scan_running_during_removal_stops_matching_the_person(sqlite_url: str,
                                                                 tmp_path: Path) -> None:
    from consentry.pipeline.analysis import Analyser
    from consentry.pipeline.decision import decide_batch
    from consentry.settings import ScanSettings
    from consentry.signals.faces.signal import FacesSignal
    from consentry.store import scans as scan_store

    crop = _crops(1)
    photo = save_png(group_photo(crop, size=(400, 300)), tmp_path / "one.png")
    db = open_database(sqlite_url)
    try:
        person = _enrol(db, photo, name="Alexandra Quintessa").person
        matcher = LikenessMatcher.load(db)  # a scan starts: its index holds the person
        assert matcher is not None
        service.remove(db, person.person_id, actor=current_actor())
        with db.session() as session:
            scan_id = scan_store.start_scan(session, {})
        report = Analyser(ScanSettings(), [FacesSignal]).analyse(crop[0])
        decide_batch([report], db, scan_id, [matcher], _likeness_policy(tmp_path))
        assert report.fields["likeness"] == [] and len(matcher.index) == 0
        with db.session() as session:
            assert "Alexandra" not in str(session.scalars(select(Item.result)).one())
    finally:
        db.close()


def test_person_list_show_remove_cli(run_cli, tmp_path: Path) -> None:
    photo = save_png(group_photo(_crops(1), size=(400, 300)), tmp_path / "one.png")
    enrolled = run_cli("person", "enrol", "--name", "Sam", "--consent-method", "video-call",
                       "--consent", CONSENT, "--review-date", REVIEW, "--photos", str(photo), "--json")
    assert enrolled.code == 0, enrolled.stderr
    pid = enrolled.lines[0]["person"]
    listed = run_cli("person", "list", "--json").lines
    assert [(p["person"], p["name"], p["faces"], p["review_date"]) for p in listed] == [
        (pid, "Sam", 1, REVIEW)]
    shown = run_cli("person", "show", str(pid), "--json").lines[0]
    assert (shown["consents"][0]["note"], shown["consents"][0]["method"]) == (CONSENT, "video-call")
    removed = run_cli("person", "remove", str(pid), "--json")
    assert removed.lines[0] == {"status": "removed", "person": pid, "embeddings_deleted": 1,
                                "items_rewritten": 0}
    assert run_cli("person", "list", "--json").lines == []
    missing = run_cli("person", "show", str(pid))
    assert missing.code == 2 and f"no enrolled person with id {pid}" in missing.stderr


def test_no_command_searches_a_photo_against_the_registry() -> None:
    """The registry is only ever compared with the operator's own scans: no command takes a
    photo and says who is in it, or lists where a person appears."""
    import click

    from consentry.cli.main import cli

    def walk(group: click.Group, prefix: str = ""):  # type: ignore[no-untyped-def]
        ctx = click.Context(group)
        for name in group.list_commands(ctx):  # the top level loads its commands lazily
            cmd = group.get_command(ctx, name)
            assert cmd is not None, name
            yield f"{prefix}{name}", cmd
            if isinstance(cmd, click.Group):
                yield from walk(cmd, f"{prefix}{name} ")

    commands = dict(walk(cli))
    assert {"scan", "bank", "person", "hash", "policy"} <= set(commands)
    assert {n for n in commands if n.startswith("person ")} == {
        "person enrol", "person renew", "person list", "person show", "person remove"}
    banned = ("search", "identify", "lookup", "recogni", "who", "find", "query", "appear")
    assert not [n for n in commands if any(b in n for b in banned)]
    # Commands of the registry that take files: only enrolment, which stores, never answers "who".
    for name in ("person renew", "person list", "person show", "person remove"):
        params = commands[name].params
        files = [p.name for p in params if isinstance(p.type, click.Path)]
        assert files == (["consent_file"] if name == "person renew" else []), name
        assert [p.name for p in params if isinstance(p, click.Argument)] in ([], ["person_id"])
