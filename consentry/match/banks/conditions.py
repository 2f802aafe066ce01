"""The policy condition the bank matcher offers: ``bank = [kinds]``, true when the item
matched an entry of an enabled bank of one of those kinds (JSON ``matches``)."""

from __future__ import annotations

from typing import Any

from consentry.signals.conditions import Condition, Outcome, one_of

BANK_KINDS = ("ncii", "deepfake", "other", "allow")


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


CONDITIONS = (
    Condition("bank", "banks", "matches", f"list of bank kinds from {list(BANK_KINDS)}",
              one_of(BANK_KINDS), _bank),
)
