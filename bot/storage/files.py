"""Files that hold the record (databases, exports, summaries) are the operator's alone: mode 0600."""
from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE = 0o600


def private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 if missing (a SQLite database starts so), or take others' access away."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
            os.fchmod(fd, PRIVATE)
    finally:
        os.close(fd)


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` with mode 0600, replacing what was there (an existing file loses others' access first)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
    try:
        os.fchmod(fd, PRIVATE)
        with os.fdopen(fd, "wb") as out:
            fd = -1
            out.write(data)
    finally:
        if fd != -1:
            os.close(fd)
