"""Safe file output: every file bcsignal writes goes through a temporary file and an atomic rename."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TextIO, cast

from bcsignal.errors import BcsignalError


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def _atomic(path: Path, binary: bool) -> Iterator[IO[Any]]:
    """Yield a handle on a temporary file that is renamed onto `path` once the block completes."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise BcsignalError(f"cannot write: {exc.strerror}", file=path) from exc
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        handle = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise BcsignalError(f"cannot write: {exc.strerror}", file=path) from exc
        raise


@contextmanager
def atomic_open(path: Path) -> Iterator[TextIO]:
    """Stream UTF-8 text (LF line endings) to `path` atomically, for files too large to build in memory.

    On any failure the old file is intact and no temporary remains.
    """
    with _atomic(path, binary=False) as handle:
        yield cast(TextIO, handle)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write bytes to a path atomically; on failure the old file is intact and no temporary remains."""
    with _atomic(path, binary=True) as handle:
        handle.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 text with LF line endings atomically."""
    atomic_write_bytes(path, text.replace("\r\n", "\n").encode("utf-8"))
