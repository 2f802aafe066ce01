"""The audit log: who did what to which record, and when. Every stage writes through here."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from consentry.store.tables.core import AuditEntry


def record(session: Session, actor: str, action: str, subject: str, **details: Any) -> None:
    """Append one audit row in the caller's transaction (it commits with the change it records)."""
    session.add(AuditEntry(actor=actor, action=action, subject=subject, details=details))
