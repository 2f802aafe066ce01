"""Open an item's own bytes, and only those: a regular file, opened without blocking.

The walk saw a regular file, but the name may point at something else by the time a worker
opens it (a FIFO swapped in waits forever for a writer; a device never ends). The file is
opened non-blocking, checked with ``fstat`` on the open descriptor (no second look-up by
name that could race), and only then switched back to blocking reads. Decoders are handed
this file object, never the name: FFmpeg reads names such as ``concat:a|b`` or ``pipe:0`` as
protocols (docs/security.md).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from consentry.errors import MediaError

_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


def open_regular(path: Path) -> BinaryIO:
    """The file at ``path`` opened for reading; MediaError(not_regular) for anything that is
    not a regular file. OSError (missing, permission denied) passes through."""
    fd = os.open(path, _FLAGS)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise MediaError("not a regular file (device, pipe or socket)", code="not_regular")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
