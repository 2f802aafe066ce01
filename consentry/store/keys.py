"""API keys of the service: created (the key is shown once), stored as an argon2 hash,
listed, revoked, expiring; and partner grants on bank feeds. Every change is audited."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select

from consentry.errors import ConfigError
from consentry.store import audit
from consentry.store.db import Database
from consentry.store.tables.core import utcnow
from consentry.store.tables.service import ApiKey, FeedGrant

# admin: keys, settings, audit; operator: banks, persons, policies, webhooks;
# reviewer: review queue and decisions; submitter: scan, lookup; partner: lookup, granted feeds.
ROLES = ("admin", "operator", "reviewer", "submitter", "partner")
PREFIX = "csk"


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    name: str
    role: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    rate_per_minute: int | None
    grants: tuple[str, ...] = ()

    def active(self, now: datetime | None = None) -> bool:
        now = now or utcnow()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def as_json(self) -> dict[str, object]:
        return {"key_id": self.key_id, "name": self.name, "role": self.role,
                "created_at": self.created_at, "created_by": self.created_by,
                "expires_at": self.expires_at, "revoked_at": self.revoked_at,
                "rate_per_minute": self.rate_per_minute, "grants": list(self.grants),
                "active": self.active()}


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:  # SQLite gives naive UTC times back
        return value.replace(tzinfo=UTC)
    return value


def _hasher():  # type: ignore[no-untyped-def]
    from argon2 import PasswordHasher

    return PasswordHasher()


def _info(row: ApiKey, grants: tuple[str, ...] = ()) -> KeyInfo:
    return KeyInfo(row.key_id, row.name, row.role, _aware(row.created_at) or utcnow(), row.created_by,
                   _aware(row.expires_at), _aware(row.revoked_at), row.rate_per_minute, grants)


def split_key(key: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    parts = key.strip().split("_")
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def create(db: Database, name: str, role: str, actor: str, *, expires_at: datetime | None = None,
           rate_per_minute: int | None = None) -> tuple[str, KeyInfo]:
    """A new key: returns the key itself (shown once, never stored) and its record."""
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if not name.strip() or len(name) > 200:
        raise ConfigError("a key name is 1-200 characters")
    if expires_at is not None and _aware(expires_at) <= utcnow():  # type: ignore[operator]
        raise ConfigError("the expiry is in the past")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(24).replace("_", "-")  # "_" separates the parts
    row = ApiKey(key_id=key_id, name=name.strip(), role=role, secret_hash=_hasher().hash(secret),
                 created_by=actor, expires_at=expires_at, rate_per_minute=rate_per_minute,
                 created_at=utcnow())
    with db.session() as session:
        session.add(row)
        session.flush()
        audit.record(session, actor, "key.create", f"key:{key_id}", name=row.name, role=role,
                     expires_at=expires_at)
        info = _info(row)
    return f"{PREFIX}_{key_id}_{secret}", info


def authenticate(db: Database, key: str) -> KeyInfo | None:
    """The key's record when the key is valid, active and not expired; else None."""
    parts = split_key(key)
    if parts is None:
        return None
    key_id, secret = parts
    with db.session() as session:
        row = session.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
        if row is None:
            return None
        info = _info(row, _grants(session, key_id))
        stored_hash = row.secret_hash
    from argon2.exceptions import VerificationError

    try:
        _hasher().verify(stored_hash, secret)
    except VerificationError:
        return None
    return info if info.active() else None


def lookup(db: Database, key_id: str) -> KeyInfo | None:
    with db.session() as session:
        row = session.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
        return _info(row, _grants(session, key_id)) if row else None


def list_keys(db: Database) -> list[KeyInfo]:
    with db.session() as session:
        return [_info(r, _grants(session, r.key_id))
                for r in session.scalars(select(ApiKey).order_by(ApiKey.id))]


def revoke(db: Database, key_id: str, actor: str) -> KeyInfo:
    with db.session() as session:
        row = session.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
        if row is None:
            raise ConfigError(f"no key with id {key_id!r} (see `consentry key list`)")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            audit.record(session, actor, "key.revoke", f"key:{key_id}", name=row.name)
        return _info(row)


def _grants(session, key_id: str) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    return tuple(session.scalars(select(FeedGrant.bank).where(FeedGrant.key_id == key_id)
                                 .order_by(FeedGrant.bank)))


def grant_feed(db: Database, key_id: str, bank: str, actor: str) -> None:
    with db.session() as session:
        row = session.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
        if row is None:
            raise ConfigError(f"no key with id {key_id!r}")
        if row.role != "partner":
            raise ConfigError("feeds are granted to partner keys only")
        if bank in _grants(session, key_id):
            return
        session.add(FeedGrant(key_id=key_id, bank=bank, granted_by=actor))
        audit.record(session, actor, "key.grant_feed", f"key:{key_id}", bank=bank)


def revoke_feed(db: Database, key_id: str, bank: str, actor: str) -> None:
    with db.session() as session:
        session.execute(delete(FeedGrant).where(FeedGrant.key_id == key_id, FeedGrant.bank == bank))
        audit.record(session, actor, "key.revoke_feed", f"key:{key_id}", bank=bank)
