"""A doorbell for idle job workers on one machine: a worker with nothing to do waits on its
own Unix datagram socket (Linux abstract namespace: no file to clean, no path length limit)
instead of asking the job table every 50 ms, and the HTTP process rings every listener after
it queues a job. Each listener leaves a ``NAME.bell`` file in the spool's ``bells`` folder so
ringers can find it; a ring that finds nobody listening removes the stale file.

Polling stays as the safety net (PostgreSQL: another machine's uploads ring nobody here), at a
slower pace when idle: an idle server polled the queue with two write transactions every
50 ms per job worker, a quarter of a core on this 2-core machine (docs/performance.md).
"""

from __future__ import annotations

import contextlib
import select
import socket
import uuid
from pathlib import Path

_PREFIX = "\0consentry-bell-"


class Doorbell:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._sock: socket.socket | None = None
        self._file: Path | None = None

    def listen(self) -> Doorbell:
        name = uuid.uuid4().hex
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(_PREFIX + name)
        sock.setblocking(False)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._file = self.folder / f"{name}.bell"
        self._file.touch()
        self._sock = sock
        return self

    def wait(self, timeout: float) -> bool:
        """True when rung within ``timeout`` seconds (every ring so far is consumed)."""
        if self._sock is None:
            return False
        ready, _, _ = select.select([self._sock], [], [], timeout)
        rung = bool(ready)
        with contextlib.suppress(BlockingIOError):
            while True:
                self._sock.recv(16)
        return rung

    def ring(self) -> None:
        """Wake every listener of this folder (costs a few microseconds each)."""
        if not self.folder.is_dir():
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            for bell in self.folder.glob("*.bell"):
                try:
                    sock.sendto(b"1", _PREFIX + bell.stem)
                except (ConnectionRefusedError, FileNotFoundError):
                    bell.unlink(missing_ok=True)  # its worker is gone
                except BlockingIOError:
                    pass  # its queue is full: it has been rung already

    def close(self) -> None:
        if self._file is not None:
            self._file.unlink(missing_ok=True)
        if self._sock is not None:
            self._sock.close()


def bells_folder(spool_dir: Path) -> Path:
    return spool_dir / "bells"
