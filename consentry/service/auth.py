"""Bearer API keys, roles and per-key rate limits.

Every route declares who may call it with a dependency: ``Allow(roles...)`` or ``Public()``
(tests/test_service_roles.py walks the app's own route list and fails on a route with
neither). A key is verified with argon2 (tens of milliseconds by design) once per process;
after that its row is read again every ``key_cache_s`` (revoked? expired?), never argon2.
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
    """Keys verified once with argon2 per process, then known by the SHA-256 of the whole
    token: a request whose token has that digest is the same key, so after ``cache_s`` only
    the key's row is read again (revoked, expired?), never argon2 (tens of ms) again."""

    def __init__(self, db: Database, cache_s: float, default_rate: int) -> None:
        self.db = db
        self.cache_s = cache_s
        self.default_rate = default_rate
        self.limiter = RateLimiter()
        self._cache: dict[str, tuple[KeyInfo, float]] = {}  # digest -> (info, checked until)
        self._pending: dict[str, asyncio.Future[KeyInfo | None]] = {}
        self._lock = threading.Lock()

    def forget(self, key_id: str | None = None) -> None:
        """Drop cached keys (all, or one revoked through this process)."""
        with self._lock:
            if key_id is None:
                self._cache.clear()
            else:
                self._cache = {t: v for t, v in self._cache.items() if v[0].key_id != key_id}

    def refresh(self) -> None:
        """Read the rows of the cached keys again (one query each; no argon2): a key revoked
        or expired through another process is dropped, the others stay fresh, so requests
        never wait for this check."""
        with self._lock:
            cached = list(self._cache.items())
        for digest, (info, _until) in cached:
            current = key_store.lookup(self.db, info.key_id)
            with self._lock:
                if current is None or not current.active():
                    self._cache.pop(digest, None)
                elif digest in self._cache:
                    self._cache[digest] = (current, time.monotonic() + self.cache_s)

    def run_refresher(self, stop: threading.Event) -> None:
        """The app's thread: ``refresh`` every half ``cache_s``."""
        import logging

        while not stop.wait(self.cache_s / 2):
            try:
                self.refresh()
            except Exception:  # the database is away for a moment: entries expire meanwhile
                logging.getLogger(__name__).exception("key refresh failed")

    @staticmethod
    def _token(header: str) -> str | None:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        return token if scheme.lower() == "bearer" and token else None

    def _fresh(self, digest: str) -> KeyInfo | None:
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > time.monotonic() and cached[0].active():
            return cached[0]
        return None

    def _admit(self, info: KeyInfo) -> None:
        rate = info.rate_per_minute if info.rate_per_minute is not None else self.default_rate
        wait = self.limiter.take(info.key_id, rate)
        if wait > 0:
            raise ApiError(429, f"rate limit of {rate} requests a minute reached for this key",
                           "rate_limited", {"Retry-After": str(max(1, math.ceil(wait)))})

    def cached_principal(self, header: str, roles: frozenset[str]) -> Principal | None:
        """The hot paths' check, without awaiting anything: the principal when the key is
        cached, fresh and has one of ``roles``; None for anything else (the caller then takes
        the full route, which answers 401/403 as every route). Not yet charged to the rate:
        ``try_admit`` once the hot path knows it serves the request."""
        token = self._token(header)
        if token is None:
            return None
        info = self._fresh(hashlib.sha256(token.encode()).hexdigest())
        if info is None or info.role not in roles:
            return None
        return Principal(info)

    def try_admit(self, principal: Principal) -> bool:
        """Charge one request to the key's rate; False (nothing charged) when over it: the
        full route then answers the 429."""
        try:
            self._admit(principal.key)
        except ApiError:
            return False
        return True

    async def principal(self, request: Request) -> Principal:
        token = self._token(request.headers.get("authorization", ""))
        if token is None:
            raise ApiError(401, "an API key is needed: send Authorization: Bearer KEY",
                           "unauthorized", {"WWW-Authenticate": "Bearer"})
        digest = hashlib.sha256(token.encode()).hexdigest()
        info = self._fresh(digest)
        if info is None:
            info = await self._verify(digest, token)
        self._admit(info)
        return Principal(info)

    async def _verify(self, digest: str, token: str) -> KeyInfo:
        """Off the event loop, once for requests that arrive together with one key: argon2
        for a token not seen yet, a read of its row for one verified before."""
        pending = self._pending.get(digest)
        if pending is None:
            known = self._cache.get(digest)
            check = (key_store.lookup, self.db, known[0].key_id) if known else \
                (key_store.authenticate, self.db, token)
            pending = asyncio.ensure_future(run_in_threadpool(*check))
            self._pending[digest] = pending
            pending.add_done_callback(lambda _f: self._pending.pop(digest, None))
        info = await asyncio.shield(pending)
        if info is None or not info.active():
            with self._lock:
                self._cache.pop(digest, None)
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
