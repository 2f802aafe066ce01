"""Policy files: every mistake is rejected at start with its line and the reason."""

from __future__ import annotations

import tomllib

import pytest

from consentry.policy.loader import PolicyError, default_text, load_default, parse

GOOD = """\
version = 1
name = "strict"

[[rule]]
id = "any-face-sexual"
action = "review"
priority = "high"
message = "Sexual content with a face"
when = { faces = true, sexual = 0.4 }

[[rule]]
id = "ai"
action = "label"
label = "ai-generated"
message = "AI-generated"
[rule.when]
any = [{ c2pa_ai_generated = true }, { ai_watermark = true }, { ai_metadata = true }]
"""


def rejected(text: str) -> str:
    with pytest.raises(PolicyError) as info:
        parse(text, source="test.toml")
    return str(info.value)


def test_default_policy_is_valid_and_shipped_as_package_data() -> None:
    spec = load_default()
    assert [r.id for r in spec.rules] == ["ncii-match", "deepfake-match", "other-match",
                                          "allow-match", "likeness-sexual-or-manipulated",
                                          "manipulated-face", "ai-generated-face"]
    assert tomllib.loads(default_text())["version"] == 1
    assert spec.rules[0].line == default_text().splitlines().index("[[rule]]") + 1


def test_a_valid_custom_policy_loads_with_rule_lines() -> None:
    spec = parse(GOOD, source="strict.toml")
    assert spec.name == "strict"
    assert [(r.id, r.line) for r in spec.rules] == [("any-face-sexual", 4), ("ai", 11)]
    assert spec.rules[0].priority == "high"
    assert spec.rules[1].when.describe() == ("(c2pa_ai_generated = true OR ai_watermark = true "
                                             "OR ai_metadata = true)")
    assert spec.signals() == {"faces", "sexual", "provenance"}


def test_unknown_signal_is_rejected_with_line_and_suggestion() -> None:
    message = rejected(GOOD.replace("faces = true, sexual = 0.4", "faces = true, sexuall = 0.4"))
    assert "line 9:" in message and "unknown signal condition 'sexuall'" in message
    assert "did you mean 'sexual'" in message


def test_typo_in_a_rule_key_is_rejected_with_line() -> None:
    message = rejected(GOOD.replace('action = "label"', 'acton = "label"'))
    assert "line 13:" in message and "unknown key 'acton'" in message
    assert "did you mean 'action'" in message


def test_typo_in_a_top_level_key_is_rejected() -> None:
    message = rejected(GOOD.replace('name = "strict"', 'nmae = "strict"'))
    assert "line 2:" in message and "unknown top-level key 'nmae'" in message


@pytest.mark.parametrize(("value", "why"), [("1.5", "could never be reached"),
                                             ("0", "every item would pass it"),
                                             ("-0.2", "every item would pass it"),
                                             ('"high"', "must be a score threshold"),
                                             ("true", "must be a score threshold")])
def test_impossible_threshold_is_rejected(value: str, why: str) -> None:
    message = rejected(GOOD.replace("sexual = 0.4", f"sexual = {value}"))
    assert "line 9:" in message and why in message


def test_calibrated_is_only_for_the_manipulation_signal() -> None:
    assert parse(GOOD.replace("sexual = 0.4", 'manipulation = "calibrated"'), source="t")
    message = rejected(GOOD.replace("sexual = 0.4", 'sexual = "calibrated"'))
    assert "line 9:" in message and "must be a score threshold" in message
    message = rejected(GOOD.replace("sexual = 0.4", 'manipulation = "calibrate"'))
    assert "line 9:" in message and 'or "calibrated"' in message


def test_bad_priority_action_and_bank_kind_are_rejected() -> None:
    message = rejected(GOOD.replace('priority = "high"', 'priority = "hgih"'))
    assert "line 7:" in message and "priority must be one of" in message
    message = rejected(GOOD.replace('action = "review"', 'action = "delete"'))
    assert "line 6:" in message and "action must be one of" in message
    message = rejected(GOOD.replace("faces = true, sexual = 0.4", 'bank = ["nci"]'))
    assert "line 9:" in message and "unknown value(s) ['nci']" in message


def test_priority_only_on_review() -> None:
    message = rejected(GOOD.replace('action = "review"', 'action = "block"'))
    assert "line 7:" in message and "priority applies only to action 'review'" in message


def test_every_problem_is_listed_at_once() -> None:
    text = GOOD.replace("sexual = 0.4", "sexual = 2").replace('acton', 'x').replace(
        'label = "ai-generated"', 'lable = "ai-generated"')
    message = rejected(text)
    # the renamed key is unknown, and the label action then lacks its label
    assert "3 problem(s)" in message
    assert "line 9:" in message and "line 14:" in message and "line 11:" in message


def test_duplicate_ids_and_unknown_overrides() -> None:
    message = rejected(GOOD.replace('id = "ai"', 'id = "any-face-sexual"'))
    assert "line 11:" in message and "used twice (first on line 4)" in message
    message = rejected(GOOD.replace('priority = "high"\n', 'priority = "high"\noverrides = ["aii"]\n'))
    assert "line 8:" in message and "overrides unknown rule 'aii' (did you mean 'ai'?)" in message
    # a key written after [rule.when] belongs to the conditions, and is said to be unknown there
    message = rejected(GOOD + 'overrides = ["any-face-sexual"]\n')
    assert "line 18:" in message and "unknown signal condition 'overrides'" in message


def test_invalid_toml_reports_tomllib_position() -> None:
    message = rejected("version = 1\n[[rule]]\nid = \n")
    assert "not valid TOML" in message and "line 3" in message


def test_version_and_rules_are_required() -> None:
    assert "'version = 1' is required" in rejected(GOOD.replace("version = 1\n", ""))
    assert "at least one [[rule]]" in rejected("version = 1\n")


def test_label_action_needs_a_label_and_when_is_required() -> None:
    message = rejected(GOOD.replace('label = "ai-generated"\n', ""))
    assert "line 11:" in message and "needs a 'label'" in message
    message = rejected(GOOD.replace("when = { faces = true, sexual = 0.4 }\n", ""))
    assert "'when' (the conditions) is required" in message


def test_every_condition_and_default_rule_is_documented() -> None:
    from pathlib import Path

    from consentry.policy.conditions import CONDITIONS

    doc = (Path(__file__).resolve().parents[1] / "docs" / "policy.md").read_text()
    for key in CONDITIONS:
        assert f"| `{key}` |" in doc, f"condition {key!r} missing from docs/policy.md"
    for rule in load_default().rules:
        assert f"| `{rule.id}` |" in doc, f"default rule {rule.id!r} missing from docs/policy.md"


# -- hostile policy files: refused at once, never a RecursionError --------------------------

def test_a_policy_nested_thousands_deep_is_refused_clearly() -> None:
    from consentry.testing.hostile import deep_policy

    assert "'any' nested too deeply" in rejected(deep_policy(5))  # the checker's own limit
    for depth in (5000, 100_000):  # refused before tomllib would recurse
        message = rejected(deep_policy(depth))
        assert f"nested {2 * depth + 2:,} deep, over the limit of 32" in message, message[:300]


def test_a_policy_with_100k_rules_is_refused_clearly() -> None:
    from consentry.testing.hostile import many_rules_policy

    message = rejected(many_rules_policy(100_000))
    assert "over the limit" in message
    message = rejected(many_rules_policy(5_000))  # under the size limit: the rule count says no
    assert "5,000 rules, over the limit of 1,000" in message


def test_the_largest_allowed_policy_checks_quickly_and_lists_problems_briefly() -> None:
    from consentry.policy.loader import MAX_LISTED, MAX_RULES
    from consentry.testing.hostile import many_rules_policy

    spec = parse(many_rules_policy(MAX_RULES), source="big.toml")
    assert len(spec.rules) == MAX_RULES
    broken = many_rules_policy(MAX_RULES).replace('action = "review"', 'action = "reveiw"')
    message = rejected(broken)
    assert f"{MAX_RULES} problem(s)" in message
    assert message.count("\n") <= MAX_LISTED + 2 and f"and {MAX_RULES - MAX_LISTED} more" in message


def test_a_huge_policy_file_is_refused_before_reading(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from consentry.policy.loader import load_file

    path = tmp_path / "huge.toml"
    path.write_bytes(b"#" * (5 * 1024 * 1024))
    with pytest.raises(PolicyError, match="over 1,048,576 characters"):
        load_file(path)


# -- block/review rules whose signals will not run ------------------------------------------

def test_missing_signals_of_flagging_rules_are_named() -> None:
    from consentry.errors import ConfigError
    from consentry.policy.spec import MissingSignalsError

    spec = parse(GOOD, source="strict.toml")
    assert spec.required_signals() == {"faces": ["any-face-sexual"], "sexual": ["any-face-sexual"]}
    with pytest.raises(MissingSignalsError) as info:
        spec.check_signals(["hash", "faces", "banks"])
    assert isinstance(info.value, ConfigError)  # the CLI's exit 2
    assert "sexual (rule 'any-face-sexual')" in str(info.value)
    assert "--allow-missing-signals" in str(info.value)
    assert spec.check_signals(["hash", "faces"], allow_missing=True) == ["sexual"]
    assert spec.check_signals(["faces", "sexual"]) == []
    # the label rule's provenance signal is not required: without it nothing is let through
    assert "provenance" not in spec.required_signals()
