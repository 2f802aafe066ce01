"""Review decisions, one set of rules for the browser and the API.

``confirm`` (label + bank: the item's hashes go into that bank, so the next upload of the same
media matches it), ``reject`` (optionally into an allow bank), ``escalate`` (to a senior
reviewer); on an appealed item a senior reviewer who took no part in it before may ``uphold``
or ``reverse`` (the hashes the confirm added are withdrawn at once). The bank change, the
decision row, the case state and the audit row commit together; then the bank index is
brought up to date and the ``decision`` webhook event is queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from consentry.actions.webhooks import queue_event
from consentry.errors import ConfigError
from consentry.match.banks import index as bank_index
from consentry.match.banks import service as banks
from consentry.match.banks.records import RecordError, records_from_item
from consentry.store import review as review_store
from consentry.store.db import Database
from consentry.store.retention import MediaVault
from consentry.store.tables.core import Item
from consentry.store.tables.review import ReviewDecision
from consentry.store.tables.service import Job

DECISIONS = ("confirm", "reject", "escalate", "uphold", "reverse")
# what each state allows, and who: (decision, roles, the state it leads to)
RULES: dict[str, dict[str, tuple[tuple[str, ...], str]]] = {
    "open": {"confirm": (("reviewer", "senior_reviewer"), "confirmed"),
             "reject": (("reviewer", "senior_reviewer"), "rejected"),
             "escalate": (("reviewer",), "escalated")},
    "escalated": {"confirm": (("senior_reviewer",), "confirmed"),
                  "reject": (("senior_reviewer",), "rejected")},
    "appealed": {"uphold": (("senior_reviewer",), "upheld"),
                 "reverse": (("senior_reviewer",), "reversed")},
}


class DecisionError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Outcome:
    item_id: int
    decision: str
    state: str
    bank: str | None
    entries: int

    def as_json(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "decision": self.decision, "state": self.state,
                "bank": self.bank, "entries": self.entries}


def allowed(state: str | None, role: str) -> tuple[str, ...]:
    """The decisions ``role`` may take on an item in ``state``."""
    return tuple(d for d, (roles, _) in RULES.get(state or "", {}).items() if role in roles)


def case_id(item_id: int) -> str:
    return f"review-item-{item_id}"


def decide(db: Database, item_id: int, decision: str, *, actor: str, role: str, reviewer_name: str | None,
           bank: str | None = None, label: str | None = None, note: str | None = None,
           vault: MediaVault | None = None) -> Outcome:
    if decision not in DECISIONS:
        raise DecisionError(400, f"decision is one of {', '.join(DECISIONS)}")
    label = (label or "").strip() or None
    note = (note or "").strip() or None
    bank = (bank or "").strip() or None
    if (label and len(label) > 100) or (note and len(note) > 4000):
        raise DecisionError(400, "a label is at most 100 characters, a note at most 4000")
    bank_changed = False
    entries = 0
    with db.session() as session:
        item = session.get(Item, item_id)
        if item is None:
            raise DecisionError(404, f"no item {item_id}")
        state = review_store.state_of(session, item_id)
        if state not in RULES:
            raise DecisionError(409, f"item {item_id} is not waiting for a decision (state: {state})")
        rule = RULES[state].get(decision)
        if rule is None:
            raise DecisionError(409, f"{decision} is not possible on an item that is {state} "
                                f"(possible: {', '.join(RULES[state])})")
        roles, new_state = rule
        if role not in roles:
            raise DecisionError(403, f"the {role} role may not {decision} an item that is {state} "
                                f"(needs {', '.join(roles)})")
        held = review_store.active_claim(session, item_id)
        if held is not None and held.name != reviewer_name:
            raise DecisionError(409, f"item {item_id} is taken by {held.name}")
        if decision in ("uphold", "reverse"):
            before = set(session.scalars(select(ReviewDecision.actor).where(
                ReviewDecision.item_id == item_id, ReviewDecision.decision != "appeal")))
            if actor in before:
                raise DecisionError(403, "an appeal is decided by a senior reviewer who took no part "
                                    "in the item before")
        target = bank
        if decision == "confirm":
            if not bank or not label:
                raise DecisionError(400, "confirm needs a bank and a label")
            entries = _add_hashes(session, item, bank, actor, label, allow=False)
            bank_changed = True
        elif decision == "reject" and bank:
            entries = _add_hashes(session, item, bank, actor, label or "false positive", allow=True)
            bank_changed = True
        elif decision == "reverse":
            case = review_store.case_row(session, item_id)
            target = case.bank if case is not None else None
            if target:
                try:
                    entries = len(banks.withdraw(session, banks.get_bank(session, target), actor,
                                                 f"appeal upheld: review of item {item_id} reversed",
                                                 case_id=case_id(item_id)))
                except ConfigError:  # the bank was deleted since: nothing left to withdraw
                    entries = 0
                bank_changed = True
        elif decision == "uphold":
            case = review_store.case_row(session, item_id)
            target = case.bank if case is not None else None
        review_store.record_decision(session, item_id, actor, role, decision, new_state, bank=target,
                                     label=label, note=note, entries=entries,
                                     case_id=case_id(item_id) if bank_changed else None)
        review_store.release(session, item_id)
        if vault is not None and new_state != "escalated":
            vault.schedule(session, item_id)
        external = session.scalar(select(Job.external_id).where(Job.item_id == item_id))
    if bank_changed:
        bank_index.sync(db)  # matchable (or no longer) from the next upload on
    outcome = Outcome(item_id, decision, new_state, target, entries)
    queue_event(db, "decision", [{**outcome.as_json(), "label": label, "note": note, "actor": actor,
                                  "external_id": external, "at": datetime.now(UTC).isoformat()}])
    return outcome


def _add_hashes(session, item: Item, bank_name: str, actor: str, label: str, *, allow: bool) -> int:  # type: ignore[no-untyped-def]
    try:
        bank = banks.get_bank(session, bank_name)
    except ConfigError as exc:
        raise DecisionError(400, str(exc)) from None
    if allow and bank.kind != "allow":
        raise DecisionError(400, f"bank {bank_name!r} is not an allow bank")
    if not allow and bank.kind == "allow":
        raise DecisionError(400, f"confirm into a bank of harmful media, not the allow bank {bank_name!r}")
    try:
        records = records_from_item(item.result or {})
    except RecordError as exc:
        raise DecisionError(409, f"item {item.id} has no hashes to add ({exc})") from None
    result = banks.add_records(session, bank, records, source="review", actor=actor,
                               case_id=case_id(item.id), note=label)
    return result.added


def appeal(db: Database, item_id: int, *, actor: str, key_id: str | None, role: str, reason: str,
           vault: MediaVault | None = None) -> Outcome:
    """An uploader's appeal reopens a confirmed item for a senior reviewer. A submitter may
    appeal only an item from its own upload."""
    reason = reason.strip()
    if not reason or len(reason) > 4000:
        raise DecisionError(400, "say why (reason, 1-4000 characters)")
    with db.session() as session:
        if session.get(Item, item_id) is None:
            raise DecisionError(404, f"no item {item_id}")
        if role == "submitter":
            owner = session.scalar(select(Job.key_id).where(Job.item_id == item_id))
            if owner is None or owner != key_id:
                raise DecisionError(404, f"no item {item_id}")  # others' items are not shown
        state = review_store.state_of(session, item_id)
        if state != "confirmed":  # once: an upheld or reversed appeal is final
            raise DecisionError(409, f"only a confirmed item can be appealed (this one is {state})")
        review_store.record_decision(session, item_id, actor, role, "appeal", "appealed", note=reason)
        if vault is not None:
            vault.reopen(session, item_id)
    outcome = Outcome(item_id, "appeal", "appealed", None, 0)
    queue_event(db, "decision", [{**outcome.as_json(), "note": reason, "actor": actor,
                                  "at": datetime.now(UTC).isoformat()}])
    return outcome
