"""``http``: a hash list served over HTTP in one of our formats (``te`` or ``jsonl``, e.g.
another Consentry instance's bank export), so one instance can follow another's bank.

Each fetch sends the ETag and Last-Modified it saw last (a 304 reads nothing) and skips a body
whose SHA-256 it has imported already. A URL holding ``{since}`` gets the time of the last
successful fetch (ISO 8601, empty the first time), for feeds that can send only what changed.
"""

from __future__ import annotations

import hashlib
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from consentry.match.exchange.base import Checkpoint, ExchangeError, ExchangeSource, Piece

TIMEOUT_S = 60.0
MAX_BYTES = 4 * 1024**3  # a feed larger than this is refused, not written to disk without end


class HttpFeedSource(ExchangeSource):
    kind = "http"
    description = "a hash list in our te or jsonl format served over HTTP(S)"

    def __init__(self, url: str, fmt: str | None = None, headers: dict[str, str] | None = None) -> None:
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"an http source needs an http:// or https:// URL, not {url!r}")
        self.url = url
        self.fmt = fmt
        self.headers = dict(headers or {})

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> HttpFeedSource:
        if not settings.get("url"):
            raise ValueError("http needs a url")
        return cls(settings["url"], settings.get("format"), settings.get("headers"))

    def settings(self) -> dict[str, Any]:
        return {"url": self.url, "format": self.fmt, "headers": self.headers}

    def fetch(self, checkpoint: Checkpoint | None) -> Iterator[Piece]:
        last = checkpoint or {}
        url = self.url.replace("{since}", urllib.parse.quote(last.get("fetched_at") or ""))
        request = urllib.request.Request(url, headers={"User-Agent": "consentry-exchange", **self.headers})
        if last.get("etag"):
            request.add_header("If-None-Match", last["etag"])
        if last.get("last_modified"):
            request.add_header("If-Modified-Since", last["last_modified"])
        started = datetime.now(UTC).isoformat()
        body = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the importer, closed there
        digest = hashlib.sha256()
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                etag, modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
                size = 0
                while chunk := response.read(1 << 20):
                    size += len(chunk)
                    if size > MAX_BYTES:
                        raise ExchangeError(f"{url}: more than {MAX_BYTES:,} bytes; refused")
                    digest.update(chunk)
                    body.write(chunk)
        except urllib.error.HTTPError as exc:
            body.close()
            if exc.code == 304:
                return  # not modified since the last fetch
            raise ExchangeError(f"{url}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            body.close()
            raise ExchangeError(f"{url}: {getattr(exc, 'reason', exc)}") from None
        after = {"etag": etag, "last_modified": modified, "sha256": digest.hexdigest(),
                 "fetched_at": started}
        if after["sha256"] == last.get("sha256"):
            body.close()
            return  # the same list again
        body.seek(0)
        yield Piece(url, after, open_stream=lambda: body, fmt=self.fmt)
