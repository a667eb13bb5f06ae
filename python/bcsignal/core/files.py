"""Safe file output: every file bcsignal writes goes through a temporary file and an atomic rename.

A folder of several files (the report) is written into a temporary sibling folder and moved into
place only when complete (`staged_folder`), so an interrupted run leaves the previous complete folder.
The temporary file sits next to the target and is named ``.NAME.PID.XXXX.tmp``; one left behind by a
process that was killed is removed by the next write of the same file. A target that exists keeps its
permission bits, and a target that is a symbolic link is written through: the file it points at is
replaced, the link stays.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TextIO, cast

from bcsignal.core.errors import BcsignalError


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(path: Path) -> None:
    """Remove the temporary files of `path` that a killed bcsignal process left behind."""
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.(\d+)\.[^.]+\.tmp$")
    with contextlib.suppress(OSError):
        for candidate in path.parent.iterdir():
            match = pattern.match(candidate.name)
            if match is not None and not _alive(int(match.group(1))) and not candidate.is_symlink():
                candidate.unlink(missing_ok=True)


def _target(path: Path) -> Path:
    """Return the file a write of `path` replaces: the file a symbolic link points at, else `path`."""
    if path.is_symlink():
        resolved = Path(os.path.realpath(path))
        if resolved.is_dir():
            raise BcsignalError("cannot write: the path is a symbolic link to a folder", file=path)
        return resolved
    return path


@contextmanager
def _atomic(path: Path, binary: bool) -> Iterator[IO[Any]]:
    """Yield a handle on a temporary file that is renamed onto `path` once the block completes."""
    path = Path(path)
    try:
        if path.is_dir():
            raise BcsignalError("cannot write: it is a folder", file=path)
        target = _target(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        clean_stale(target)
        mode = stat.S_IMODE(target.stat().st_mode) if target.is_file() else 0o666 & ~_umask()
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent)
    except FileExistsError as exc:
        raise BcsignalError(
            f"cannot write: {Path(exc.filename or path).name} is a file, not a folder", file=path
        ) from exc
    except NotADirectoryError as exc:
        raise BcsignalError("cannot write: a parent of this path is a file, not a folder", file=path) from exc
    except OSError as exc:
        raise BcsignalError(f"cannot write: {exc.strerror}", file=path) from exc
    try:
        os.fchmod(fd, mode)
        handle = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(target)
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


def write_marked(path: Path, start: str, end: str, text: str) -> None:
    """Put `text` between the marker lines `start` and `end` of a text file, atomically.

    The file is created, or the block appended with its markers, when they are missing; everything
    outside the markers is kept as it was (benchmarks/RESULTS.md: each benchmark writes its own section).
    """
    kept = path.read_text(encoding="utf-8") if path.is_file() else ""
    body = text.strip("\n")
    block = f"{start}\n{body}\n{end}"
    if start in kept and end in kept.split(start, 1)[1]:
        head, rest = kept.split(start, 1)
        kept = head + block + rest.split(end, 1)[1]
    else:
        kept = (kept.rstrip("\n") + "\n\n" if kept.strip() else "") + block + "\n"
    atomic_write_text(path, kept)


def marked_blocks(text: str, markers: Sequence[tuple[str, str]]) -> str:
    """Return the blocks of `text` between each (start, end) pair, markers included, in the given order."""
    found = []
    for start, end in markers:
        if start in text and end in text.split(start, 1)[1]:
            found.append(start + text.split(start, 1)[1].split(end, 1)[0] + end)
    return "\n\n".join(found)


def _clean_stale_folders(folder: Path) -> None:
    pattern = re.compile(rf"^\.{re.escape(folder.name)}\.(\d+)\.(new|old)$")
    with contextlib.suppress(OSError):
        for candidate in folder.parent.iterdir():
            match = pattern.match(candidate.name)
            if match is not None and not _alive(int(match.group(1))) and not candidate.is_symlink():
                shutil.rmtree(candidate, ignore_errors=True)


@contextmanager
def staged_folder(folder: Path) -> Iterator[Path]:
    """Yield an empty temporary sibling of `folder`; once the block completes it replaces `folder`.

    On any failure `folder` is left as it was and the temporary folder is removed; temporary folders
    a killed process left behind are removed on the next call.
    """
    folder = Path(folder)
    if folder.is_symlink() or folder.is_file():
        raise BcsignalError("cannot write: the output folder is a file or a symbolic link", file=folder)
    staging = folder.parent / f".{folder.name}.{os.getpid()}.new"
    old = folder.parent / f".{folder.name}.{os.getpid()}.old"
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        _clean_stale_folders(folder)
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
    except OSError as exc:
        raise BcsignalError(f"cannot write: {exc.strerror}", file=folder) from exc
    try:
        yield staging
        if folder.exists():
            folder.rename(old)
        staging.rename(folder)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if old.exists() and not folder.exists():
            old.rename(folder)
        if isinstance(exc, OSError):
            raise BcsignalError(f"cannot write: {exc.strerror}", file=folder) from exc
        raise
    shutil.rmtree(old, ignore_errors=True)
