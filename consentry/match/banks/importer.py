"""Importing a hash list into a bank, streamed: rows are read, validated and written in
batches inside one transaction, so a list of millions of rows needs little memory, and a
malformed row (without ``skip_bad``) rolls the whole import back: nothing is added.

Every data row ends up counted once: imported, already present (a duplicate), withdrawn (a
StopNCII record whose status says so), or reported in ``errors`` with its line.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from consentry.match.banks import formats, service
from consentry.match.banks.records import BankRecord
from consentry.store.db import Database


class _Abort(Exception):
    """Raised inside the import's transaction to roll it back."""


@dataclass
class ImportOutcome:
    fmt: str
    errors: list[formats.RowError] = field(default_factory=list)
    result: service.AddResult | None = None  # None: rolled back (errors without skip_bad)


def import_file(db: Database, bank: service.BankInfo, path: Path, fmt: str | None, *, skip_bad: bool,
                case_id: str | None, actor: str, source: str = "import") -> ImportOutcome:
    with open(path, "rb") as fh:
        if not fh.seekable():  # a pipe (/dev/stdin): read it once into a file we can rewind
            with tempfile.TemporaryFile() as spool:
                shutil.copyfileobj(fh, spool)
                spool.seek(0)
                return import_stream(db, bank, spool, fmt, skip_bad=skip_bad, case_id=case_id,
                                     actor=actor, source=source)
        return import_stream(db, bank, fh, fmt, skip_bad=skip_bad, case_id=case_id, actor=actor,
                             source=source)


def import_stream(db: Database, bank: service.BankInfo, stream: IO[bytes], fmt: str | None, *,
                  skip_bad: bool, case_id: str | None, actor: str, source: str = "import"
                  ) -> ImportOutcome:
    fmt = fmt or formats.detect(stream)
    rows = formats.read(stream, fmt, bank_kind=bank.kind)
    return import_rows(db, bank, rows, fmt, skip_bad=skip_bad, case_id=case_id, actor=actor, source=source)


def import_rows(db: Database, bank: service.BankInfo, rows: Iterable[formats.Row | formats.RowError],
                fmt: str, *, skip_bad: bool, case_id: str | None, actor: str, source: str = "import"
                ) -> ImportOutcome:
    outcome = ImportOutcome(fmt)
    withdrawals: list[BankRecord] = []

    def good_rows() -> Iterator[BankRecord]:
        for row in rows:
            if isinstance(row, formats.RowError):
                outcome.errors.append(row)
                if not skip_bad and len(outcome.errors) >= 1000:
                    return  # nothing will be imported: enough to say what is wrong
            elif row.withdraw:
                withdrawals.append(row.record)
            else:
                yield row.record

    def check() -> None:
        if outcome.errors and not skip_bad:
            raise _Abort

    try:
        outcome.result = service.add(db, bank.name, good_rows(), source=source, actor=actor,
                                     case_id=case_id, withdrawals=withdrawals, before_commit=check)
    except _Abort:
        outcome.result = None
    return outcome
