"""The hot path of HMA's ``GET /m/raw_lookup`` as a plain ASGI layer in front of FastAPI.

A raw lookup is ~0.15 ms of index work in a batch; FastAPI's routing, dependency solving and
parameter validation cost several times that. This layer answers the common request itself:
a cached, fresh key of a lookup role, a well-formed ``signal_type``/``signal`` and no
``banks=`` (which needs the database). Anything else (no key, an unknown key, a bad
parameter, a rate limit, ``banks=``) goes on to the FastAPI route unchanged, which answers
it, and its errors, exactly as before; the body here is the one that route gives.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from consentry.service.auth import LOOKUP, KeyChecker
from consentry.service.lookup import BankLookup, BatchedSearch, parse_signal
from consentry.service.metrics import Metrics

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]
PATH = "/m/raw_lookup"
_TRUE = frozenset(("true", "1", "yes", "on", "t", "y"))
_FALSE = frozenset(("false", "0", "no", "off", "f", "n"))
_ROLES = frozenset(LOOKUP)
_HEADERS = [(b"content-type", b"application/json")]


class _Route:
    """What the metrics middleware reads from ``scope["route"]``: the route template."""

    path = PATH


class FastRawLookup:
    def __init__(self, app: ASGIApp, keys: KeyChecker, lookup: BankLookup, batched: BatchedSearch,
                 metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.keys = keys
        self.lookup = lookup
        self.batched = batched
        self.pdq_names = {"pdq"}  # HMA's name for the one indexed type raw lookups are for

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        body = await self._answer(scope)
        if body is None:
            await self.app(scope, receive, send)  # the full route: it answers every other case
            return
        scope["route"] = _Route
        self.metrics.fast_lookups.inc()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*_HEADERS, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, scope: Scope) -> bytes | None:
        if not self.lookup.ready:
            return None
        header = ""
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value.decode("latin-1")
                break
        principal = self.keys.cached_principal(header, _ROLES) if header else None
        if principal is None:
            return None
        params = dict(parse_qsl(scope["query_string"].decode("latin-1")))
        signal_type, signal = params.pop("signal_type", None), params.pop("signal", None)
        distance = params.pop("include_distance", "false").lower()
        if params or signal_type not in self.pdq_names or signal is None or \
                (distance not in _TRUE and distance not in _FALSE):
            return None
        try:
            htype, value = parse_signal(signal_type, signal)
        except (LookupError, ValueError):
            return None
        if not self.lookup.indexed(htype) or not self.keys.try_admit(principal):
            return None
        hits = await self.batched.search(htype, value)
        if distance in _TRUE:
            out: dict[str, list[Any]] = {"matches": [{"bank_content_id": h.entry_id,
                                                      "distance": str(h.distance)} for h in hits]}
        else:
            out = {"matches": [h.entry_id for h in hits]}
        # Starlette's JSONResponse encoding, byte for byte
        return json.dumps(out, ensure_ascii=False, allow_nan=False, indent=None,
                          separators=(",", ":")).encode("utf-8")
