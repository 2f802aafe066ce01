"""The matchers that run after the signals, in order, and the policy conditions each offers
(kept in light modules so a policy can be checked without loading a matcher's database code)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from consentry.signals.conditions import Condition

if TYPE_CHECKING:
    from consentry.match.base import Matcher

MATCHERS: dict[str, str] = {
    "banks": "consentry.match.banks.matcher:BankMatcher",
    "likeness": "consentry.match.likeness.matcher:LikenessMatcher",
}
CONDITION_MODULES: dict[str, str] = {
    "banks": "consentry.match.banks.conditions",
    "likeness": "consentry.match.likeness.conditions",
}


def matcher_classes() -> list[type[Matcher]]:
    classes = []
    for target in MATCHERS.values():
        module_name, _, class_name = target.partition(":")
        classes.append(getattr(importlib.import_module(module_name), class_name))
    return classes


def matcher_conditions() -> list[Condition]:
    return [c for module in CONDITION_MODULES.values()
            for c in importlib.import_module(module).CONDITIONS]
