"""The victim's routes (no account; docs/cases.md): ``POST /v1/cases`` opens a case from a
submission file and answers ``{"case": N, "pin": PIN}`` once; ``GET /v1/cases/{case}`` (or
``POST /v1/cases/{case}/status``) and ``POST /v1/cases/{case}/withdraw`` take the PIN as
``{"pin": ...}`` in a JSON body, never in the URL (URLs end up in logs).

These routes are public, so they carry their own limits: case openings per client address
per hour, a size bound on the body, wrong PINs per case (then the case is locked for a while,
kept in the database so every process sees it) and per address (in this process). The offline
hash page may call them from a file:// page, so they answer CORS for any origin; they use no
cookies, so no other site can act as a signed-in user through them.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from consentry.actions import cases
from consentry.service.auth import public
from consentry.service.config import ServiceSettings
from consentry.service.errors import ApiError

router = APIRouter(prefix="/v1", tags=["cases (victims)"])
VICTIM_PATHS = "/v1/cases"  # CORS applies to these only (not to /v1/casework)
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "600"}


class PinIn(BaseModel):
    pin: str = Field(min_length=1, max_length=64, description="the PIN the case was opened with")


class AddressLimit:
    """At most ``limit`` events per ``window_s`` per client address (in this process)."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait(self, address: str) -> float:
        """0 when below the limit, else the seconds until the oldest event leaves the window."""
        if self.limit <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            events = self._events.get(address)
            if events is None:
                return 0.0
            while events and events[0] <= now - self.window_s:
                events.popleft()
            if not events:
                del self._events[address]
                return 0.0
            return self.window_s - (now - events[0]) if len(events) >= self.limit else 0.0

    def add(self, address: str) -> None:
        with self._lock:
            if len(self._events) > 100_000:  # a flood of addresses: forget the quiet ones
                now = time.monotonic()
                self._events = {a: e for a, e in self._events.items() if e and e[-1] > now - self.window_s}
            self._events.setdefault(address, deque()).append(time.monotonic())


class CaseLimits:
    def __init__(self, settings: ServiceSettings) -> None:
        self.opens = AddressLimit(settings.case_opens_per_hour, 3600.0)
        self.pin_guesses = AddressLimit(settings.pin_failures_per_address, settings.pin_lock_s)


def install(app: FastAPI) -> None:
    """The limits' state, and CORS for the victim's routes (the offline page posts from file://)."""
    app.state.case_limits = CaseLimits(app.state.settings)

    @app.middleware("http")
    async def victim_cors(request: Request, call_next):  # type: ignore[no-untyped-def]
        path = request.url.path
        if not (path == VICTIM_PATHS or path.startswith(VICTIM_PATHS + "/")):
            return await call_next(request)
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=CORS)
        response = await call_next(request)
        response.headers.update(CORS)
        return response


def where(request: Request) -> cases.CaseBanks:
    settings: ServiceSettings = request.app.state.settings
    return cases.CaseBanks(settings.case_bank, settings.share_bank)


def address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _too_many(wait: float, message: str) -> ApiError:
    return ApiError(429, message, "rate_limited", {"Retry-After": str(max(1, math.ceil(wait)))})


async def _body(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"a submission is at most {limit} bytes", "too_large")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise ApiError(413, f"a submission is at most {limit} bytes", "too_large")
    try:
        return json.loads(bytes(data))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "the body is not JSON: send the submission file as it was written "
                       "(Content-Type: application/json)", "bad_json") from None


@router.post("/cases", status_code=201, dependencies=[public])
async def open_case(request: Request) -> JSONResponse:
    """Open a case from a submission file (the JSON ``consentry hash`` and the hash page write):
    ``{"case": N, "pin": PIN}``. The PIN is shown only in this answer; it is needed to see
    the case and to withdraw it. No media is ever sent or kept."""
    limits: CaseLimits = request.app.state.case_limits
    settings: ServiceSettings = request.app.state.settings
    who = address(request)
    if (wait := limits.opens.wait(who)) > 0:
        raise _too_many(wait, "too many cases opened from this address; try again later")
    limits.opens.add(who)
    data = await _body(request, settings.case_max_bytes)
    try:
        found, pin = await run_in_threadpool(cases.open_case, request.app.state.db, data, where(request))
    except cases.CaseInputError as exc:
        raise ApiError(422, str(exc), "bad_submission") from None
    await run_in_threadpool(request.app.state.lookup.load)  # matchable (or not) at once
    return JSONResponse({"case": found.number, "pin": pin, "items": found.items,
                         "hashes": found.hashes.get("active", 0),
                         "message": "Keep the case number and the PIN somewhere safe: the PIN is "
                                    "shown only now. With both you can see the case and withdraw it."},
                        201)


async def _authorise(request: Request, case: int, pin: str) -> None:
    """403 on a wrong PIN or an unknown case (the same answer: numbers cannot be probed),
    429 while the case or this address is locked out."""
    limits: CaseLimits = request.app.state.case_limits
    settings: ServiceSettings = request.app.state.settings
    who = address(request)
    if (wait := limits.pin_guesses.wait(who)) > 0:
        raise _too_many(wait, "too many wrong PINs from this address; try again later")
    check = await run_in_threadpool(cases.check_pin, request.app.state.db, case, pin,
                                    max_failures=settings.pin_failures, lock_s=settings.pin_lock_s)
    if check.ok:
        return
    limits.pin_guesses.add(who)
    if check.locked_until is not None:
        from consentry.store.tables.core import utcnow

        raise _too_many((check.locked_until - utcnow()).total_seconds(),
                        "too many wrong PINs for this case: it is locked for a while; try again later")
    raise ApiError(403, "the case number or the PIN is wrong", "forbidden")


async def _status(request: Request, case: int, body: PinIn) -> dict[str, Any]:
    await _authorise(request, case, body.pin)
    found = await run_in_threadpool(cases.status, request.app.state.db, case, where(request))
    return jsonable_encoder(found.victim_json())


@router.get("/cases/{case}", dependencies=[public])
async def case_status(request: Request, case: int, body: PinIn) -> dict[str, Any]:
    """The case: hashes active and withdrawn, matches found (a count per day), never anyone's
    media. The PIN goes in a JSON body (``POST /v1/cases/{case}/status`` does the same for
    clients that cannot send a body with GET)."""
    return await _status(request, case, body)


@router.post("/cases/{case}/status", dependencies=[public])
async def case_status_post(request: Request, case: int, body: PinIn) -> dict[str, Any]:
    return await _status(request, case, body)


@router.post("/cases/{case}/withdraw", dependencies=[public])
async def withdraw(request: Request, case: int, body: PinIn) -> dict[str, Any]:
    """Withdraw the case: its hashes stop matching at once (here and in partners' feeds)."""
    await _authorise(request, case, body.pin)
    found = await run_in_threadpool(cases.withdraw, request.app.state.db, case, where(request),
                                    actor=cases.VICTIM, reason="withdrawn by the victim")
    await run_in_threadpool(request.app.state.lookup.load)  # matchable (or not) at once
    return jsonable_encoder(found.victim_json())
