"""The ``HashType`` interface: everything Consentry knows about one kind of hash, in one class.

In the spirit of python-threatexchange's ``SignalType``: a hash type owns its name and the
names other systems use for it (aliases), how a value is validated into one canonical string,
how two values compare (distance and the default threshold), which index finds candidates
(``MIHIndex`` for perceptual hashes, ``ExactLookup`` for digests), examples for tests, and how
its values are read from an item's JSON (a scan result, a stored item, a victim submission).
Banks, the import/export formats, the matcher, submissions, the store and the report loop over
the registered types (``catalogue``); adding a hash type is one module in ``hash_types/``.

Hash types are classes used through classmethods, as pytx's are: there is no state to hold.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from consentry.types import ItemReport


class HashValueError(ValueError):
    """A value that is not a valid hash of this type (the message says why)."""

    def __init__(self, hash_type: str, reason: str) -> None:
        super().__init__(reason)
        self.hash_type = hash_type


class UnknownHashType(ValueError):
    """A hash type name that no registered type (nor alias) has."""


class ExactLookup:
    """The 'index' of digest types: equality on the stored value key (a database index)."""


@dataclass(frozen=True)
class ItemHash:
    """One hash an item carries: a whole-item hash, or one frame of a video."""

    value: str
    quality: int | None = None
    frame: int | None = None
    timestamp: float | None = None
    transform: str | None = None  # how this hash differs from the item as shown (None: it is it)
    dihedral: bool = False  # a rotation or flip: only banks that ask for them match it


@dataclass(frozen=True)
class MatchSettings:
    """A bank's matching rule, as the hash types read it."""

    threshold: int
    quality_min: int = 0
    dihedral: bool = False  # also match the item's rotations and flips
    video_query_pct: float = 80.0
    video_target_pct: float = 0.0


@dataclass(frozen=True)
class EntryMatch:
    """An item matching one banked value: the item's hash that matched (vPDQ: the entry's
    key), the distance, and the dihedral transform or rule details when there are any."""

    hash: str
    distance: int
    transform: str | None = None
    details: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class ReportLine:
    """How the HTML report shows a hash: ``label <code>code</code>suffix``."""

    label: str
    code: str | None = None
    suffix: str = ""


class HashType(ABC):
    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    media: ClassVar[frozenset[str]]  # "photo", "video": what it hashes
    index: ClassVar[type]  # MIHIndex or ExactLookup
    default_threshold: ClassVar[int] = 0  # largest distance that still matches
    default_quality_min: ClassVar[int | None] = None
    # A digest of the file's bytes, kept on the item's own row (not one row per frame).
    file_digest: ClassVar[bool] = False
    # A value holds several hashes (vPDQ: one per frame); naming one of them withdraws it.
    composite: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def parse(cls, value: str) -> str:
        """The canonical form of ``value``; raises HashValueError if it is not one."""

    @classmethod
    def value_key(cls, canonical: str) -> str:
        """A short key (at most 64 characters) that identifies the canonical value."""
        return canonical

    @classmethod
    @abstractmethod
    def distance(cls, a: str, b: str) -> int:
        """Distance of two canonical values (0 = identical)."""

    @classmethod
    def matches(cls, a: str, b: str, threshold: int | None = None) -> bool:
        return cls.distance(a, b) <= (cls.default_threshold if threshold is None else threshold)

    @classmethod
    @abstractmethod
    def examples(cls) -> list[str]:
        """Valid canonical values (conformance tests round-trip them)."""

    @classmethod
    @abstractmethod
    def from_item(cls, item: Mapping[str, Any]) -> list[ItemHash]:
        """The hashes of this type in an item's JSON (``ItemReport.as_json()``, a stored
        result or a submission item); [] when it has none."""

    @classmethod
    def queries(cls, report: ItemReport) -> list[ItemHash]:
        """The hashes of a scanned item that are looked up in the banks."""
        return cls.from_item(item_fields(report))

    @classmethod
    def compare_entry(cls, queries: list[ItemHash], value: str, settings: MatchSettings
                      ) -> EntryMatch | None:
        """The closest query within the bank's threshold and quality gate, or None."""
        best: EntryMatch | None = None
        for query in queries:
            if query.quality is not None and query.quality < settings.quality_min:
                continue
            if query.dihedral and not settings.dihedral:
                continue
            d = cls.distance(query.value, value)
            if d <= settings.threshold and (best is None or d < best.distance):
                where = (("frame", query.frame), ("timestamp", query.timestamp)) \
                    if query.frame is not None else ()
                best = EntryMatch(query.value, d, query.transform, where)
        return best

    @classmethod
    def bank_values(cls, item: Mapping[str, Any]) -> list[tuple[str, int | None]]:
        """(canonical value, quality) of each bank entry this item gives."""
        return [(h.value, h.quality) for h in cls.from_item(item)]

    @classmethod
    def index_keys(cls, canonical: str) -> list[str]:
        """What goes into the type's index for one entry (vPDQ: each distinct frame hash)."""
        return [canonical]

    @classmethod
    def exchange_name(cls, media: str | None = None) -> str:
        """The name python-threatexchange gives this type (for ``media``: photo or video)."""
        return cls.name

    @classmethod
    def report_line(cls, item: Mapping[str, Any]) -> ReportLine | None:
        hashes = cls.from_item(item)
        return ReportLine(cls.name, hashes[0].value) if hashes else None


def item_fields(report: ItemReport) -> dict[str, Any]:
    """A scanned item's JSON fields as the hash types read them (findings and file digests)."""
    return {**report.findings(), "kind": report.kind.value if report.kind else None,
            "md5": report.md5, "sha256": report.sha256}


class FileDigestType(HashType):
    """A digest of the file's bytes (MD5, SHA-256): matched exactly, read from the item's
    ``name`` field. Subclasses give ``name``, ``hex_length``, aliases and examples."""

    media: ClassVar[frozenset[str]] = frozenset({"photo", "video"})
    index = ExactLookup
    file_digest = True
    hex_length: ClassVar[int]

    @classmethod
    def parse(cls, value: str) -> str:
        return hex_value(cls.name, value, cls.hex_length)

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        return 0 if a == b else hex_distance(a, b)

    @classmethod
    def matches(cls, a: str, b: str, threshold: int | None = None) -> bool:
        return a == b  # a digest either is the file or is not

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> list[ItemHash]:
        return [ItemHash(str(item[cls.name]))] if item.get(cls.name) else []


def hex_value(hash_type: str, value: str, length: int) -> str:
    """Lower-case hex of exactly ``length`` characters (surrounding spaces ignored)."""
    if not isinstance(value, str):
        raise HashValueError(hash_type, f"a {hash_type} hash is text, got {type(value).__name__}")
    text = value.strip().lower()
    if len(text) != length:
        raise HashValueError(hash_type, f"a {hash_type} hash is {length} hex characters, got {len(text)}")
    if text.strip("0123456789abcdef"):
        raise HashValueError(hash_type, f"not hexadecimal: {value[:80]!r}")
    return text


def hex_distance(a: str, b: str) -> int:
    """Hamming distance of two equal-length hex strings."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
