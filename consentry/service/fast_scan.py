"""The hot path of ``POST /v1/scan``: a plain ASGI layer that takes the common upload (a
cached submitter key, multipart with one ``file`` and the optional ``signals``, ``policy``,
``external_id`` fields, ``?wait=`` at most) past the app's ``BaseHTTPMiddleware``s and
FastAPI's parameter solving (~8 ms of CPU an upload on the loaded 2-core machine,
docs/performance.md) and runs the route's own code (``v1_scan.accept``). Any other request
(no key, a new key, other fields, a URL, a body that is not multipart) is handed to the
route with its body replayed, so it answers exactly as before."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import JSONResponse

from consentry.service.auth import SUBMIT, KeyChecker
from consentry.service.errors import ApiError, _body
from consentry.service.metrics import Metrics

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]
PATH = "/v1/scan"
_ROLES = frozenset(SUBMIT)
_FIELDS = frozenset(("file", "signals", "policy", "external_id"))
# The body is read into memory here (the route spools big ones to disk as they come): photos
# take this path, big videos the route's.
MAX_BODY = 16 * 1024**2


class _Route:
    path = PATH


class FastScan:
    def __init__(self, app: ASGIApp, keys: KeyChecker, metrics: Metrics) -> None:
        self.app = app
        self.keys = keys
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        principal = self.keys.cached_principal(headers.get("authorization", ""), _ROLES)
        query = parse_qsl(scope["query_string"].decode("latin-1"))
        wait = _wait(query)
        length = headers.get("content-length", "")
        if principal is None or wait is None or not length.isdigit() or int(length) > MAX_BODY or \
                not headers.get("content-type", "").startswith("multipart/form-data"):
            await self.app(scope, receive, send)
            return
        chunks = await _read_body(receive)
        form = await self._form(headers, chunks)
        if form is not None and not self.keys.try_admit(principal):
            await form.close()
            form = None
        if form is None:
            await self.app(scope, _replay(chunks, receive), send)
            return
        try:
            fields = {name: value for name, value in form.multi_items()}
            from consentry.service.v1_scan import accept

            try:
                response = await accept(Request(scope, receive), principal, file=fields["file"],
                                        signals=fields.get("signals"), policy=fields.get("policy"),
                                        external_id=fields.get("external_id"), url=None, wait=wait)
            except ApiError as exc:
                response = JSONResponse(_body(exc.message, exc.code), exc.status, headers=exc.headers)
        finally:
            await form.close()
        scope["route"] = _Route
        self.metrics.fast_scans.inc()
        await response(scope, receive, send)

    async def _form(self, headers: Headers, chunks: list[bytes]) -> Any:
        """The parsed form when it is the common upload, else None (the route takes it)."""

        async def stream():  # type: ignore[no-untyped-def]
            for chunk in chunks:
                yield chunk
            yield b""

        try:
            form = await MultiPartParser(headers, stream()).parse()
        except MultiPartException:
            return None
        names = [name for name, _v in form.multi_items()]
        uploads = [v for _n, v in form.multi_items() if isinstance(v, UploadFile)]
        usual = (set(names) <= _FIELDS and len(names) == len(set(names)) and len(uploads) == 1
                 and isinstance(form.get("file"), UploadFile))
        if not usual:
            await form.close()
            return None
        return form


def _wait(query: list[tuple[str, str]]) -> float | None:
    """``?wait=`` as a float (0 when absent); None for anything else in the query."""
    params = dict(query)
    if len(params) != len(query) or set(params) - {"wait"}:
        return None
    try:
        return float(params.get("wait", 0.0))
    except ValueError:
        return None


async def _read_body(receive: Any) -> list[bytes]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return chunks


def _replay(chunks: list[bytes], receive: Any) -> Callable[[], Awaitable[MutableMapping[str, Any]]]:
    pending = list(chunks)

    async def replayed() -> MutableMapping[str, Any]:
        if pending:
            body = pending.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(pending)}
        return await receive()

    return replayed
