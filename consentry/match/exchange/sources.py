"""The exchange source kinds, by the name configurations use."""

from __future__ import annotations

from typing import Any

from consentry.match.exchange.base import ExchangeSource
from consentry.match.exchange.http_feed import HttpFeedSource
from consentry.match.exchange.local_file import LocalFileSource
from consentry.match.exchange.pytx_api import PytxSource

SOURCES: dict[str, type[ExchangeSource]] = {
    cls.kind: cls for cls in (LocalFileSource, HttpFeedSource, PytxSource)
}


def build(kind: str, settings: dict[str, Any]) -> ExchangeSource:
    if kind not in SOURCES:
        raise ValueError(f"unknown exchange source {kind!r}; known: {', '.join(SOURCES)}")
    return SOURCES[kind].from_settings(settings)
