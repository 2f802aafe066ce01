"""The offline, single-file hashing page (``consentry hash-page``): PDQ + MD5 of images,
computed in the browser; the page's Content-Security-Policy forbids any network request."""

from __future__ import annotations

from importlib import resources

from consentry import __version__


def build_page() -> str:
    folder = resources.files(__package__)
    page = (folder / "page.html").read_text(encoding="utf-8")
    return (page.replace("{{MD5_JS}}", (folder / "md5.js").read_text(encoding="utf-8"))
            .replace("{{PDQ_JS}}", (folder / "pdq.js").read_text(encoding="utf-8"))
            .replace("{{VERSION}}", __version__))
