"""Native bank routes (``/v1/banks``) and hash lookups without media (``/v1/lookup``). The
JSON is the CLI's (``BankInfo.as_json``, ``EntryInfo.as_json``)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder

from consentry.match.banks import service as banks
from consentry.match.banks.formats import _row as jsonl_row
from consentry.match.banks.records import RecordError, make_record
from consentry.service.auth import Principal, as_lookup, as_manager
from consentry.service.errors import ApiError
from consentry.service.hma_match import tmp_root
from consentry.service.lookup import BankLookup
from consentry.service.schemas import BankChange, BankCreate, EntriesIn, LookupIn, WithdrawIn
from consentry.signals.hashing import catalogue
from consentry.signals.hashing.base import HashValueError

router = APIRouter(prefix="/v1", tags=["banks"])
_LIST = File(..., description="a hash list (jsonl, csv, te, te-csv or stopncii)")


@router.get("/banks", dependencies=[as_manager])
def list_banks(request: Request) -> list[dict[str, Any]]:
    return jsonable_encoder([b.as_json() for b in banks.banks(request.app.state.db)])


@router.post("/banks", status_code=201)
def create_bank(request: Request, body: BankCreate, who: Principal = as_manager) -> dict[str, Any]:
    info = banks.create(request.app.state.db, body.name, body.kind, who.actor,
                        **body.model_dump(exclude={"name", "kind"}))
    return jsonable_encoder(info.as_json())


@router.get("/banks/{name}", dependencies=[as_manager])
def show_bank(request: Request, name: str, entries: int = 100) -> dict[str, Any]:
    info, rows = banks.show(request.app.state.db, name, min(max(entries, 0), 10_000))
    return jsonable_encoder({**info.as_json(), "entry_list": [e.as_json() for e in rows]})


@router.patch("/banks/{name}")
def change_bank(request: Request, name: str, body: BankChange,
                who: Principal = as_manager) -> dict[str, Any]:
    changes = body.model_dump(exclude_none=True)
    info = banks.change(request.app.state.db, name, who.actor, **changes)
    request.app.state.lookup.load()
    return jsonable_encoder(info.as_json())


@router.delete("/banks/{name}")
def delete_bank(request: Request, name: str, who: Principal = as_manager) -> dict[str, Any]:
    n = banks.delete(request.app.state.db, name, who.actor)
    request.app.state.lookup.load()
    return {"bank": name, "deleted_entries": n}


@router.post("/banks/{name}/entries")
def add_entries(request: Request, name: str, body: EntriesIn,
                who: Principal = as_manager) -> dict[str, Any]:
    records = []
    for i, entry in enumerate(body.entries):
        try:
            records.append(make_record(entry.signal, entry.value, case_id=entry.case_id, note=entry.note))
        except RecordError as exc:
            raise ApiError(400, f"entry {i}: {exc.field}: {exc}", "bad_entry") from None
    result = banks.add(request.app.state.db, name, records, source="api", actor=who.actor,
                       case_id=body.case_id)
    request.app.state.lookup.load()
    return {"bank": name, "added": result.added, "duplicates": result.duplicates}


@router.post("/banks/{name}/withdraw")
def withdraw(request: Request, name: str, body: WithdrawIn,
             who: Principal = as_manager) -> dict[str, Any]:
    if (body.hash is None) == (body.case_id is None):
        raise ApiError(400, "name a hash or a case_id (one of them)", "bad_request")
    ids = banks.withdraw_hashes(request.app.state.db, name, who.actor, body.reason,
                                hash_hex=body.hash, case_id=body.case_id)
    request.app.state.lookup.load()
    return {"bank": name, "withdrawn": ids}


@router.post("/banks/{name}/import")
async def import_list(request: Request, name: str, file: UploadFile = _LIST, format: str | None = None,
                      skip_bad: bool = False, case_id: str | None = None,
                      who: Principal = as_manager) -> dict[str, Any]:
    """A hash list as ``bank import`` reads it (format detected: jsonl, csv, te, te-csv,
    stopncii). A bad row rolls the whole import back unless ``skip_bad``."""
    from consentry.match.banks import importer

    db = request.app.state.db
    info = banks.require(db, name)
    with tempfile.TemporaryDirectory(dir=tmp_root(request)) as tmp:
        path = Path(tmp) / "list"
        with open(path, "wb") as out:
            while chunk := await file.read(1024 * 1024):
                out.write(chunk)
        outcome = await run_in_threadpool(importer.import_file, db, info, path, format, skip_bad=skip_bad,
                                          case_id=case_id, actor=who.actor, source="api")
    request.app.state.lookup.load()
    result = outcome.result
    return {"bank": name, "format": outcome.fmt, "rolled_back": result is None,
            "added": result.added if result else 0, "duplicates": result.duplicates if result else 0,
            "withdrawn": result.withdrawn if result else 0,
            "errors": [str(e) for e in outcome.errors[:100]], "n_errors": len(outcome.errors)}


@router.get("/banks/{name}/export", dependencies=[as_manager])
def export(request: Request, name: str) -> list[dict[str, Any]]:
    """The bank's active entries as rows of the ``jsonl`` format (``bank export``)."""
    banks.require(request.app.state.db, name)
    return [jsonl_row(r) for r in banks.export(request.app.state.db, name)]


def _lookup_one(lookup: BankLookup, signal: str, value: str, partner: bool) -> dict[str, Any]:
    htype = catalogue.find(signal)
    if htype is None:
        raise ApiError(400, f"unknown signal type {signal!r}; known: {', '.join(catalogue.names())}",
                       "bad_signal")
    try:
        canonical = htype.parse(value)
    except HashValueError as exc:
        raise ApiError(400, str(exc), "bad_signal") from None
    lookup.maybe_refresh()
    hits = lookup.search(htype, canonical)
    entries = lookup.entries([h.entry_id for h in hits])
    matches = []
    for hit in hits:
        entry = entries.get(hit.entry_id)
        if entry is None or not entry.active or not entry.bank_enabled or hit.distance > entry.threshold:
            continue
        match = {"bank": entry.bank, "entry_id": hit.entry_id, "signal": htype.name,
                 "distance": hit.distance}
        matches.append(match if partner else {**match, "value": entry.value})
    return {"signal": htype.name, "value": canonical, "matches": matches}


@router.get("/lookup")
def lookup_get(request: Request, who: Principal = as_lookup) -> dict[str, Any]:
    """``?pdq=HEX`` (or ``md5=``, ``sha256=``): the active entries within each bank's threshold."""
    given = [(k, v) for k, v in request.query_params.items() if catalogue.find(k) is not None]
    if len(given) != 1:
        raise ApiError(400, "give one hash: ?pdq=, ?md5= or ?sha256= (vPDQ: POST a JSON body)",
                       "bad_request")
    return _lookup_one(request.app.state.lookup, *given[0], who.role == "partner")


@router.post("/lookup")
async def lookup_post(request: Request, body: LookupIn,
                      who: Principal = as_lookup) -> dict[str, Any]:
    """``{"signal": "vpdq", "value": "..."}`` for hashes too long for a URL."""
    return await run_in_threadpool(_lookup_one, request.app.state.lookup, body.signal, body.value,
                                   who.role == "partner")
