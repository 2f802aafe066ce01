"""HMA 2.x curation routes (``/c``): banks, bank content, signal and content types, with
HMA's JSON shapes. Bank names follow HMA's ``CAPS_AND_UNDERSCORE`` rule here. A bank content
id is a Consentry bank entry id (one hash each; HMA groups a file's hashes under one id)."""

from __future__ import annotations

import contextlib
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from consentry.errors import ConfigError
from consentry.match.banks import service as banks
from consentry.match.banks.records import RecordError, make_record
from consentry.service import bank_entries
from consentry.service.auth import Principal, as_any_key, as_manager
from consentry.service.errors import ApiError
from consentry.service.hma_match import CONTENT_TYPES, HMA_TYPES, hma_name, one_upload, tmp_root
from consentry.service.uploads import content_type_of, hash_file, hma_signals, spool
from consentry.signals.hashing import catalogue

router = APIRouter(prefix="/c", tags=["HMA: curation"])
HMA_BANK_NAME = re.compile(r"^[A-Z0-9_]+$")
ENABLED = 1  # HMA's disable_until_ts of an enabled entry
DISABLED_UNTIL = 4102444800  # 2100-01-01: a withdrawn entry stays out


def _bank_json(info: banks.BankInfo) -> dict[str, Any]:
    return {"matching_enabled_ratio": info.enabled_ratio if info.enabled else 0.0, "name": info.name}


def _bank(request: Request, name: str) -> banks.BankInfo:
    try:
        return banks.require(request.app.state.db, name)
    except ConfigError:
        raise ApiError(404, f"bank '{name}' not found") from None


def _changed(request: Request) -> None:
    request.app.state.lookup.load()


@router.get("/banks", dependencies=[as_manager])
def banks_index(request: Request) -> list[dict[str, Any]]:
    return [_bank_json(b) for b in banks.banks(request.app.state.db)]


@router.get("/bank/{bank_name}", dependencies=[as_manager])
def bank_show(request: Request, bank_name: str) -> dict[str, Any]:
    return _bank_json(_bank(request, bank_name))


@router.post("/banks", status_code=201)
async def bank_create(request: Request, who: Principal = as_manager) -> JSONResponse:
    body = await _json(request)
    name = body.get("name")
    if not isinstance(name, str) or not HMA_BANK_NAME.match(name):
        raise ApiError(400, "Field `name` must match /^[A-Z0-9_]+$/")
    ratio = body.get("enabled_ratio")
    if ratio is None:
        ratio = 1.0 if body.get("enabled", True) else 0.0
    kind = body.get("kind", "other")  # Consentry's addition: ncii, deepfake, other, allow
    db = request.app.state.db
    try:
        banks.require(db, name)
        raise ApiError(403, "Bank already exists")
    except ConfigError:
        pass
    info = banks.create(db, name, kind, who.actor, enabled_ratio=float(ratio))
    return JSONResponse(_bank_json(info), 201)


@router.put("/bank/{bank_name}")
async def bank_update(request: Request, bank_name: str,
                      who: Principal = as_manager) -> dict[str, Any]:
    info = _bank(request, bank_name)
    body = await _json(request)
    if body.get("name") not in (None, info.name):
        raise ApiError(400, "renaming a bank is not supported (create a new one and import)")
    changes: dict[str, Any] = {}
    if body.get("enabled") is not None:
        changes["enabled_ratio"] = 1.0 if body["enabled"] else 0.0
    if body.get("enabled_ratio") is not None:
        changes["enabled_ratio"] = float(body["enabled_ratio"])
    if changes:
        info = banks.change(request.app.state.db, bank_name, who.actor, **changes)
    return _bank_json(info)


@router.delete("/bank/{bank_name}")
def bank_delete(request: Request, bank_name: str, who: Principal = as_manager) -> dict[str, str]:
    with contextlib.suppress(ConfigError):  # HMA answers "Done" for a bank that is not there
        banks.delete(request.app.state.db, bank_name, who.actor)
    _changed(request)
    return {"message": "Done"}


@router.get("/bank/{bank_name}/content/{content_id}", dependencies=[as_manager])
def bank_get_content(request: Request, bank_name: str, content_id: int,
                     include_signals: bool = True) -> dict[str, Any]:
    _bank(request, bank_name)
    row = bank_entries.entry(request.app.state.db, bank_name, content_id)
    if row is None:
        raise ApiError(404, f"content '{content_id}' not found")
    out: dict[str, Any] = {
        "bank": {"matching_enabled_ratio": row.bank_ratio, "name": row.bank},
        "disable_until_ts": ENABLED if row.withdrawn_at is None else DISABLED_UNTIL,
        "id": row.entry_id, "original_media_uri": None}
    if include_signals:
        out["signals"] = {hma_name(catalogue.get(row.signal)): row.value}
    if row.note:
        out["note"] = row.note
    return out


@router.post("/bank/{bank_name}/content")
async def bank_add_content(request: Request, bank_name: str,
                           who: Principal = as_manager) -> dict[str, Any]:
    _bank(request, bank_name)
    if request.query_params.get("url"):
        raise ApiError(400, "URL fetching is off on this service (send the file instead)")
    form = await request.form()
    field, upload = one_upload(form, "Neither `url` nor multipart file upload was received")
    note = form.get("note")
    with tempfile.TemporaryDirectory(dir=tmp_root(request)) as tmp:
        path, _size, found = await spool(upload, Path(tmp))  # type: ignore[arg-type]
        kind = content_type_of(found, field)
        report = await run_in_threadpool(hash_file, path)
    signals = hma_signals(report, kind)
    return await run_in_threadpool(_add_signals, request, bank_name, signals,
                                   note if isinstance(note, str) else None, who)


@router.post("/bank/{bank_name}/signal")
async def bank_add_signal(request: Request, bank_name: str,
                          who: Principal = as_manager) -> dict[str, Any]:
    _bank(request, bank_name)
    body = await _json(request)
    note = body.pop("note", None)
    return await run_in_threadpool(_add_signals, request, bank_name, body, note, who)


def _add_signals(request: Request, bank_name: str, signals: dict[str, Any], note: Any,
                 who: Principal) -> dict[str, Any]:
    if not signals:
        raise ApiError(400, "No signals given")
    if note is not None and (not isinstance(note, str) or len(note) > 255):
        raise ApiError(400, "note must be a string of at most 255 characters")
    records = []
    for name, value in signals.items():
        if name not in HMA_TYPES:
            raise ApiError(400, f"No such signal type {name}")
        try:
            records.append(make_record(name, str(value), note=note or None))
        except RecordError as exc:
            raise ApiError(400, f"Invalid {name} signal: {exc}") from None
    db = request.app.state.db
    banks.add(db, bank_name, records, source="api", actor=who.actor)
    _changed(request)
    ids = [bank_entries.active_entry_id(db, bank_name, r.signal, r.value_key) for r in records]
    return {"id": ids[0], "signals": {name: r.value for name, r in zip(signals, records, strict=True)}}


@router.put("/bank/{bank_name}/content/{content_id}")
async def bank_update_content(request: Request, bank_name: str, content_id: int,
                              who: Principal = as_manager) -> dict[str, Any]:
    """``disable_until_ts`` later than now withdraws the entry (a withdrawal is final)."""
    _bank(request, bank_name)
    db = request.app.state.db
    row = bank_entries.entry(db, bank_name, content_id)
    if row is None:
        raise ApiError(404, f"content '{content_id}' not found")
    body = await _json(request)
    until = body.get("disable_until_ts")
    if until is not None:
        if not isinstance(until, int) or until < 0:
            raise ApiError(400, "disable_until_ts must be a non-negative integer")
        if until > time.time() and row.withdrawn_at is None:
            banks.withdraw_hashes(db, bank_name, who.actor, "disabled through the HMA API",
                                  hash_hex=row.value_key)
            _changed(request)
        elif until <= time.time() and row.withdrawn_at is not None:
            raise ApiError(400, "a withdrawn entry is not enabled again: add the hash anew")
    return bank_get_content(request, bank_name, content_id)


@router.delete("/bank/{bank_name}/content/{content_id}")
def bank_delete_content(request: Request, bank_name: str, content_id: int,
                        who: Principal = as_manager) -> dict[str, int]:
    _bank(request, bank_name)
    db = request.app.state.db
    row = bank_entries.entry(db, bank_name, content_id)
    if row is None or row.withdrawn_at is not None:
        return {"deleted": 0}
    ids = banks.withdraw_hashes(db, bank_name, who.actor, "removed through the HMA API",
                                hash_hex=row.value_key)
    _changed(request)
    return {"deleted": len(ids)}


@router.get("/signal_type", dependencies=[as_any_key])
def signal_types() -> list[dict[str, Any]]:
    return [{"enabled_ratio": 1.0, "name": name} for name in HMA_TYPES]


@router.get("/signal_type/index", dependencies=[as_any_key])
def signal_type_index(request: Request) -> dict[str, dict[str, Any]]:
    status = request.app.state.lookup.status()
    out = {}
    for name, ours in HMA_TYPES.items():
        s = status[ours]
        out[name] = {"db_size": s["size"], "index_built_to": s["built_to"], "index_out_of_date": False,
                     "index_size": s["size"], "newest_db_item": s["built_to"]}
    return out


@router.get("/content_type", dependencies=[as_any_key])
def content_types() -> list[dict[str, Any]]:
    return [{"enabled": True, "name": name} for name in CONTENT_TYPES]


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ApiError(400, "this endpoint expects a json object payload")
    return body
