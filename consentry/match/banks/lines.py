"""Lines of a hash list as the readers need them: decoded one at a time with their numbers
and byte offsets (so reading can resume after a record the CSV parser cannot read), and fed to
the csv module one record at a time with a bound on its size."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import IO

# One record (a line, or a quoted CSV record over several lines) may be this long: a vPDQ of
# 200,000 frames (Limits.max_frames) is 15 MB. The csv module's own limit (128 kB) is raised
# to it, process-wide (it only ever allows more).
MAX_RECORD_BYTES = 64 * 1024 * 1024
MAX_RECORD_LINES = 1000  # a quoted field spanning more lines is taken as an unterminated quote
csv.field_size_limit(MAX_RECORD_BYTES)


class Unreadable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Lines:
    """Decoded lines of a binary stream with their numbers and byte offsets (for resuming
    after a record the CSV parser cannot read)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.line = 0  # lines read so far
        self.too_long = 0  # the last line that was over MAX_RECORD_BYTES
        start = stream.tell()
        self.bom = stream.read(3) == b"\xef\xbb\xbf"
        if not self.bom:
            stream.seek(start)
        self.offset = stream.tell()

    def raw(self) -> Iterator[tuple[int, bytes]]:
        """(line number, bytes without the line end); an over-long line is cut off and its
        rest skipped (it is reported by the caller as too long)."""
        while True:
            data = self.stream.readline(MAX_RECORD_BYTES + 1)
            if not data:
                return
            self.line += 1
            self.offset += len(data)
            if len(data) > MAX_RECORD_BYTES and not data.endswith(b"\n"):
                while (more := self.stream.readline(1 << 20)) and not more.endswith(b"\n"):
                    self.offset += len(more)
                self.offset += len(more)
                self.too_long = self.line
                yield self.line, b""  # the caller reports the line
                continue
            yield self.line, data.rstrip(b"\r\n")

    def text(self) -> Iterator[tuple[int, str | None]]:
        """(line number, text), or None as the text of a line that is not UTF-8 or too long."""
        for line, data in self.raw():
            if self.too_long == line:
                yield line, None
                continue
            try:
                yield line, data.decode("utf-8")
            except UnicodeDecodeError:
                yield line, None

    def seek_line(self, line: int, offset: int) -> None:
        self.stream.seek(offset)
        self.line, self.offset = line, offset


def bad_line(lines: Lines, line: int) -> str:
    if lines.too_long == line:
        return f"longer than {MAX_RECORD_BYTES // (1024 * 1024)} MB"
    return "not UTF-8 text"


def csv_reason(exc: csv.Error) -> str:
    text = str(exc)
    if "end of data" in text or "EOF" in text:
        return "unterminated quote"
    return f"not readable as CSV ({text})"


class CsvFeed:
    """The lines the csv module reads, one record at a time, with a bound on its size."""

    def __init__(self, lines: Lines) -> None:
        self.lines = lines
        self.source = lines.text()
        self.n_lines = self.n_bytes = 0

    def new_record(self) -> None:
        self.n_lines = self.n_bytes = 0

    def __iter__(self) -> CsvFeed:
        return self

    def __next__(self) -> str:
        line, text = next(self.source)
        if text is None:
            raise Unreadable(bad_line(self.lines, line))
        self.n_lines += 1
        self.n_bytes += len(text)
        if self.n_lines > MAX_RECORD_LINES or self.n_bytes > MAX_RECORD_BYTES:
            raise Unreadable("unterminated quote (a quoted field runs over "
                              f"{MAX_RECORD_LINES} lines or {MAX_RECORD_BYTES // 2**20} MB)")
        return text + "\n"


