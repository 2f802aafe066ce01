"""One bank entry as plain data (``BankRecord``), with the validation every input path shares:
files, scans, submissions, exchanges and the import formats all become records first.

Values are the hash type's canonical strings (``consentry.signals.hashing``), so an export
and a re-import give the same bytes. A digest named for its media by another system
(``video_md5``, ``photo_sha256``) keeps that media in ``attributes["media"]``, so exports can
name it the same way again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from consentry.signals.hashing import catalogue
from consentry.signals.hashing.base import HashType, HashValueError, UnknownHashType
from consentry.signals.hashing.hash_types.vpdq import vpdq_value

__all__ = ["BankRecord", "RecordError", "make_record", "records_from_item", "vpdq_value"]
MEDIA_KEY = "media"  # attributes key: photo or video, when the hash type covers both


class RecordError(ValueError):
    """A bad field: ``field`` names it so the caller can say line and field."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field_name


@dataclass
class BankRecord:
    signal: str  # a registered hash type's name
    value: str  # canonical for that type
    quality: int | None = None
    case_id: str | None = None
    external_id: str | None = None
    note: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    added_at: datetime | None = None

    @property
    def hash_type(self) -> type[HashType]:
        return catalogue.get(self.signal)

    @property
    def value_key(self) -> str:
        return self.hash_type.value_key(self.value)

    @property
    def media(self) -> str | None:
        media = self.attributes.get(MEDIA_KEY)
        return media if media in ("photo", "video") else None

    @property
    def exchange_name(self) -> str:
        """The type's name as python-threatexchange writes it (``video_md5``, ``pdq``...)."""
        return self.hash_type.exchange_name(self.media)


def hash_type(name: str) -> type[HashType]:
    try:
        return catalogue.get(str(name))
    except UnknownHashType as exc:
        raise RecordError("signal_type", str(exc)) from None


def make_record(signal: str, value: str, *, quality: Any = None, **meta: Any) -> BankRecord:
    """Validate and canonicalise one entry (raises RecordError naming the bad field)."""
    htype = hash_type(signal)
    try:
        canonical = htype.parse(value)
    except HashValueError as exc:
        raise RecordError("signal_value", str(exc)) from None
    q: int | None = None
    if quality not in (None, ""):
        try:
            q = int(quality)
        except (TypeError, ValueError):
            raise RecordError("quality", f"quality {quality!r} is not a whole number") from None
        if not 0 <= q <= 100:
            raise RecordError("quality", f"quality {q} is not between 0 and 100")
    attributes = meta.pop("attributes", None) or {}
    if not isinstance(attributes, dict):
        raise RecordError("metadata", "metadata must be a JSON object")
    media = _media_named(str(signal), htype)
    if media and MEDIA_KEY not in attributes:
        attributes = {**attributes, MEDIA_KEY: media}
    clean = {k: (str(v) if v not in (None, "") else None) for k, v in meta.items() if k != "added_at"}
    added_at = meta.get("added_at")
    if isinstance(added_at, str) and added_at:
        try:
            added_at = datetime.fromisoformat(added_at)
        except ValueError:
            raise RecordError("added_at", f"not an ISO 8601 time: {added_at!r}") from None
    return BankRecord(htype.name, canonical, q, clean.get("case_id"), clean.get("external_id"),
                      clean.get("note"), attributes, added_at or None)


def _media_named(name: str, htype: type[HashType]) -> str | None:
    """``video_md5`` names the media of a digest that covers both photos and videos."""
    if len(htype.media) < 2:
        return None
    prefix = name.strip().lower().split("_", 1)[0]
    return prefix if prefix in htype.media else None


def records_from_item(item: dict[str, Any]) -> list[BankRecord]:
    """Bank records for one submission or scan item, one per value each hash type gives
    (raises RecordError)."""
    name = item.get("name")
    attrs: dict[str, Any] = {"name": name} if name else {}
    media = {"image": "photo", "video": "video"}.get(str(item.get("kind")))
    records = []
    for htype in catalogue.all_types():
        try:
            values = htype.bank_values(item)
        except (HashValueError, KeyError, TypeError, ValueError) as exc:
            raise RecordError(htype.name, str(exc)) from None
        for value, quality in values:
            extra = {MEDIA_KEY: media} if media and len(htype.media) > 1 else {}
            records.append(make_record(htype.name, value, quality=quality, attributes={**attrs, **extra}))
    if not records:
        raise RecordError("item", f"has no hash ({', '.join(catalogue.names())})")
    return records
