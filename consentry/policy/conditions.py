"""The condition vocabulary of a policy file: what a rule may test, and how.

Each condition reads one signal's JSON fields (documented in docs/json-schema.md and
docs/signals.md). A signal that did not run leaves its field absent; a condition on it is then
false and the verdict lists the signal under ``missing_signals``, so "allow" never silently
means "we did not look".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BANK_KINDS = ("ncii", "deepfake", "other", "allow")
C2PA_STATES = ("absent", "invalid", "valid", "trusted")


@dataclass(frozen=True)
class Outcome:
    fired: bool
    evidence: dict[str, Any]
    text: str  # the human-readable part of the reason


@dataclass(frozen=True)
class ConditionType:
    key: str
    signal: str  # the signal (or matcher) whose output it reads, for "unknown signal" / missing
    field: str  # the JSON field that is present when that signal ran
    value_help: str
    validate: Callable[[Any], str | None]  # None when the value is acceptable, else why not
    evaluate: Callable[[Any, dict[str, Any]], Outcome]


def _is_bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"must be true or false, not {value!r}"


def _is_score(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a score threshold between 0 and 1, not {value!r}"
    if not 0.0 < value <= 1.0:
        return (f"threshold {value} is impossible: scores lie in [0, 1], so "
                + ("it could never be reached" if value > 1 else "every item would pass it"))
    return None


CALIBRATED = "calibrated"


def _is_score_or_calibrated(value: Any) -> str | None:
    """A number, or "calibrated": the operating point the detector ships with its model
    (the signal reports it as ``threshold`` beside ``score``)."""
    if value == CALIBRATED:
        return None
    problem = _is_score(value)
    return f"{problem}, or \"{CALIBRATED}\"" if problem else None


def _one_of(allowed: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            return f"must be a non-empty list of names from {list(allowed)}, not {value!r}"
        bad = [v for v in value if v not in allowed]
        return f"unknown value(s) {bad}; allowed: {list(allowed)}" if bad else None

    return check


def _bank(kinds: list[str], data: dict[str, Any]) -> Outcome:
    hits = [m for m in data.get("matches") or [] if m.get("kind") in kinds]
    banks = sorted({str(m.get("bank")) for m in hits})
    evidence = [{"bank": m.get("bank"), "kind": m.get("kind"), "signal": m.get("signal"),
                 "distance": m.get("distance"), "case_id": m.get("case_id"),
                 "entry_id": m.get("entry_id")} for m in hits]
    best = min((m.get("distance") for m in hits if m.get("distance") is not None), default=None)
    text = (f"matched bank {', '.join(banks)} ({'/'.join(sorted({m['kind'] for m in hits}))})"
            + (f", best distance {best}" if best is not None else "")) if hits else ""
    return Outcome(bool(hits), {"matches": evidence[:20], "n_matches": len(hits)}, text)


def _likeness(want: bool, data: dict[str, Any]) -> Outcome:
    hits = list(data.get("likeness") or [])
    people = sorted({str(h.get("person")) for h in hits})
    text = (f"likeness of protected person {', '.join(people)}" if hits
            else "no protected person's likeness")
    evidence = [{"person": h.get("person"), "name": h.get("name"), "track": h.get("track"),
                 "distance": h.get("distance")}
                for h in hits]
    return Outcome(bool(hits) == want, {"likeness": evidence[:20]}, text)


def _faces(want: bool, data: dict[str, Any]) -> Outcome:
    n = len(data.get("faces") or [])
    return Outcome((n > 0) == want, {"faces": n}, f"{n} face(s) found" if n else "no face found")


def _score(field: str, label: str) -> Callable[[float, dict[str, Any]], Outcome]:
    def evaluate(wanted: float | str, data: dict[str, Any]) -> Outcome:
        section = data.get(field) or {}
        score = section.get("score")
        threshold = section.get("threshold") if wanted == CALIBRATED else wanted
        if score is None or not isinstance(threshold, int | float):
            return Outcome(False, {}, f"no {label} score" if score is None
                           else f"{label} signal reports no calibrated threshold")
        fired = score >= threshold
        op = "≥" if fired else "<"
        return Outcome(fired, {field: round(float(score), 4), f"{field}_threshold": threshold},
                       f"{label} score {score:.2f} {op} {threshold:.2f}")

    return evaluate


def _provenance_flag(path: tuple[str, str], text: str) -> Callable[[bool, dict[str, Any]], Outcome]:
    def evaluate(want: bool, data: dict[str, Any]) -> Outcome:
        section = (data.get("provenance") or {}).get(path[0]) or {}
        value = bool(section.get(path[1]))
        evidence = {f"{path[0]}.{path[1]}": value}
        if path[0] == "c2pa" and value:
            evidence |= {"claim_generator": section.get("claim_generator"),
                         "validation_state": section.get("validation_state")}
        if path[0] == "watermark" and value:
            evidence |= {"watermark": section.get("match")}
        if path[0] == "metadata" and value:
            evidence |= {"generators": section.get("generators")}
        return Outcome(value == want, evidence, text if value else f"not {text}")

    return evaluate


def _c2pa_state(states: list[str], data: dict[str, Any]) -> Outcome:
    c2pa = (data.get("provenance") or {}).get("c2pa") or {}
    state = c2pa.get("validation_state") or "absent"
    return Outcome(state in states, {"validation_state": state}, f"C2PA manifest is {state}")


CONDITIONS: dict[str, ConditionType] = {c.key: c for c in [
    ConditionType("bank", "banks", "matches", f"list of bank kinds from {list(BANK_KINDS)}",
                  _one_of(BANK_KINDS), _bank),
    ConditionType("likeness", "likeness", "likeness", "true/false", _is_bool, _likeness),
    ConditionType("faces", "faces", "faces", "true/false", _is_bool, _faces),
    ConditionType("sexual", "sexual", "sexual", "score threshold in (0, 1]", _is_score,
                  _score("sexual", "sexual-content")),
    ConditionType("manipulation", "manipulation", "manipulation",
                  f'score threshold in (0, 1], or "{CALIBRATED}" (the model\'s operating point)',
                  _is_score_or_calibrated, _score("manipulation", "face-manipulation")),
    ConditionType("c2pa_ai_generated", "provenance", "provenance", "true/false", _is_bool,
                  _provenance_flag(("c2pa", "ai_generated"),
                                   "C2PA manifest declares AI-generated media")),
    ConditionType("c2pa_state", "provenance", "provenance",
                  f"list of states from {list(C2PA_STATES)}", _one_of(C2PA_STATES), _c2pa_state),
    ConditionType("ai_watermark", "provenance", "provenance", "true/false", _is_bool,
                  _provenance_flag(("watermark", "detected"),
                                   "an AI image generator's invisible watermark is present")),
    ConditionType("ai_metadata", "provenance", "provenance", "true/false", _is_bool,
                  _provenance_flag(("metadata", "ai_generated"),
                                   "metadata names an AI image generator")),
]}

SIGNALS = sorted({c.signal for c in CONDITIONS.values()})
