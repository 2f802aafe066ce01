"""A loaded, validated policy: rules that map signal findings to actions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from consentry.errors import ConfigError
from consentry.policy.conditions import CONDITIONS, Outcome

ACTIONS = ("allow", "label", "review", "block")  # in increasing severity
PRIORITIES = ("low", "normal", "high")
FLAGGING = ("review", "block")  # the actions that flag an item (exit code 1)


class MissingSignalsError(ConfigError):
    """The policy's block or review rules read signals the scan would not run: every item
    would be allowed without being looked at. Exit code 2."""

    code = "missing_signals"


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
    gates: tuple[Any, ...] = ()  # consentry.policy.cascade.Gate: signals run only when ...

    @property
    def cascade(self) -> Any:
        """The policy's ``Cascade`` (empty, i.e. false, when every signal always runs)."""
        from consentry.policy.cascade import Cascade

        return Cascade(self.gates)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.digest[:12]}"

    def signals(self) -> set[str]:
        found: set[str] = set()
        for rule in self.rules:
            found |= rule.when.signals()
        return found

    def required_signals(self) -> dict[str, list[str]]:
        """The signals (and matchers) the block and review rules read: signal -> the ids of
        the rules that need it. Label and allow rules are left out: without their signal they
        cannot flag anything, so nothing is silently let through."""
        needed: dict[str, list[str]] = {}
        for rule in self.rules:
            if rule.action in FLAGGING:
                for signal in sorted(rule.when.signals()):
                    needed.setdefault(signal, []).append(rule.id)
        return needed

    def check_signals(self, ran: Iterable[str], *, allow_missing: bool = False) -> list[str]:
        """Raise MissingSignalsError when a block or review rule needs a signal that is not in
        ``ran`` (the signals and matchers this scan runs), unless ``allow_missing``; return
        the missing ones (empty when none)."""
        ran = set(ran)
        missing = {s: ids for s, ids in self.required_signals().items() if s not in ran}
        if missing and not allow_missing:
            listed = "; ".join(f"{signal} (rule{'s' if len(ids) > 1 else ''} "
                               f"{', '.join(repr(i) for i in ids[:5])}"
                               f"{f' and {len(ids) - 5} more' if len(ids) > 5 else ''})"
                               for signal, ids in sorted(missing.items()))
            raise MissingSignalsError(
                f"policy {self.ref}: block/review rules need signals that will not run: "
                f"{listed}. Run them (--signals), use a policy without those rules, or pass "
                "--allow-missing-signals to scan anyway (those rules then never fire).")
        return sorted(missing)

    def as_json(self) -> dict[str, Any]:
        out = {"name": self.name, "source": self.source, "sha256": self.digest,
               "rules": [r.as_json() for r in self.rules]}
        if self.gates:
            out["cascade"] = [g.as_json() for g in self.gates]
        return out
