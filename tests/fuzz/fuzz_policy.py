"""Fuzz the policy loader: any text is a policy or a PolicyError with a reason; never
another exception (RecursionError, TypeError ...), and never slow."""

from __future__ import annotations

from pathlib import Path

import atheris
from _harness import run

with atheris.instrument_imports(include=["consentry.policy"]):
    from consentry.policy.loader import PolicyError, default_text, parse


def seeds(folder: Path) -> None:
    from consentry.testing.hostile import deep_policy, many_rules_policy

    (folder / "default.toml").write_text(default_text())
    (folder / "deep.toml").write_text(deep_policy(6))
    (folder / "rules.toml").write_text(many_rules_policy(3))
    (folder / "label.toml").write_text(
        'version = 1\n[[rule]]\nid = "ai"\naction = "label"\nlabel = "ai"\nmessage = "m"\n'
        "[rule.when]\nany = [{ c2pa_ai_generated = true }, { ai_watermark = true }]\n")


def test_one_input(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    try:
        spec = parse(text, source="fuzz.toml")
    except PolicyError as exc:
        if not str(exc):
            raise AssertionError("a PolicyError without a reason") from exc
        return
    for rule in spec.rules:  # what the engine and `policy show` do with a loaded policy
        rule.when.describe()
        rule.as_json()
    spec.required_signals()


if __name__ == "__main__":
    run(test_one_input, seeds)
