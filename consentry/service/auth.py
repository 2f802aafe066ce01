"""Bearer API keys, roles and per-key rate limits.

Every route declares who may call it with a dependency: ``Allow(roles...)`` or ``Public()``
(tests/test_service_roles.py walks the app's own route list and fails on a route with
neither). A verified key is cached for ``key_cache_s`` so argon2 (tens of milliseconds by
design) runs once per key, not once per request.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import threading
import time
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from consentry.service.errors import ApiError
from consentry.store import keys as key_store
from consentry.store.db import Database
from consentry.store.keys import ROLES, KeyInfo

# Whoever manages banks may read them; HMA's hashing and matching are the submitter's work.
SUBMIT = ("admin", "operator", "submitter")
LOOKUP = ("admin", "operator", "submitter", "partner")
MANAGE = ("admin", "operator")
READ_ITEMS = ("admin", "operator", "reviewer")
ANY_KEY = ROLES


@dataclass(frozen=True)
class Principal:
    key: KeyInfo

    @property
    def role(self) -> str:
        return self.key.role

    @property
    def actor(self) -> str:
        """The audit actor for what this key does."""
        return f"key:{self.key.key_id}:{self.key.name}"


class RateLimiter:
    """A token bucket per key: ``rate`` requests per minute, bursts of up to ``rate``."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key_id: str, rate: int) -> float:
        """0 when allowed, else the seconds to wait."""
        if rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(key_id, (float(rate), now))
            tokens = min(float(rate), tokens + (now - at) * rate / 60.0)
            if tokens >= 1.0:
                self._buckets[key_id] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return (1.0 - tokens) * 60.0 / rate


class KeyChecker:
    def __init__(self, db: Database, cache_s: float, default_rate: int) -> None:
        self.db = db
        self.cache_s = cache_s
        self.default_rate = default_rate
        self.limiter = RateLimiter()
        self._cache: dict[str, tuple[KeyInfo, float]] = {}
        self._pending: dict[str, asyncio.Future[KeyInfo | None]] = {}
        self._lock = threading.Lock()

    def forget(self, key_id: str | None = None) -> None:
        """Drop cached keys (all, or one revoked through this process)."""
        with self._lock:
            if key_id is None:
                self._cache.clear()
            else:
                self._cache = {t: v for t, v in self._cache.items() if v[0].key_id != key_id}

    async def principal(self, request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "an API key is needed: send Authorization: Bearer KEY",
                           "unauthorized", {"WWW-Authenticate": "Bearer"})
        token = token.strip()
        digest = hashlib.sha256(token.encode()).hexdigest()
        cached = self._cache.get(digest)
        info = cached[0] if cached and cached[1] > time.monotonic() and cached[0].active() else None
        if info is None:
            info = await self._verify(digest, token)
        rate = info.rate_per_minute if info.rate_per_minute is not None else self.default_rate
        wait = self.limiter.take(info.key_id, rate)
        if wait > 0:
            raise ApiError(429, f"rate limit of {rate} requests a minute reached for this key",
                           "rate_limited", {"Retry-After": str(max(1, math.ceil(wait)))})
        return Principal(info)

    async def _verify(self, digest: str, token: str) -> KeyInfo:
        """argon2 off the event loop, once for requests that arrive together with one key."""
        pending = self._pending.get(digest)
        if pending is None:
            pending = asyncio.ensure_future(run_in_threadpool(key_store.authenticate, self.db, token))
            self._pending[digest] = pending
            pending.add_done_callback(lambda _f: self._pending.pop(digest, None))
        info = await asyncio.shield(pending)
        if info is None:
            raise ApiError(401, "this API key is not valid (unknown, revoked or expired)",
                           "unauthorized", {"WWW-Authenticate": "Bearer"})
        with self._lock:
            self._cache[digest] = (info, time.monotonic() + self.cache_s)
        return info


class Allow:
    """Dependency: the caller's key must have one of ``roles`` (else 403)."""

    def __init__(self, *roles: str) -> None:
        unknown = set(roles) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown roles {unknown}")
        self.roles = frozenset(roles)

    async def __call__(self, request: Request) -> Principal:
        checker: KeyChecker = request.app.state.keys
        principal = await checker.principal(request)
        if principal.role not in self.roles:
            raise ApiError(403, f"the {principal.role} role may not do this "
                           f"(needs {', '.join(sorted(self.roles))})", "forbidden")
        request.state.principal = principal
        return principal


class Public:
    """Dependency: no key needed (health checks, API documents)."""

    roles = None

    def __call__(self) -> None:
        return None


# The dependencies routes use (module-level: one object each, shared by the routes).
as_admin = Depends(Allow("admin"))
as_manager = Depends(Allow(*MANAGE))
as_operator = Depends(Allow("operator"))
as_submitter = Depends(Allow(*SUBMIT))
as_lookup = Depends(Allow(*LOOKUP))
as_reader = Depends(Allow(*READ_ITEMS))
as_partner = Depends(Allow("partner"))
as_any_key = Depends(Allow(*ANY_KEY))
public = Depends(Public())
