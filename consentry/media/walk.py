"""Expand the paths a user gave into files, reporting what cannot be walked instead of failing."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WalkEntry:
    path: Path
    problem: str | None = None  # set when the entry cannot be scanned
    problem_code: str | None = None


def walk(paths: list[Path]) -> Iterator[WalkEntry]:
    """Yield files under ``paths`` (recursing into folders, following symlinks once)."""
    seen_dirs: set[tuple[int, int]] = set()
    for path in paths:
        yield from _walk_one(path, seen_dirs)


def _walk_one(path: Path, seen_dirs: set[tuple[int, int]]) -> Iterator[WalkEntry]:
    try:
        st = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            yield WalkEntry(path, "broken symlink: its target does not exist", "not_found")
        else:
            yield WalkEntry(path, "no such file or folder", "not_found")
        return
    except OSError as exc:  # ELOOP for self-referencing links, EACCES, ...
        yield WalkEntry(path, f"cannot read: {exc.strerror or exc}", _code(exc))
        return
    if stat.S_ISDIR(st.st_mode):
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            yield WalkEntry(path, "symlink loop: this folder was already scanned", "symlink_loop")
            return
        seen_dirs.add(key)
        try:
            children = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError as exc:
            yield WalkEntry(path, f"cannot list folder: {exc.strerror or exc}", _code(exc))
            return
        for child in children:
            yield from _walk_one(Path(child.path), seen_dirs)
    elif stat.S_ISREG(st.st_mode):
        yield WalkEntry(path)
    else:
        yield WalkEntry(path, "not a regular file (device, pipe or socket)", "not_regular")


def _code(exc: OSError) -> str:
    import errno

    return {errno.ELOOP: "symlink_loop", errno.EACCES: "unreadable", errno.EPERM: "unreadable"}.get(
        exc.errno or 0, "os_error"
    )
