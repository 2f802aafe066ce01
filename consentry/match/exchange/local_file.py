"""``local_file``: a hash-list file, or a folder of them, watched for new and changed files
(like pytx's ``local_file`` collaboration, which reads one file of ``<type> <signal>`` lines).

The checkpoint holds each file's size and modification time: a file is read again only when
they change (an appended file is read whole again; rows already banked count as duplicates).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

from consentry.match.exchange.base import Checkpoint, ExchangeError, ExchangeSource, Piece


class LocalFileSource(ExchangeSource):
    kind = "local_file"
    description = "a hash-list file or a folder of them (any format of `bank import`)"

    def __init__(self, path: Path, fmt: str | None = None) -> None:
        self.path = path
        self.fmt = fmt

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> LocalFileSource:
        if not settings.get("path"):
            raise ValueError("local_file needs a path")
        return cls(Path(settings["path"]).expanduser().resolve(), settings.get("format"))

    def settings(self) -> dict[str, Any]:
        return {"path": str(self.path), "format": self.fmt}

    def fetch(self, checkpoint: Checkpoint | None) -> Iterator[Piece]:
        if not self.path.exists():
            raise ExchangeError(f"{self.path} does not exist")
        files = sorted(p for p in self.path.iterdir() if p.is_file() and not p.name.startswith(".")
                       ) if self.path.is_dir() else [self.path]
        seen: dict[str, Any] = dict((checkpoint or {}).get("files") or {})
        for path in files:
            stat = path.stat()
            mark = [stat.st_size, stat.st_mtime_ns]
            if seen.get(path.name) == mark:
                continue
            seen = {**seen, path.name: mark}
            yield Piece(path.name, {"files": seen}, open_stream=partial(path.open, "rb"), fmt=self.fmt)
