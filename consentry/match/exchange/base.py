"""The exchange interface, in the spirit of python-threatexchange's ``SignalExchangeAPI``.

A source is configured once (a name, the bank it feeds, its own settings) and fetched again
and again: ``fetch(checkpoint)`` yields the pieces that are new since the checkpoint, each with
the checkpoint to keep once it is imported, so an interrupted fetch resumes where it stopped
and a repeated one reads nothing it has read already. A piece is either a hash-list file in
one of our formats (``stream``, read by ``consentry.match.banks.formats``) or rows already
made (``rows``, e.g. from a pytx exchange client).

Adding a source (ThreatExchange, NCMEC, StopNCII): a subclass here, usually wrapping the pytx
client class through ``pytx_api.PytxSource``; register it in ``SOURCES`` (sources.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, ClassVar

from consentry.match.banks.formats import Row, RowError

Checkpoint = dict[str, Any]  # JSON-able; each source decides what it holds


class ExchangeError(Exception):
    """A source that cannot be read now (missing path, HTTP error): the checkpoint stays."""


@dataclass
class Piece:
    """One unit of new data: a file of a feed, one page of an API."""

    label: str  # for people: a file name, a URL
    checkpoint: Checkpoint  # to keep once this piece is imported
    open_stream: Callable[[], IO[bytes]] | None = None
    fmt: str | None = None  # None: detected from the content
    rows: Iterable[Row | RowError] | None = None


class ExchangeSource(ABC):
    kind: ClassVar[str]  # the name in configurations (``local_file``, ``http``)
    description: ClassVar[str] = ""

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: dict[str, Any]) -> ExchangeSource:
        """Build from a stored configuration (raises ValueError naming a bad setting)."""

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """What to store to build this source again."""

    @abstractmethod
    def fetch(self, checkpoint: Checkpoint | None) -> Iterator[Piece]:
        """The pieces that are new since ``checkpoint`` (None: never fetched)."""
