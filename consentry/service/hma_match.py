"""HMA 2.x hashing and matching routes (``/h``, ``/m``), with HMA's parameters and JSON shapes
(its docs/api.md and OpenMediaMatch blueprints; recorded answers in tests/test_service_hma.py).
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from consentry.service.auth import as_lookup, as_submitter
from consentry.service.errors import ApiError
from consentry.service.lookup import BankLookup, parse_signal
from consentry.service.uploads import content_type_of, fetch_into_spool, hash_file, hma_signals, spool
from consentry.signals.hashing import catalogue
from consentry.signals.hashing.base import HashType

router = APIRouter(tags=["HMA: hashing and matching"])
# HMA's signal type names, and ours behind them
HMA_TYPES = {"pdq": "pdq", "video_md5": "md5", "vpdq": "vpdq"}
CONTENT_TYPES = ("photo", "video")


def hma_name(htype: type[HashType]) -> str:
    return next((k for k, v in HMA_TYPES.items() if v == htype.name), htype.name)


def _parse(signal_type: str, signal: str) -> tuple[type[HashType], str]:
    if signal_type not in HMA_TYPES:
        raise ApiError(400, f"No such SignalType '{signal_type}'")
    try:
        return parse_signal(HMA_TYPES[signal_type], signal)
    except (LookupError, ValueError) as exc:
        raise ApiError(400, str(exc)) from None


def _lookup(request: Request) -> BankLookup:
    lookup: BankLookup = request.app.state.lookup
    if not lookup.ready:
        raise ApiError(503, "index not yet ready")
    return lookup


def _banks(banks: str | None) -> set[str] | None:
    return set(banks.split(",")) if banks else None


async def hash_form(request: Request) -> dict[str, str]:
    """HMA's multipart rule: exactly one file, in a field named after its content type."""
    field, upload = one_upload(await request.form(), "Missing multipart/form-data file upload")
    with tempfile.TemporaryDirectory(dir=tmp_root(request)) as tmp:
        path, _size, found = await spool(upload, Path(tmp))  # type: ignore[arg-type]
        kind = content_type_of(found, field)
        report = await run_in_threadpool(hash_file, path)
    return hma_signals(report, kind)


def one_upload(form: Any, missing: str) -> tuple[str, Any]:
    """HMA's multipart rule: exactly one file, in a field named after its content type
    (``missing``: HMA's own message for no file, which differs between its routes)."""
    files = [(name, value) for name, value in form.multi_items() if hasattr(value, "read")]
    if not files:
        raise ApiError(400, missing)
    if len(files) > 1:
        raise ApiError(400, "Only one file allowed per request")
    field, upload = files[0]
    if field not in CONTENT_TYPES:
        raise ApiError(400, f"no such content_type: '{field}'")
    return field, upload


def tmp_root(request: Request) -> Path:
    root = request.app.state.settings.spool_dir / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _no_url(url: str | None) -> None:
    if url:
        raise ApiError(400, "URL fetching is off on this service (send the file instead)")


@router.post("/h/hash", dependencies=[as_submitter])
async def hash_post(request: Request) -> dict[str, str]:
    """Hash an upload: multipart field ``photo`` or ``video`` → ``{"pdq": "<hex>"}``."""
    return await hash_form(request)


@router.get("/h/hash", dependencies=[as_submitter])
async def hash_get(request: Request, url: str | None = None) -> dict[str, str]:
    """HMA's ``?url=``: fetched only where the operator turned URL fetching on (allow-listed
    hosts, public addresses, size and time limits: service/url_fetch.py), else 400."""
    if not url:
        raise ApiError(400, "url is required")
    settings = request.app.state.settings
    if not settings.url_fetch:
        _no_url(url)
    with tempfile.TemporaryDirectory(dir=tmp_root(request)) as tmp:
        try:
            path, _size = await fetch_into_spool(settings, url, Path(tmp), "fetched")
        except ApiError as exc:  # HMA's routes answer {"message": ...}
            raise ApiError(exc.status, exc.message) from None
        from consentry.media.sniff import sniff
        from consentry.types import MediaKind

        with open(path, "rb") as fh:
            found = sniff(fh.read(64))  # fetch_into_spool refused what this does not know
        kind = "photo" if found is not None and found.kind is MediaKind.IMAGE else "video"
        report = await run_in_threadpool(hash_file, path)
    return hma_signals(report, kind)


@router.get("/m/raw_lookup", dependencies=[as_lookup])
async def raw_lookup(request: Request, signal_type: str, signal: str, include_distance: bool = False,
               banks: str | None = None) -> dict[str, list[Any]]:
    """Index lookup, no bank settings applied: ``{"matches": [content ids]}``. Index lookups
    run on the event loop, batched with those that arrive at the same time (lookup.py's
    BatchedSearch); anything that reads the database runs in a thread."""
    htype, value = _parse(signal_type, signal)
    lookup = _lookup(request)
    if lookup.indexed(htype):
        hits = await request.app.state.batched_search.search(htype, value)
    else:
        hits = await run_in_threadpool(lookup.search, htype, value)
    wanted = _banks(banks)
    if wanted is not None:
        entries = await run_in_threadpool(lookup.entries, [h.entry_id for h in hits])
        hits = [h for h in hits if h.entry_id in entries and entries[h.entry_id].bank in wanted]
    if include_distance:
        return {"matches": [{"bank_content_id": h.entry_id, "distance": str(h.distance)} for h in hits]}
    return {"matches": [h.entry_id for h in hits]}


def match_by_bank(lookup: BankLookup, htype: type[HashType], value: str, *, bypass_coinflip: bool,
                  seed: str | None, banks: set[str] | None) -> dict[str, list[dict[str, Any]]]:
    """HMA's lookup: hits in enabled entries of banks that pass the coin flip, by bank,
    each bank's own threshold applied."""
    hits = lookup.search(htype, value)
    entries = lookup.entries([h.entry_id for h in hits])
    coinflip = 0.0 if bypass_coinflip else random.Random(seed).random()
    out: dict[str, list[dict[str, Any]]] = {}
    for hit in hits:
        entry = entries.get(hit.entry_id)
        if entry is None or not entry.active or hit.distance > entry.threshold:
            continue
        ratio = entry.enabled_ratio if entry.bank_enabled else 0.0
        if ratio < coinflip or (banks is not None and entry.bank not in banks):
            continue
        out.setdefault(entry.bank, []).append({"bank_content_id": hit.entry_id,
                                               "distance": str(hit.distance)})
    return out


@router.get("/m/lookup", dependencies=[as_lookup])
def lookup_get(request: Request, signal_type: str | None = None, signal: str | None = None,
               url: str | None = None, bypass_coinflip: bool = False, seed: str | None = None,
               banks: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """``{"BANK": [{"bank_content_id": N, "distance": "D"}]}`` for one hash."""
    _no_url(url)
    if not signal or not signal_type:
        raise ApiError(400, "Either url or both signal and signal_type are required")
    htype, value = _parse(signal_type, signal)
    return match_by_bank(_lookup(request), htype, value, bypass_coinflip=bypass_coinflip, seed=seed,
                         banks=_banks(banks))


@router.post("/m/lookup", dependencies=[as_submitter])
async def lookup_post(request: Request, bypass_coinflip: bool = False, seed: str | None = None,
                      banks: str | None = None) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Hash an upload and look each hash up: ``{"pdq": {"BANK": [...]}}``."""
    hashes = await hash_form(request)
    lookup = _lookup(request)
    out = {}
    for name, value in hashes.items():
        htype, canonical = _parse(name, value)
        out[name] = match_by_bank(lookup, htype, canonical, bypass_coinflip=bypass_coinflip,
                                  seed=seed, banks=_banks(banks))
    return out


@router.get("/m/index/status", dependencies=[as_lookup])
def index_status(request: Request, signal_type: str | None = None) -> dict[str, dict[str, Any]]:
    status = request.app.state.lookup.status()
    out = {name: status[ours] for name, ours in HMA_TYPES.items() if ours in status}
    if signal_type is not None:
        if signal_type not in out:
            raise ApiError(400, f"No such signal type '{signal_type}'")
        out = {signal_type: out[signal_type]}
    return out


@router.post("/m/compare", dependencies=[as_lookup])
async def compare(request: Request) -> dict[str, Any]:
    """``{"pdq": [a, b]}`` → ``{"pdq": [matches, {"distance": d}]}``."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ApiError(400, "Request input was not a dict")
    out: dict[str, Any] = {}
    for name, pair in body.items():
        if not isinstance(pair, list):
            raise ApiError(400, f"Comparison hashes for {name} was not a list")
        if len(pair) != 2:
            raise ApiError(400, "Comparison hash list length must be exactly 2")
        if name not in HMA_TYPES:
            raise ApiError(400, f"No such SignalType '{name}'")
        htype = catalogue.get(HMA_TYPES[name])
        try:
            left, right = htype.parse(str(pair[0])), htype.parse(str(pair[1]))
        except ValueError as exc:
            raise ApiError(400, f"Invalid {name} hash: {exc}") from None
        distance = htype.distance(left, right)
        out[name] = [distance <= htype.default_threshold, {"distance": distance}]
    return out


