"""Running native parsing and simulation of untrusted models in a child process with memory and time limits.

libsbml, Antimony and libroadrunner can crash, hang or print on hostile input. `run_isolated` runs a
function in a forked child whose address space and CPU time are limited, whose stdout and stderr go to
a private temporary file, and which writes no core file. The parent gets the function's result, or one
`BcsignalError` naming the tool that was running when the child crashed, ran out of time or memory.
"""

from __future__ import annotations

import contextlib
import faulthandler
import math
import os
import pickle
import re
import resource
import select
import signal
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from bcsignal.errors import BcsignalError
from bcsignal.limits import memory_mib, timeout_seconds

#: Most characters of captured native output quoted in an error message.
NATIVE_EXCERPT = 300


_HEADER = struct.Struct("!Q")
#: In a child: the pipe to the parent; None in the parent.
_channel: int | None = None


def in_child() -> bool:
    """Return True inside an isolated child process."""
    return _channel is not None


def _send(message: tuple[Any, ...]) -> None:
    assert _channel is not None
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    data = memoryview(_HEADER.pack(len(payload)) + payload)
    while data:
        written = os.write(_channel, data)
        data = data[written:]


def stage(tool: str, action: str) -> None:
    """Record, in a child, which native tool runs now, so that a crash names it; no-op in the parent."""
    if _channel is not None:
        _send(("stage", tool, action))


def _virtual_size() -> int | None:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pages * resource.getpagesize()


def _limit_child(seconds: float, memory: int) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    cpu = math.ceil(seconds) + 1  # a backstop if the parent dies: a forked child starts at 0 s
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard == resource.RLIM_INFINITY or cpu < hard:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, hard))
    size = _virtual_size()
    if size is not None:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = size + memory * 1024 * 1024
        if hard == resource.RLIM_INFINITY or cap < hard:
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _child(func: Callable[[], Any], write: int, capture: BinaryIO, seconds: float, memory: int) -> None:
    global _channel
    _channel = write
    try:
        os.dup2(capture.fileno(), 1)
        os.dup2(capture.fileno(), 2)
        # the host's Python streams (a notebook's, pytest's) must not be written from the child either
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - lives as long as the child
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        faulthandler.disable()  # it may write to a copy of the host's stderr; a crash is reported anyway
        _limit_child(seconds, memory)
        result = func()
        _send(("ok", result))
    except BcsignalError as exc:
        _send(("error", exc.cause, exc.file, exc.line, exc.tool, exc.where))
    except MemoryError:
        _send(("memory",))
    except BaseException as exc:  # anything else is a bug or a native failure: report it, never re-raise
        _send(("exception", f"{type(exc).__name__}: {exc}"))


def _excerpt(capture: BinaryIO) -> str:
    """Return the end of what the child printed, without colour codes, for an error message."""
    capture.seek(0, os.SEEK_END)
    size = capture.tell()
    capture.seek(max(0, size - 4096))
    text = capture.read().decode("utf-8", "replace")
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    last = lines[-1]
    return last if len(last) <= NATIVE_EXCERPT else last[: NATIVE_EXCERPT - 1] + "…"


def run_isolated[T](
    func: Callable[[], T],
    *,
    origin: str | Path,
    timeout: float | None = None,
    memory: int | None = None,
) -> T:
    """Run `func` in a forked child with time and memory limits and return its (picklable) result.

    A `BcsignalError` raised in the child is raised again in the parent; a crash, a timeout, running out
    of memory or any other exception becomes one `BcsignalError` naming `origin` and the tool that was
    running (see `stage`). Nothing the child prints reaches the parent's stdout or stderr.
    """
    seconds = timeout_seconds() if timeout is None else timeout
    limit = memory_mib() if memory is None else memory
    if not hasattr(os, "fork"):
        raise BcsignalError("isolated parsing needs os.fork (Linux or macOS)", file=origin)
    with tempfile.TemporaryFile(prefix="bcsignal-native-") as capture:
        read, write = os.pipe()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            os.close(read)
            try:
                _child(func, write, capture, seconds, limit)
            finally:
                os._exit(0)
        os.close(write)
        try:
            messages, timed_out = _collect(read, seconds)
        finally:
            os.close(read)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
        result: T = _outcome(messages, timed_out, status, capture, origin, seconds, limit)
        return result


def _collect(read: int, seconds: float) -> tuple[list[tuple[Any, ...]], bool]:
    """Read framed messages from the child until it closes the pipe or the time is up."""
    deadline = time.monotonic() + seconds
    buffer = bytearray()
    messages: list[tuple[Any, ...]] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return messages, True
        ready, _, _ = select.select([read], [], [], left)
        if not ready:
            return messages, True
        chunk = os.read(read, 1 << 20)
        if not chunk:
            return messages, False
        buffer += chunk
        while len(buffer) >= _HEADER.size:
            (length,) = _HEADER.unpack_from(buffer)
            if len(buffer) < _HEADER.size + length:
                break
            payload = bytes(buffer[_HEADER.size : _HEADER.size + length])
            del buffer[: _HEADER.size + length]
            messages.append(pickle.loads(payload))


def _outcome(
    messages: list[tuple[Any, ...]],
    timed_out: bool,
    status: int,
    capture: BinaryIO,
    origin: str | Path,
    seconds: float,
    limit: int,
) -> Any:
    stages = [m for m in messages if m[0] == "stage"]
    tool, action = (stages[-1][1], stages[-1][2]) if stages else ("bcsignal", "working")
    final = next((m for m in reversed(messages) if m[0] != "stage"), None)
    if final is not None and final[0] == "ok":
        return final[1]
    if final is not None and final[0] == "error":
        _, cause, file, line, err_tool, where = final
        raise BcsignalError(cause, file=file or origin, line=line, tool=err_tool, where=where)
    native = _excerpt(capture)
    said = f"; it printed: {native}" if native else ""
    if final is not None and final[0] == "memory":
        raise BcsignalError(
            f"ran out of memory while {action} (limit: {limit} MiB; set BCSIGNAL_MAX_MEMORY)",
            file=origin,
            tool=tool,
        )
    if final is not None and final[0] == "exception":
        raise BcsignalError(f"failed while {action}: {final[1]}", file=origin, tool=tool)
    cpu_out = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXCPU
    if timed_out or cpu_out:
        raise BcsignalError(
            f"gave no result within {seconds:g} s while {action}; stopped (set BCSIGNAL_TIMEOUT)",
            file=origin,
            tool=tool,
        )
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        raise BcsignalError(
            f"crashed with {name} while {action}; the input is malformed or beyond what {tool} "
            f"can handle within the limits (memory {limit} MiB; set BCSIGNAL_MAX_MEMORY){said}",
            file=origin,
            tool=tool,
        )
    raise BcsignalError(
        f"stopped with exit status {os.WEXITSTATUS(status)} while {action}{said}", file=origin, tool=tool
    )
