"""Where enrolment photos sit while they are analysed: a private folder in memory (/dev/shm,
a RAM file system, where the machine has one; else the system's temporary folder), made
0700 and deleted with everything in it when the request ends, whatever happens. Each file
is named by its place in the request (photo-1, photo-2, consent), never by the client's
file name, except that a consent document keeps its name's suffix for the record."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import UploadFile
from fastapi.concurrency import run_in_threadpool

MAX_PHOTOS = 20
_SHM = Path("/dev/shm")


@contextmanager
def in_memory_folder() -> Iterator[Path]:
    root = _SHM if _SHM.is_dir() and os.access(_SHM, os.W_OK) else None
    folder = Path(tempfile.mkdtemp(prefix="consentry-enrol-", dir=root))  # mode 0700
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def write_upload(upload: UploadFile, folder: Path, stem: str) -> Path:
    suffix = Path(upload.filename or "").suffix.lower()
    suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""
    path = folder / f"{stem}{suffix}"

    def copy() -> None:
        upload.file.seek(0)
        with open(path, "wb") as out:
            shutil.copyfileobj(upload.file, out, 1024 * 1024)

    await run_in_threadpool(copy)
    return path
