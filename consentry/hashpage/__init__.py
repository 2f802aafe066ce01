"""The offline, single-file hashing page (``consentry hash-page``): PDQ + MD5 of images,
computed in the browser; the page's Content-Security-Policy forbids any network request.

An operator may build it with the helpline's address (``--helpline URL``): the page then
offers to send the hashes there (``POST URL/v1/cases``) and the policy lets it reach that one
origin only. Without it, the sending code is not in the page at all."""

from __future__ import annotations

import json
import re
from importlib import resources
from urllib.parse import urlsplit

from consentry import __version__
from consentry.errors import ConfigError

_SEND = re.compile(r"<!--SEND-->.*?<!--/SEND-->\n?", re.S)


def helpline_origin(url: str) -> str:
    """``scheme://host[:port]`` of the helpline's address (also its CSP source), or ConfigError."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"the helpline's address is an https:// URL, not {url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ConfigError("give the helpline's address only (https://host[:port]), without a path")
    if not re.fullmatch(r"[A-Za-z0-9.\-\[\]:]+", parts.netloc):
        raise ConfigError(f"not a host name: {parts.netloc!r}")
    return f"{parts.scheme}://{parts.netloc.lower()}"


def build_page(helpline: str | None = None) -> str:
    folder = resources.files(__package__)
    page = (folder / "page.html").read_text(encoding="utf-8")
    if helpline is None:
        page = _SEND.sub("", page).replace("{{CONNECT_SRC}}", "'none'")
    else:
        origin = helpline_origin(helpline)
        page = (page.replace("<!--SEND-->\n", "").replace("<!--/SEND-->\n", "")
                .replace("{{CONNECT_SRC}}", origin).replace("{{HELPLINE_ORIGIN}}", origin)
                .replace("{{HELPLINE_JSON}}", json.dumps(origin).replace("<", "\\u003c")))
    return (page.replace("{{MD5_JS}}", (folder / "md5.js").read_text(encoding="utf-8"))
            .replace("{{PDQ_JS}}", (folder / "pdq.js").read_text(encoding="utf-8"))
            .replace("{{VERSION}}", __version__))
