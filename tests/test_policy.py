"""The default policy on ItemReports carrying the documented fields of every signal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from consentry.policy.engine import RulesPolicy
from consentry.types import ItemReport, MediaKind, SignalResult


@pytest.fixture(scope="module")
def policy() -> RulesPolicy:
    return RulesPolicy.from_file()


def item(**fields: Any) -> ItemReport:
    """An analysed image whose signals and matchers produced ``fields``."""
    report = ItemReport(path=Path("x.jpg"), kind=MediaKind.IMAGE)
    report.results["hash"] = SignalResult("hash", "1", {"pdq": {"hash": "0" * 64, "quality": 100}})
    for key in ("sexual", "manipulation", "faces", "provenance"):
        if key in fields:
            report.results[key] = SignalResult(key, "1", {key: fields.pop(key)})
    report.fields.update(fields)  # matcher output: matches, likeness
    return report


def match(kind: str, bank: str = "b", distance: int = 4) -> dict[str, Any]:
    return {"bank": bank, "kind": kind, "signal": "pdq", "hash": "f" * 64, "distance": distance}


LIKENESS = [{"person": "p-17", "track": 0, "distance": 0.41, "frames": [0]}]
FACE = [{"track": 0, "box": [10, 10, 90, 90]}]


def decide(policy: RulesPolicy, report: ItemReport) -> dict[str, Any]:
    policy.decide(report)
    assert report.verdict is not None
    return report.verdict.as_json()


def codes(verdict: dict[str, Any]) -> list[str]:
    return [r["code"] for r in verdict["reasons"]]


def test_ncii_match_blocks_with_a_reason_naming_the_bank(policy: RulesPolicy) -> None:
    report = item(matches=[match("ncii", bank="helpline-42", distance=6)])
    verdict = decide(policy, report)
    assert verdict["action"] == "block" and verdict["priority"] is None
    assert report.flagged
    assert codes(verdict) == ["ncii-match"]
    reason = verdict["reasons"][0]
    assert "helpline-42" in reason["message"] and "distance 6" in reason["message"]
    assert reason["evidence"]["matches"][0]["bank"] == "helpline-42"
    assert verdict["labels"] == ["known-ncii"]


def test_allow_bank_overrides_other_banks(policy: RulesPolicy) -> None:
    report = item(matches=[match("ncii"), match("deepfake"), match("allow", bank="memes")])
    verdict = decide(policy, report)
    assert verdict["action"] == "allow" and not report.flagged
    assert codes(verdict) == ["allow-match"]
    assert {o["code"] for o in verdict["overridden"]} == {"ncii-match", "deepfake-match"}
    assert all(o["by"] == "allow-match" for o in verdict["overridden"])


def test_allow_bank_does_not_override_a_likeness_finding(policy: RulesPolicy) -> None:
    report = item(matches=[match("allow")], likeness=LIKENESS, sexual={"score": 0.9, "regions": []})
    verdict = decide(policy, report)
    assert (verdict["action"], verdict["priority"]) == ("review", "high")
    assert "likeness-sexual-or-manipulated" in codes(verdict)


@pytest.mark.parametrize(("kind", "priority"), [("deepfake", "high"), ("other", "normal")])
def test_deepfake_and_other_banks_go_to_review(policy: RulesPolicy, kind: str, priority: str) -> None:
    verdict = decide(policy, item(matches=[match(kind)]))
    assert (verdict["action"], verdict["priority"]) == ("review", priority)


def test_likeness_and_sexual_content_is_high_priority_review(policy: RulesPolicy) -> None:
    report = item(likeness=LIKENESS, faces=FACE, sexual={"score": 0.8, "regions": []})
    verdict = decide(policy, report)
    assert (verdict["action"], verdict["priority"]) == ("review", "high") and report.flagged
    message = verdict["reasons"][0]["message"]
    assert "p-17" in message and "0.80 ≥ 0.50" in message
    assert verdict["reasons"][0]["evidence"]["sexual"] == 0.8


def test_likeness_with_manipulated_face_is_high_review_and_labelled(policy: RulesPolicy) -> None:
    manipulation = {"score": 0.93, "threshold": 0.7, "tracks": []}
    verdict = decide(policy, item(likeness=LIKENESS, manipulation=manipulation))
    assert (verdict["action"], verdict["priority"]) == ("review", "high")
    assert set(codes(verdict)) == {"likeness-sexual-or-manipulated", "manipulated-face"}
    assert verdict["labels"] == ["manipulated-face"]


def test_likeness_alone_or_below_thresholds_is_allowed(policy: RulesPolicy) -> None:
    report = item(likeness=LIKENESS, sexual={"score": 0.3, "regions": []},
                  manipulation={"score": 0.5, "threshold": 0.7, "tracks": []})
    verdict = decide(policy, report)
    assert verdict["action"] == "allow" and verdict["reasons"] == [] and not report.flagged


def test_manipulation_alone_is_labelled_and_low_priority_review(policy: RulesPolicy) -> None:
    verdict = decide(policy, item(manipulation={"score": 0.75, "threshold": 0.7, "tracks": []}))
    assert (verdict["action"], verdict["priority"]) == ("review", "low")
    assert verdict["labels"] == ["manipulated-face"]
    assert "0.75 ≥ 0.70" in verdict["reasons"][0]["message"]


def test_manipulation_uses_the_models_calibrated_operating_point(policy: RulesPolicy) -> None:
    """The default policy reads the threshold the manipulation model ships with."""
    assert decide(policy, item(manipulation={"score": 0.75, "threshold": 0.8}))["action"] == "allow"
    no_threshold = decide(policy, item(manipulation={"score": 0.99}))
    assert no_threshold["action"] == "allow"
    no_faces = decide(policy, item(manipulation={"score": None, "threshold": 0.5, "tracks": []}))
    assert no_faces["action"] == "allow" and "manipulation" not in no_faces["missing_signals"]


def test_a_numeric_threshold_overrides_the_calibrated_one() -> None:
    from consentry.policy.loader import parse

    strict = RulesPolicy(parse('version = 1\n[[rule]]\nid = "m"\naction = "review"\n'
                               'message = "m"\nwhen = { manipulation = 0.3 }\n', source="s.toml"))
    verdict = decide(strict, item(manipulation={"score": 0.35, "threshold": 0.8}))
    assert verdict["action"] == "review" and verdict["reasons"][0]["evidence"] == {
        "manipulation": 0.35, "manipulation_threshold": 0.3}


def test_c2pa_ai_generated_face_is_labelled_not_flagged(policy: RulesPolicy) -> None:
    provenance = {"c2pa": {"validation_state": "valid", "ai_generated": True,
                           "claim_generator": "gen/1.0"}, "watermark": {}, "metadata": {}}
    report = item(provenance=provenance, faces=FACE)
    verdict = decide(policy, report)
    assert verdict["action"] == "label" and verdict["labels"] == ["ai-generated"]
    assert not report.flagged
    assert verdict["reasons"][0]["evidence"]["claim_generator"] == "gen/1.0"
    assert decide(policy, item(provenance=provenance, faces=[]))["action"] == "allow"


def test_block_outranks_review_and_keeps_every_reason(policy: RulesPolicy) -> None:
    report = item(matches=[match("ncii")], likeness=LIKENESS, sexual={"score": 0.7, "regions": []})
    verdict = decide(policy, report)
    assert verdict["action"] == "block" and verdict["priority"] is None
    assert codes(verdict) == ["ncii-match", "likeness-sexual-or-manipulated"]


def test_signals_that_did_not_run_are_listed(policy: RulesPolicy) -> None:
    verdict = decide(policy, item())
    assert verdict["action"] == "allow"
    assert verdict["missing_signals"] == ["banks", "faces", "likeness", "manipulation",
                                          "provenance", "sexual"]
    verdict = decide(policy, item(matches=[], sexual={"score": 0.0, "regions": []}))
    assert "banks" not in verdict["missing_signals"] and "sexual" not in verdict["missing_signals"]


def test_unreadable_item_gets_no_verdict(policy: RulesPolicy) -> None:
    report = ItemReport(path=Path("broken.jpg"))
    report.fail("corrupt", "cannot decode")
    policy.decide(report)
    assert report.decided and report.verdict is None and not report.flagged


def test_verdict_names_the_exact_policy(policy: RulesPolicy) -> None:
    verdict = decide(policy, item())
    assert verdict["policy"].startswith("default@") and len(verdict["policy"]) == len("default@") + 12
