"""A loaded, validated policy: rules that map signal findings to actions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from consentry.policy.conditions import CONDITIONS, Outcome

ACTIONS = ("allow", "label", "review", "block")  # in increasing severity
PRIORITIES = ("low", "normal", "high")


def severity(action: str) -> int:
    return ACTIONS.index(action)


@dataclass(frozen=True)
class Condition:
    key: str
    value: Any

    @property
    def signal(self) -> str:
        return CONDITIONS[self.key].signal

    def evaluate(self, data: dict[str, Any]) -> Outcome:
        return CONDITIONS[self.key].evaluate(self.value, data)

    def as_json(self) -> dict[str, Any]:
        return {self.key: self.value}


@dataclass(frozen=True)
class Clause:
    """Every condition holds, and (when ``any_of`` is given) at least one of those clauses."""

    conditions: tuple[Condition, ...] = ()
    any_of: tuple[Clause, ...] = ()

    def signals(self) -> set[str]:
        found = {c.signal for c in self.conditions}
        for sub in self.any_of:
            found |= sub.signals()
        return found

    def evaluate(self, data: dict[str, Any]) -> tuple[bool, list[Outcome]]:
        outcomes = [c.evaluate(data) for c in self.conditions]
        if not all(o.fired for o in outcomes):
            return False, outcomes
        if not self.any_of:
            return True, outcomes
        for sub in self.any_of:
            fired, sub_outcomes = sub.evaluate(data)
            if fired:
                return True, outcomes + sub_outcomes
        return False, outcomes

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for c in self.conditions:
            out |= c.as_json()
        if self.any_of:
            out["any"] = [sub.as_json() for sub in self.any_of]
        return out

    def describe(self) -> str:
        parts = [f"{c.key} {_op(c)} {_show(c.value)}" for c in self.conditions]
        if self.any_of:
            parts.append("(" + " OR ".join(sub.describe() for sub in self.any_of) + ")")
        return " AND ".join(parts)


def _op(c: Condition) -> str:
    if c.key in ("sexual", "manipulation"):
        return "≥"
    return "in" if isinstance(c.value, list) else "="


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(value) + "]"
    return str(value)


@dataclass(frozen=True)
class Rule:
    id: str
    action: str
    message: str
    when: Clause
    priority: str | None = None
    label: str | None = None
    overrides: tuple[str, ...] = ()
    line: int = 0

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "action": self.action, "priority": self.priority,
                               "label": self.label, "message": self.message,
                               "when": self.when.as_json(), "overrides": list(self.overrides)}
        return {k: v for k, v in out.items() if v not in (None, [])}


@dataclass(frozen=True)
class PolicySpec:
    name: str
    source: str  # file path, or "builtin:default"
    digest: str  # sha256 of the file's bytes: which exact policy produced a verdict
    rules: tuple[Rule, ...] = field(default_factory=tuple)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.digest[:12]}"

    def signals(self) -> set[str]:
        found: set[str] = set()
        for rule in self.rules:
            found |= rule.when.signals()
        return found

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "sha256": self.digest,
                "rules": [r.as_json() for r in self.rules]}
