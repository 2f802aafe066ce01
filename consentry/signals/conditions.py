"""The policy vocabulary's building blocks: a ``Condition`` a signal (or matcher) offers to
policies, evaluated on the item's JSON fields. Each signal declares its own conditions
(``Signal.conditions``) beside the JSON it writes, so the policy engine never needs to know
any signal's layout; it only collects what the installed signals offer.

A signal that did not run leaves its field absent; a condition on it is then false and the
verdict lists the signal under ``missing_signals``, so "allow" never silently means "we did
not look".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

CALIBRATED = "calibrated"


@dataclass(frozen=True)
class Outcome:
    fired: bool
    evidence: dict[str, Any]
    text: str  # the human-readable part of the reason


@dataclass(frozen=True)
class Condition:
    key: str  # the name a policy file uses (`when = { key = value }`)
    signal: str  # the signal (or matcher) whose output it reads, for "unknown signal" / missing
    field: str  # the JSON field that is present when that signal ran
    value_help: str
    validate: Callable[[Any], str | None]  # None when the value is acceptable, else why not
    evaluate: Callable[[Any, dict[str, Any]], Outcome]


def is_bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"must be true or false, not {value!r}"


def is_score(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a score threshold between 0 and 1, not {value!r}"
    if not 0.0 < value <= 1.0:
        return (f"threshold {value} is impossible: scores lie in [0, 1], so "
                + ("it could never be reached" if value > 1 else "every item would pass it"))
    return None


def is_score_or_calibrated(value: Any) -> str | None:
    """A number, or "calibrated": the operating point the signal reports beside its score
    (``threshold``), e.g. the one a detector ships with its model."""
    if value == CALIBRATED:
        return None
    problem = is_score(value)
    return f"{problem}, or \"{CALIBRATED}\"" if problem else None


def one_of(allowed: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            return f"must be a non-empty list of names from {list(allowed)}, not {value!r}"
        bad = [v for v in value if v not in allowed]
        return f"unknown value(s) {bad}; allowed: {list(allowed)}" if bad else None

    return check


def score_vs_threshold(score: float, threshold: float) -> tuple[str, str, str]:
    """``(score, "≥" or "<", threshold)`` as text, with as many decimals as it takes for the
    comparison to read true: a score just under its threshold never shows as "0.65 < 0.65"."""
    fired = score >= threshold
    for digits in (2, 3, 4, 6):
        shown_score, shown_threshold = f"{score:.{digits}f}", f"{threshold:.{digits}f}"
        if (float(shown_score) >= float(shown_threshold)) == fired and (
                fired or shown_score != shown_threshold):
            break
    else:  # closer than a millionth: show the numbers as they are
        shown_score, shown_threshold = repr(float(score)), repr(float(threshold))
    return shown_score, "≥" if fired else "<", shown_threshold


def score_at_least(field: str, label: str) -> Callable[[Any, dict[str, Any]], Outcome]:
    """``{field: {score, threshold}}`` reaches the wanted threshold (or the signal's own)."""

    def evaluate(wanted: float | str, data: dict[str, Any]) -> Outcome:
        section = data.get(field) or {}
        score = section.get("score")
        threshold = section.get("threshold") if wanted == CALIBRATED else wanted
        if score is None or not isinstance(threshold, int | float):
            return Outcome(False, {}, f"no {label} score" if score is None
                           else f"{label} signal reports no calibrated threshold")
        fired = score >= threshold
        shown, op, limit = score_vs_threshold(float(score), float(threshold))
        return Outcome(fired, {field: round(float(score), 4), f"{field}_threshold": threshold},
                       f"{label} score {shown} {op} {limit}")

    return evaluate
