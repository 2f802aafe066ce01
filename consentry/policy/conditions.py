"""The condition vocabulary of a policy file: whatever the registered signals and matchers
offer (``Signal.conditions``, ``match.matchers.matcher_conditions``). The policy knows no
signal's JSON layout; each signal declares the conditions it offers on its own output.
"""

from __future__ import annotations

from consentry.match.matchers import matcher_conditions
from consentry.signals import catalog
from consentry.signals.conditions import CALIBRATED, Condition, Outcome

__all__ = ["CALIBRATED", "CONDITIONS", "SIGNALS", "Condition", "ConditionType", "Outcome"]

ConditionType = Condition  # the name the loader and older code use


def _collect() -> dict[str, Condition]:
    found: dict[str, Condition] = {}
    offered = [c for name in catalog.SIGNALS for c in catalog.signal_class(name).conditions]
    for condition in [*offered, *matcher_conditions()]:
        if condition.key in found:
            raise RuntimeError(f"two stages offer the policy condition {condition.key!r}")
        found[condition.key] = condition
    return found


CONDITIONS: dict[str, Condition] = _collect()
SIGNALS = sorted({c.signal for c in CONDITIONS.values()})
