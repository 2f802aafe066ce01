"""The rules policy: evaluate every rule on an item's findings and combine what fired.

Combination (documented in docs/policy.md): rules overridden by another fired rule drop out;
the action is the most severe of the rest (block > review > label > allow; nothing fired ->
allow); a review's priority is the highest among fired review rules; labels are collected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from consentry.policy.conditions import CONDITIONS
from consentry.policy.loader import load
from consentry.policy.spec import PRIORITIES, PolicySpec, Rule, severity
from consentry.types import ItemReport, ItemStatus, Reason, Verdict

FLAGGING_ACTIONS = ("block", "review")
_FIELD_OF_SIGNAL = {c.signal: c.field for c in CONDITIONS.values()}


class RulesPolicy:
    """A ``Policy`` (consentry.policy.base) driven by a policy file."""

    def __init__(self, spec: PolicySpec) -> None:
        self.spec = spec
        self.signals = sorted(spec.signals())

    @classmethod
    def from_file(cls, path: Path | None = None) -> RulesPolicy:
        """The policy in ``path``, or the shipped default; raises PolicyError when invalid."""
        return cls(load(path))

    def decide(self, report: ItemReport) -> None:
        report.decided = True
        if report.status is ItemStatus.ERROR and not report.results:
            report.verdict = None  # nothing was analysed: no verdict, not "allow"
            report.flagged = False
            return
        report.verdict = self.evaluate(report.findings(), report.skipped)
        report.flagged = report.verdict.action in FLAGGING_ACTIONS

    def evaluate(self, data: dict[str, Any], skipped: dict[str, str] | None = None) -> Verdict:
        """The verdict on an item's findings; ``skipped``: signal -> why the policy's cascade
        did not run it on this item (listed in the verdict, not among missing_signals)."""
        skipped = skipped or {}
        fired: list[tuple[Rule, list[Any]]] = []
        for rule in self.spec.rules:
            ok, outcomes = rule.when.evaluate(data)
            if ok:
                fired.append((rule, outcomes))
        overridden = {target: rule.id for rule, _ in fired for target in rule.overrides}
        active = [(r, o) for r, o in fired if r.id not in overridden]
        action = max((r.action for r, _ in active), key=severity, default="allow")
        priority = None
        if action == "review":
            priority = max((r.priority or "normal" for r, _ in active if r.action == "review"),
                           key=PRIORITIES.index)
        labels = sorted({r.label for r, _ in active if r.label})
        reasons = [_reason(rule, outcomes) for rule, outcomes in active]
        reasons.sort(key=lambda r: -severity(r.action))
        missing = [s for s in self.signals if _FIELD_OF_SIGNAL[s] not in data and s not in skipped]
        return Verdict(
            action=action, priority=priority, labels=tuple(labels), reasons=tuple(reasons),
            overridden=tuple((r.id, overridden[r.id]) for r, _ in fired if r.id in overridden),
            missing_signals=tuple(missing), policy=self.spec.ref,
            skipped=tuple(skipped.items()) if self.spec.gates else None,
        )


def _reason(rule: Rule, outcomes: list[Any]) -> Reason:
    details = "; ".join(o.text for o in outcomes if o.fired and o.text)
    evidence: dict[str, Any] = {}
    for outcome in outcomes:
        if outcome.fired:
            evidence.update(outcome.evidence)
    return Reason(code=rule.id, action=rule.action, priority=rule.priority, label=rule.label,
                  message=f"{rule.message}: {details}" if details else rule.message,
                  evidence=evidence)
