"""Interruptions that never land inside a database transaction (scans and backfills)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


class Interrupts:
    """Ctrl-C and SIGTERM end a scan or a backfill, but never inside a database transaction: a
    KeyboardInterrupt raised while SQLAlchemy hands a connection back can leave SQLite's
    write lock held by that connection, and what runs next (closing the scan, handing a
    backfill chunk back) then finds the database locked. Inside ``critical()`` a signal is
    noted and raised when it ends."""

    def __init__(self) -> None:
        self.depth = 0
        self.pending = False

    def _handler(self, _signum: int, _frame: object) -> None:
        if self.depth:
            self.pending = True
            return
        raise KeyboardInterrupt

    @contextmanager
    def installed(self) -> Iterator[None]:
        try:
            previous = [signal.signal(s, self._handler) for s in (signal.SIGINT, signal.SIGTERM)]
        except ValueError:  # not the main thread: leave signals alone
            yield
            return
        try:
            yield
        finally:
            self.depth += 1  # the clean-up after an interruption is not interrupted again
            signal.signal(signal.SIGINT, previous[0])
            signal.signal(signal.SIGTERM, previous[1])

    @contextmanager
    def critical(self) -> Iterator[None]:
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        if not self.depth and self.pending:
            self.pending = False
            raise KeyboardInterrupt
