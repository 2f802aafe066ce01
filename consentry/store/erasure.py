"""Forgetting a removed person everywhere the store mentions them.

A removed person's name and consent text leave every stored item result, verdict and audit
entry; what stays refers to a fresh random pseudonym (``removed-…``), so the audit still
shows that an enrolment, matches and a removal happened, not who they were about. The
person's numeric id is replaced too: SQLite may give the same id to the next person
enrolled, who must not inherit someone else's matches.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consentry.store.tables.core import AuditEntry, Item
from consentry.store.tables.verdicts import Verdict

# Audit details that describe the person rather than what was done.
PERSONAL_DETAILS = frozenset({"name", "consent", "attestation", "consent_document_sha256",
                              "photos_sha256"})
# Policy messages list matched persons: "likeness of protected person 3, 5".
_PERSON_LIST = re.compile(r"(protected persons? )([\w-]+(?:, [\w-]+)*)")


def new_pseudonym() -> str:
    return f"removed-{secrets.token_hex(8)}"


def subject_of(person_id: int | str) -> str:
    """The audit subject of a person (an id while enrolled, a pseudonym once removed)."""
    return f"person:{person_id}"


def scrub_json(value: Any, person_id: int, pseudonym: str) -> Any:
    """``value`` (an item result, verdict reasons) with every mention of the person replaced
    by the pseudonym and their name dropped."""
    if isinstance(value, dict):
        out = {key: scrub_json(v, person_id, pseudonym) for key, v in value.items()}
        person = value.get("person")
        if type(person) is int and person == person_id:
            out["person"] = pseudonym
            if "name" in out:
                out["name"] = None
        return out
    if isinstance(value, list):
        return [scrub_json(v, person_id, pseudonym) for v in value]
    if isinstance(value, str) and "protected person" in value:
        def swap(match: re.Match[str]) -> str:
            ids = [pseudonym if token == str(person_id) else token
                   for token in match.group(2).split(", ")]
            return match.group(1) + ", ".join(ids)

        return _PERSON_LIST.sub(swap, value)
    return value


def forget_person(session: Session, person_id: int, pseudonym: str) -> int:
    """Rewrite the person's audit entries and the items they were matched in (every match
    is audited with its item, so the audit says exactly which). Returns the items rewritten."""
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.subject == subject_of(person_id))).all()
    item_ids = {entry.details.get("item_id") for entry in entries
                if entry.action == "likeness.match"} - {None}
    for entry in entries:
        entry.subject = subject_of(pseudonym)
        entry.details = {k: v for k, v in entry.details.items() if k not in PERSONAL_DETAILS}
    for item in session.scalars(select(Item).where(Item.id.in_(item_ids))):
        item.result = scrub_json(item.result, person_id, pseudonym)
    for verdict in session.scalars(select(Verdict).where(Verdict.item_id.in_(item_ids))):
        verdict.reasons = scrub_json(verdict.reasons, person_id, pseudonym)
    return len(item_ids)
