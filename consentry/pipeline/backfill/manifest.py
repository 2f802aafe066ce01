"""What a backfill works through: files under folders, or the entries of a manifest file
(one path per line, or JSON Lines with ``path`` and an optional ``external_id``).

Paths are made absolute (relative lines in a manifest are relative to the manifest's own
folder), so a resume from another working directory finds the same files. A malformed
manifest line stops the run before anything is recorded, naming the line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from consentry.errors import ConfigError
from consentry.media.sniff import sniff
from consentry.media.walk import walk

ManifestEntry = tuple[Path, str | None]  # (absolute path, external id)


def is_manifest(path: Path) -> bool:
    """A regular file given as a source is a manifest unless its content is media."""
    if not path.is_file():
        return False
    with open(path, "rb") as fh:
        return sniff(fh.read(64)) is None


def read_sources(sources: list[Path]) -> Iterator[ManifestEntry]:
    for source in sources:
        source = Path(os.path.abspath(source))  # absolute, symlinks kept as given
        if is_manifest(source):
            yield from read_manifest(source)
        else:
            for entry in walk([source]):  # problems (missing, loops) become entries too
                yield entry.path, None


def read_manifest(manifest: Path) -> Iterator[ManifestEntry]:
    base = manifest.parent
    with open(manifest, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.rstrip(b"\r\n")
            if lineno == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]  # a BOM from a Windows editor
            if not line.strip():
                continue
            if line.lstrip().startswith(b"{"):
                path, external_id = _json_line(manifest, lineno, line)
            else:
                path, external_id = Path(os.fsdecode(line)), None
            target = Path(os.path.abspath(path if path.is_absolute() else base / path))
            if target.is_dir():  # a folder listed in a manifest: its files, under its id
                for entry in walk([target]):
                    yield entry.path, external_id
            else:
                yield target, external_id


def _json_line(manifest: Path, lineno: int, line: bytes) -> tuple[Path, str | None]:
    where = f"{manifest}:{lineno}"
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: not valid JSON ({exc})") from exc
    if not isinstance(obj, dict) or not isinstance(obj.get("path"), str) or not obj["path"]:
        raise ConfigError(f"{where}: each JSON line needs a \"path\" string")
    external_id = obj.get("external_id")
    if external_id is not None and not isinstance(external_id, (str, int)):
        raise ConfigError(f"{where}: \"external_id\" must be a string or a number")
    if external_id is not None and len(str(external_id)) > 400:
        raise ConfigError(f"{where}: \"external_id\" is longer than 400 characters")
    return Path(obj["path"]), None if external_id is None else str(external_id)
