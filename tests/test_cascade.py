"""The policy's cascade: signals that run only when a gate on earlier signals holds.

What is pinned: on every item the cascade analyses fully, the findings and the verdict are
those of running every signal under the same rules; every item it does not analyse fully lists
the skipped signals with a reason; the default policy runs everything exactly as before; a
wrong cascade is refused at start with its line and reason.

Media: real faces from ../shared (DFDC crops on a plain background), synthetic shapes, and
the same pictures with an AI generator's PNG metadata chunk (what lets them through the fast
profile's gate without any sexual imagery: none exists in this repository).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from consentry.errors import ConfigError
from consentry.pipeline.analysis import Analyser
from consentry.policy.engine import RulesPolicy
from consentry.policy.loader import PolicyError, load_default, load_file, parse
from consentry.settings import ScanSettings
from consentry.signals import catalog
from consentry.testing.faces import group_photo, real_crops
from consentry.testing.samples import synthetic_scene
from tests.conftest import DEEPFAKE_DEV, need

ALL = ("hash", "faces", "manipulation", "sexual", "provenance")


def _available() -> str | None:
    for name in ALL:
        if (reason := catalog.unavailable_reason(name)) is not None:
            return f"{name}: {reason}"
    return None


def _ai_png(rgb: Any, path: Path) -> Path:
    """The picture as a PNG with an AUTOMATIC1111 ``parameters`` chunk (metadata hint)."""
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a portrait\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1")
    Image.fromarray(rgb).save(path, pnginfo=info)
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    need(DEEPFAKE_DEV / "labels.tsv")
    folder = tmp_path_factory.mktemp("cascade-media")
    two = group_photo(real_crops(DEEPFAKE_DEV, 2, offset=10))
    one = group_photo(real_crops(DEEPFAKE_DEV, 1, offset=30), size=(640, 480))
    Image.fromarray(two).save(folder / "faces.jpg", quality=90)
    synthetic_scene(4).save(folder / "shapes.png")
    return [folder / "faces.jpg", folder / "shapes.png",
            _ai_png(two, folder / "faces-ai.png"), _ai_png(one, folder / "face-ai.png"),
            _ai_png(np.asarray(synthetic_scene(5).convert("RGB")), folder / "shapes-ai.png")]


def _without_cascade(spec: Any) -> Any:
    return dataclasses.replace(spec, gates=())


def _run(spec: Any, paths: list[Path]) -> list[Any]:
    classes = catalog.resolve(ALL)
    settings = ScanSettings(cascade=spec.cascade or None)
    analyser = Analyser(settings, classes)
    policy = RulesPolicy(spec)
    reports = []
    for path in paths:
        report = analyser.analyse(path)
        policy.decide(report)
        reports.append(report)
    return reports


def _verdict(report: Any) -> dict[str, Any]:
    out = report.verdict.as_json()
    out.pop("policy")  # the file's digest: the two policies differ by their cascade tables
    out.pop("skipped_signals", None)
    return out


@pytest.mark.skipif(_available() is not None, reason=str(_available()))
def test_cascade_verdicts_equal_running_everything_on_fully_analysed_items(media: list[Path]) -> None:
    spec = load_file(Path("cascade"))  # the shipped fast profile
    cascaded = _run(spec, media)
    full = _run(_without_cascade(spec), media)
    fully_analysed = 0
    for fast, every in zip(cascaded, full, strict=True):
        assert fast.status.value == every.status.value == "ok", (fast.error, every.error)
        assert not fast.signal_errors and not every.signal_errors
        skipped = fast.verdict.as_json()["skipped_signals"]
        assert [s["signal"] for s in skipped] == list(fast.skipped)
        assert "skipped_signals" not in every.verdict.as_json()  # no cascade: field left out
        assert every.skipped == {}
        if not skipped:
            fully_analysed += 1
            assert fast.findings() == every.findings(), fast.path.name
            assert _verdict(fast) == _verdict(every), fast.path.name
            continue
        # Not looked at: said so, with the reason, and those fields are absent (not "no face").
        reasons = {s["signal"]: s["reason"] for s in skipped}
        if "faces" in reasons:
            assert set(reasons) == {"faces", "manipulation", "likeness"}
            assert reasons["faces"].startswith("Faces are looked for only in sexual")
            assert "sexual-content score" in reasons["faces"] and "< 0.30" in reasons["faces"]
            assert reasons["manipulation"] == reasons["likeness"] == "needs faces, which was skipped"
        else:  # faces ran and found none: the second stage's gate held nothing
            assert fast.findings()["faces"] == every.findings()["faces"] == []
            assert reasons == {"manipulation": "Face manipulation is scored only where a face "
                               "was found: no face found",
                               "likeness": "Protected persons are looked for only where a face "
                               "was found: no face found"}
        assert not set(reasons) & set(fast.results)
        for name, result in fast.results.items():  # what ran equals the full run
            assert result.fields == every.results[name].fields
        assert not set(reasons) & set(fast.verdict.missing_signals)
        # these neutral items' verdicts agree too; what was skipped is not "missing"
        fast_verdict, every_verdict = _verdict(fast), _verdict(every)
        assert set(fast_verdict.pop("missing_signals")) == set(
            every_verdict.pop("missing_signals")) - set(reasons)
        assert fast_verdict == every_verdict
    by_name = {r.path.name: r for r in cascaded}
    # the AI-labelled pictures with faces pass both gates; ordinary ones neither
    assert fully_analysed == 2 and len(by_name["faces-ai.png"].findings()["faces"]) == 2
    assert set(by_name["faces.jpg"].skipped) == set(by_name["shapes.png"].skipped) == {
        "faces", "manipulation", "likeness"}
    assert set(by_name["shapes-ai.png"].skipped) == {"manipulation", "likeness"}


def test_default_policy_has_no_cascade_and_keeps_the_run_order() -> None:
    spec = load_default()
    assert spec.gates == () and not spec.cascade
    assert ScanSettings().cascade is None
    verdict = RulesPolicy(spec).evaluate({"faces": []})
    assert "skipped_signals" not in verdict.as_json()


def test_shipped_cascade_profile_has_the_default_rules() -> None:
    fast, default = load_file(Path("cascade")), load_default()
    assert [r.as_json() for r in fast.rules] == [r.as_json() for r in default.rules]
    assert [g.signal for g in fast.gates] == ["faces", "manipulation", "likeness"]
    assert fast.name == "cascade" and fast.source == "builtin:cascade"
    assert fast.as_json()["cascade"][1] == {"signal": "manipulation", "when": {"faces": True},
                                            "message": "Face manipulation is scored only where "
                                            "a face was found"}


def test_gated_signals_run_after_what_their_gates_read() -> None:
    cascade = load_file(Path("cascade")).cascade
    requires = {c.name: c.requires for c in catalog.resolve(None)}
    assert cascade.order(list(ALL), requires) == ["hash", "provenance", "sexual", "faces",
                                                  "manipulation"]
    with pytest.raises(ConfigError, match="reads provenance, sexual, which this scan does not run"):
        cascade.order(["hash", "faces"], requires)
    assert cascade.order(["hash", "sexual", "provenance"], requires) == ["hash", "sexual",
                                                                        "provenance"]


POLICY = """\
version = 1

[[rule]]
id = "r"
action = "review"
message = "m"
when = { sexual = 0.5 }
"""


def rejected(text: str) -> str:
    with pytest.raises(PolicyError) as info:
        parse(text, source="c.toml")
    return str(info.value)


def gate(body: str) -> str:
    return POLICY + "\n[[cascade]]\n" + body


def test_a_valid_gate_loads_with_its_line() -> None:
    spec = parse(gate('signal = "faces"\nmessage = "only sexual"\nwhen = { sexual = 0.2 }\n'),
                 source="c.toml")
    assert [(g.signal, g.line) for g in spec.gates] == [("faces", 9)]
    assert spec.gates[0].when.describe() == "sexual ≥ 0.2"


@pytest.mark.parametrize(("body", "line", "expected"), [
    ('signal = "face"\nmessage = "m"\nwhen = { sexual = 0.2 }\n', 10,
     "'signal' must name a signal or 'likeness' (did you mean 'faces'?)"),
    ('signal = "faces"\nmesage = "m"\nwhen = { sexual = 0.2 }\n', 11,
     "unknown key 'mesage' (did you mean 'message'?)"),
    ('signal = "faces"\nwhen = { sexual = 0.2 }\n', 9, "'message' (why the signal may be skipped"),
    ('signal = "faces"\nmessage = "m"\n', 9, "'when' (the conditions under which the signal runs)"),
    ('signal = "faces"\nmessage = "m"\nwhen = { sexual = 1.5 }\n', 12, "could never be reached"),
    ('signal = "faces"\nmessage = "m"\nwhen = { sexuall = 0.2 }\n', 12,
     "unknown signal condition 'sexuall' (did you mean 'sexual'?)"),
    ('signal = "faces"\nmessage = "m"\nwhen = { bank = ["ncii"] }\n', 12,
     "a gate reads signals only, not banks (matchers run after analysis)"),
    ('signal = "sexual"\nmessage = "m"\nwhen = { likeness = true }\n', 12,
     "a gate reads signals only, not likeness"),
    ('signal = "faces"\nmessage = "m"\nwhen = { faces = true }\n', 12,
     "a gate cannot read the signal it gates"),
])
def test_bad_gates_are_rejected_with_line_and_reason(body: str, line: int, expected: str) -> None:
    message = rejected(gate(body))
    assert f"line {line}:" in message and expected in message, message


def test_a_signal_gated_twice_and_a_cycle_are_rejected() -> None:
    twice = gate('signal = "faces"\nmessage = "a"\nwhen = { sexual = 0.2 }\n') + (
        '\n[[cascade]]\nsignal = "faces"\nmessage = "b"\nwhen = { sexual = 0.3 }\n')
    assert "line 14:" in (m := rejected(twice)) and "'faces' is gated twice (first on line 9)" in m
    # faces waits on manipulation, which needs faces
    cycle = gate('signal = "faces"\nmessage = "a"\nwhen = { manipulation = 0.5 }\n')
    message = rejected(cycle)
    assert "signals would wait on each other (faces -> manipulation -> faces)" in message


def test_scan_refuses_a_cascade_that_reads_a_signal_it_does_not_run(run_cli, tmp_path: Path) -> None:
    synthetic_scene(1).save(tmp_path / "a.png")
    result = run_cli("scan", str(tmp_path / "a.png"), "--signals", "hash,faces",
                     "--policy", "cascade", "--allow-missing-signals")
    assert result.code == 2, (result.code, result.stderr)
    assert "gate of 'faces' reads provenance, sexual, which this scan does not run" in result.stderr


class _Kept:
    """A sink that keeps the stored reports."""

    def __init__(self) -> None:
        self.reports: list[Any] = []

    def start(self, scan_id: int, total: int | None) -> None: ...
    def item(self, report: Any) -> None: self.reports.append(report)
    def flush(self) -> None: ...
    def finish(self, summary: Any) -> None: ...


@pytest.mark.skipif(_available() is not None, reason=str(_available()))
def test_pipeline_given_paths_applies_its_policys_cascade(tmp_path: Path, sqlite_url: str) -> None:
    """The fronts that hand Pipeline.scan paths (the service's job workers) get the policy's
    cascade without setting it themselves, as the CLI's scan does."""
    from consentry.pipeline.scan import Pipeline
    from consentry.store.db import open_database

    synthetic_scene(3).save(tmp_path / "shapes.png")
    kept = _Kept()
    db = open_database(sqlite_url)
    try:
        Pipeline(db, RulesPolicy(load_file(Path("cascade")))).scan(
            [tmp_path / "shapes.png"], [kept], ScanSettings(signals=ALL), workers=1)
    finally:
        db.close()
    (report,) = kept.reports
    assert set(report.skipped) == {"faces", "manipulation", "likeness"}
    assert [s["signal"] for s in report.verdict.as_json()["skipped_signals"]] == list(report.skipped)
