"""The policy conditions the provenance signal offers (its JSON: ``provenance: {c2pa,
watermark, metadata}``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from consentry.signals.conditions import Condition, Outcome, is_bool, one_of

C2PA_STATES = ("absent", "invalid", "valid", "trusted")


def _flag(path: tuple[str, str], text: str) -> Callable[[bool, dict[str, Any]], Outcome]:
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


CONDITIONS = (
    Condition("c2pa_ai_generated", "provenance", "provenance", "true/false", is_bool,
              _flag(("c2pa", "ai_generated"), "C2PA manifest declares AI-generated media")),
    Condition("c2pa_state", "provenance", "provenance", f"list of states from {list(C2PA_STATES)}",
              one_of(C2PA_STATES), _c2pa_state),
    Condition("ai_watermark", "provenance", "provenance", "true/false", is_bool,
              _flag(("watermark", "detected"), "an AI image generator's invisible watermark is present")),
    Condition("ai_metadata", "provenance", "provenance", "true/false", is_bool,
              _flag(("metadata", "ai_generated"), "metadata names an AI image generator")),
)
