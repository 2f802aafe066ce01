"""The matchers that run after the signals, in order."""

from __future__ import annotations

import importlib

from consentry.match.base import Matcher

MATCHERS: dict[str, str] = {
    "banks": "consentry.match.banks.matcher:BankMatcher",
    "likeness": "consentry.match.likeness.matcher:LikenessMatcher",
}


def matcher_classes() -> list[type[Matcher]]:
    classes = []
    for target in MATCHERS.values():
        module_name, _, class_name = target.partition(":")
        classes.append(getattr(importlib.import_module(module_name), class_name))
    return classes
