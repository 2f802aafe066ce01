"""``GET /v1/feeds/{bank}?since=CHECKPOINT``: a bank's changes (adds, withdrawals) after a
checkpoint, for another instance or any client to follow. Only partner keys with a grant on
that bank read it. The checkpoint is opaque to clients: ``a<entry id>.w<withdrawal id>``."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select

from consentry.match.banks.formats import _row as jsonl_row
from consentry.match.banks.service import to_record
from consentry.service.auth import Principal, as_partner
from consentry.service.errors import ApiError
from consentry.store.tables.banks import Bank, BankEntry, Withdrawal

router = APIRouter(prefix="/v1", tags=["feeds"])
_CHECKPOINT = re.compile(r"^a(\d+)\.w(\d+)$")


def parse_checkpoint(value: str | None) -> tuple[int, int]:
    if not value:
        return 0, 0
    match = _CHECKPOINT.match(value)
    if match is None:
        raise ApiError(400, "not a checkpoint of this feed (give back the one it sent)", "bad_checkpoint")
    return int(match.group(1)), int(match.group(2))


@router.get("/feeds/{bank}")
def feed(request: Request, bank: str, since: str | None = None, limit: int = 10_000,
         format: str = "jsonl", who: Principal = as_partner) -> dict[str, Any]:
    """``{"checkpoint", "more", "adds": [...], "withdrawals": [...]}``: adds as rows of the
    ``jsonl`` bank format (``format=te``: ``"<type> <value>"`` lines)."""
    if bank not in who.key.grants:
        raise ApiError(403, f"this key has no grant on the feed of {bank!r}", "forbidden")
    if bank == request.app.state.settings.case_bank:  # unconsented cases: never fed (docs/cases.md)
        raise ApiError(403, f"{bank!r} holds victims' cases and is never fed; partners follow "
                       f"{request.app.state.settings.share_bank!r}", "forbidden")
    if format not in ("jsonl", "te"):
        raise ApiError(400, "format is jsonl or te", "bad_request")
    after_entry, after_withdrawal = parse_checkpoint(since)
    limit = min(max(limit, 1), 50_000)
    with request.app.state.db.session() as session:
        bank_id = session.scalar(select(Bank.id).where(Bank.name == bank))
        if bank_id is None:
            raise ApiError(404, f"no bank {bank!r}", "not_found")
        entries = session.scalars(select(BankEntry).where(BankEntry.bank_id == bank_id,
                                                          BankEntry.id > after_entry)
                                  .order_by(BankEntry.id).limit(limit)).all()
        gone = session.execute(select(Withdrawal, BankEntry)
                               .join(BankEntry, BankEntry.id == Withdrawal.entry_id)
                               .where(Withdrawal.bank_id == bank_id, Withdrawal.id > after_withdrawal)
                               .order_by(Withdrawal.id).limit(limit)).all()
        adds: list[Any] = []
        for entry in entries:
            record = to_record(entry)
            row = jsonl_row(record)
            row["metadata"] = {}  # a partner sees hashes and cases, not our notes
            row["note"] = None
            adds.append(f"{record.exchange_name} {record.value}" if format == "te" else row)
        withdrawals = [{"signal_type": e.signal, "signal_value": e.value, "case_id": e.case_id,
                        "withdrawn_at": w.at} for w, e in gone]
    last_entry = entries[-1].id if entries else after_entry
    last_withdrawal = gone[-1][0].id if gone else after_withdrawal
    return {"bank": bank, "checkpoint": f"a{last_entry}.w{last_withdrawal}",
            "more": len(entries) == limit or len(gone) == limit, "format": format,
            "adds": adds, "withdrawals": withdrawals}
