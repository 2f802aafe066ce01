"""The policy condition the likeness matcher offers: ``likeness = true``, an enrolled,
consenting person's face was found (JSON ``likeness``)."""

from __future__ import annotations

from typing import Any

from consentry.signals.conditions import Condition, Outcome, is_bool


def _likeness(want: bool, data: dict[str, Any]) -> Outcome:
    hits = list(data.get("likeness") or [])
    people = sorted({str(h.get("person")) for h in hits})
    text = (f"likeness of protected person {', '.join(people)}" if hits
            else "no protected person's likeness")
    evidence = [{"person": h.get("person"), "name": h.get("name"), "track": h.get("track"),
                 "distance": h.get("distance")}
                for h in hits]
    return Outcome(bool(hits) == want, {"likeness": evidence[:20]}, text)


CONDITIONS = (Condition("likeness", "likeness", "likeness", "true/false", is_bool, _likeness),)
