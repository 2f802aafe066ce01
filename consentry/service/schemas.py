"""Request bodies of the native API (pydantic models: validated and in the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class BankCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    kind: str = "other"
    threshold: int = 31
    quality_min: int = 50
    enabled_ratio: float = 1.0
    dihedral: bool = False
    description: str | None = None


class BankChange(BaseModel):
    enabled: bool | None = None
    threshold: int | None = None
    quality_min: int | None = None
    enabled_ratio: float | None = None
    dihedral: bool | None = None
    description: str | None = None


class EntryIn(BaseModel):
    signal: str = Field(description="pdq, vpdq, md5, sha256 (or a pytx name such as video_md5)")
    value: str
    case_id: str | None = None
    note: str | None = Field(None, max_length=1000)


class EntriesIn(BaseModel):
    entries: list[EntryIn] = Field(min_length=1, max_length=100_000)
    case_id: str | None = None


class WithdrawIn(BaseModel):
    reason: str = Field(min_length=1)
    hash: str | None = None
    case_id: str | None = None


class LookupIn(BaseModel):
    signal: str
    value: str


class KeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: str
    expires_at: datetime | None = None
    rate_per_minute: int | None = Field(None, ge=0)


class GrantIn(BaseModel):
    bank: str


class WebhookIn(BaseModel):
    url: str
    secret: str = Field(min_length=16)
    events: list[str] = ["verdict"]


class ReplayIn(BaseModel):
    delivery_ids: list[int] | None = None


class PersonRemove(BaseModel):
    reason: str | None = None
