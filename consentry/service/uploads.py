"""Uploads: bounded in size before they are read, written to the spool folder, identified
by their bytes (consentry.media.sniff), never by their name or MIME type; and hashing one
upload with the scan's own analysis (only the ``hash`` signal)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any, BinaryIO

from fastapi import UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from consentry.media.sniff import Sniffed, sniff
from consentry.pipeline.hashing import hash_paths
from consentry.service.errors import ApiError
from consentry.signals.hashing import catalogue
from consentry.types import ItemReport, ItemStatus, MediaKind

Scope = MutableMapping[str, Any]
_CHUNK = 1024 * 1024


class BodyLimitMiddleware:
    """413 for a request body over the limit, by its Content-Length or as it streams in."""

    def __init__(self, app: Callable[..., Awaitable[None]], limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._too_large(scope, receive, send)
                return
        seen = 0

        async def counted() -> MutableMapping[str, Any]:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Any, send: Any) -> None:
        response = JSONResponse({"message": f"the upload is larger than {self.limit} bytes"}, 413)
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


async def spool(upload: UploadFile, folder: Path, name: str | None = None) -> tuple[Path, int, Sniffed]:
    """Write the upload into ``folder`` (fsynced: a job must survive a crash once accepted)
    and identify it; 415 (and nothing kept) when it is not an image or video we read."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"upload-{uuid.uuid4().hex}")
    try:
        # The upload is already in a temporary file (Starlette's); copy and fsync it in a
        # thread so the event loop serves other requests meanwhile.
        size, head = await run_in_threadpool(_write_durably, upload.file, path)
        found = sniff(head)
        if found is None:
            raise ApiError(415, "the upload is not an image or video Consentry reads "
                           "(identified by its bytes, not its name or type)", "unsupported_media")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, size, found


async def fetch_into_spool(settings: Any, url: str, folder: Path, name: str) -> tuple[Path, int]:
    """The upload fetched from ``url`` (service/url_fetch.py), identified by its bytes as a
    sent file is; 400 when fetching is off or the URL is refused."""
    from consentry.service import url_fetch

    if not settings.url_fetch:
        raise ApiError(400, "URL fetching is off on this service (send the file instead)", "url_off")
    policy = url_fetch.FetchPolicy(tuple(settings.url_allow_hosts), min(settings.url_max_bytes,
                                   settings.max_upload_bytes), settings.url_timeout_s,
                                   settings.url_allow_loopback_unsafe)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    try:
        size = await run_in_threadpool(url_fetch.fetch_to, url, policy, path)
    except url_fetch.UrlRefused as exc:
        raise ApiError(400, str(exc), "url_refused") from None
    except url_fetch.UrlTooLarge as exc:
        raise ApiError(413, str(exc), "too_large") from None
    except url_fetch.UrlFetchFailed as exc:
        raise ApiError(502, str(exc), "url_fetch_failed") from None
    with open(path, "rb") as fh:
        head = fh.read(64)
    if sniff(head) is None:
        path.unlink(missing_ok=True)
        raise ApiError(415, "the URL's body is not an image or video Consentry reads "
                       "(identified by its bytes, not its name or type)", "unsupported_media")
    return path, size


def _write_durably(source: BinaryIO, path: Path) -> tuple[int, bytes]:
    source.seek(0)
    head = source.read(64)
    size = len(head)
    with open(path, "wb") as out:
        out.write(head)
        while chunk := source.read(_CHUNK):
            out.write(chunk)
            size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    return size, head


def hash_file(path: Path) -> ItemReport:
    """The item report of one spooled file with only the hash signal run (in this process)."""
    reports = list(hash_paths([path], workers=1))
    report = reports[0]
    if report.status is not ItemStatus.OK:
        raise ApiError(400, f"cannot read the upload: {report.error}", "unreadable")
    return report


def hma_signals(report: ItemReport, content_type: str) -> dict[str, str]:
    """HMA's answer for one hashed upload: ``{signal type: value}`` (photo: pdq; video:
    video_md5 and, our addition, vpdq)."""
    item = report.as_json()
    wanted = ("pdq",) if content_type == "photo" else ("md5", "vpdq")
    out: dict[str, str] = {}
    for name in wanted:
        htype = catalogue.get(name)
        hashes = htype.from_item(item)
        if hashes:
            out[htype.exchange_name("photo" if content_type == "photo" else "video")] = hashes[0].value
    return out


def content_type_of(found: Sniffed, field: str) -> str:
    kind = "photo" if found.kind is MediaKind.IMAGE else "video"
    if field != kind:
        raise ApiError(400, f"the {field} field holds a {kind}")
    return kind
