"""Running native parsing and simulation of untrusted models in a fresh child interpreter with limits.

libsbml, Antimony and libroadrunner can crash, hang or print on hostile input. `run_isolated` runs a
function in a new Python interpreter (never a fork of the caller, which may have threads) whose address
space and CPU time are limited, whose stdout and stderr go to a private temporary file, which writes no
core file and which dies with its caller: on Linux the kernel kills it (``PR_SET_PDEATHSIG``) when the
calling thread ends, and everywhere a watchdog stops it when the pipe from its caller closes. The
caller gets the function's result, or one `BcsignalError` naming the tool that was running when the
child crashed, ran out of time or memory.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import math
import os
import pickle
import re
import resource
import select
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from bcsignal.core.errors import BcsignalError
from bcsignal.core.limits import memory_mib, timeout_seconds

#: Most characters of captured native output quoted in an error message.
NATIVE_EXCERPT = 300
#: Seconds a child interpreter may take to start and import bcsignal (not part of BCSIGNAL_TIMEOUT).
STARTUP_TIMEOUT = 120.0
#: Seconds a child may sit blocked, using no CPU, before it counts as stuck (Linux): native code that
#: hits the memory limit in a helper thread can wait forever for it.
STALL_SECONDS = 5.0
#: prctl(2) option that sends a signal to a process when the thread that started it ends (Linux).
_PR_SET_PDEATHSIG = 1

_HEADER = struct.Struct("!Q")
#: In a child: the pipe to the parent; None in the parent.
_channel: int | None = None

#: What the child interpreter runs: no script folder or working directory on sys.path (-P), then the
#: caller's sys.path, then `_child_main`.
_BOOTSTRAP = (
    "import json, sys\n"
    "sys.path[:] = json.loads(sys.stdin.buffer.raw.readline())\n"
    "from bcsignal.core.isolate import _child_main\n"
    "_child_main(int(sys.argv[1]), int(sys.argv[2]))\n"
)


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
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = math.ceil(used.ru_utime + used.ru_stime + seconds) + 1  # a backstop to the parent's clock
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard == resource.RLIM_INFINITY or cpu < hard:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, hard))
    size = _virtual_size()
    if size is not None:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = size + memory * 1024 * 1024
        if hard == resource.RLIM_INFINITY or cap < hard:
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _die_with(parent: int) -> None:
    """Make sure this child never outlives `parent`: kernel signal on Linux, a watchdog everywhere."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:  # EOF on stdin: the parent closed its end or died
        with contextlib.suppress(OSError):
            while os.read(0, 4096):
                pass
        os._exit(1)

    threading.Thread(target=watch, name="bcsignal-parent-watch", daemon=True).start()


def _read_exactly(fd: int, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = os.read(fd, min(size - len(chunks), 1 << 20))
        if not chunk:
            raise EOFError("the parent closed the pipe")
        chunks += chunk
    return bytes(chunks)


def _child_main(parent: int, write: int) -> None:  # pragma: no cover - runs in the child
    """Entry point of the child interpreter: read the job from stdin, run it, report on `write`."""
    global _channel
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops us
    _channel = write
    try:
        (length,) = _HEADER.unpack(_read_exactly(0, _HEADER.size))
        job = _read_exactly(0, length)
        _die_with(parent)
        seconds, memory, func = pickle.loads(job)
        _limit_child(seconds, memory)
        _send(("ready",))
        result = func()
        _send(("ok", result))
    except BcsignalError as exc:
        _send(("error", exc.cause, exc.file, exc.line, exc.tool, exc.where))
    except MemoryError:
        _send(("memory",))
    except BaseException as exc:  # anything else is a bug or a native failure: report it, never re-raise
        _send(("exception", f"{type(exc).__name__}: {exc}"))
    finally:
        os._exit(0)


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


def _start(write: int, capture: BinaryIO) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-P", "-c", _BOOTSTRAP, str(os.getpid()), str(write)],
        stdin=subprocess.PIPE,
        stdout=capture,
        stderr=capture,
        pass_fds=(write,),
        close_fds=True,
    )


def run_isolated[T](
    func: Callable[[], T],
    *,
    origin: str | Path,
    timeout: float | None = None,
    memory: int | None = None,
) -> T:
    """Run `func` in a child interpreter with time and memory limits and return its (picklable) result.

    `func` travels to the child by pickle, so it is a module-level function or a `functools.partial`
    of one, with picklable arguments (no lambda, no closure). A `BcsignalError` raised in the
    child is raised again in the parent; a crash, a timeout, running out of memory or any other
    exception becomes one `BcsignalError` naming `origin` and the tool that was running (see `stage`).
    Nothing the child prints reaches the parent's stdout or stderr, and the child never outlives the
    parent: it is killed when this call returns or raises (Ctrl-C included) and when the parent dies.
    """
    seconds = timeout_seconds() if timeout is None else timeout
    limit = memory_mib() if memory is None else memory
    try:
        job = pickle.dumps((seconds, limit, func), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise BcsignalError(f"cannot send the work to a child process: {exc}", file=origin) from exc
    path = [str(Path(p or os.curdir).absolute()) for p in sys.path]
    with tempfile.TemporaryFile(prefix="bcsignal-native-") as capture:
        read, write = os.pipe()
        try:
            child = _start(write, capture)
        except OSError as exc:
            os.close(read)
            raise BcsignalError(f"cannot start a child process: {exc.strerror}", file=origin) from exc
        finally:
            os.close(write)
        try:
            assert child.stdin is not None
            with contextlib.suppress(BrokenPipeError):
                child.stdin.write(json.dumps(path).encode("utf-8") + b"\n")
                child.stdin.write(_HEADER.pack(len(job)) + job)
                child.stdin.flush()
            messages, stop = _collect(read, seconds, child.pid)
        finally:
            os.close(read)
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            with contextlib.suppress(OSError):
                if child.stdin is not None:
                    child.stdin.close()
            status = child.wait()
        result: T = _outcome(messages, stop, status, capture, origin, seconds, limit)
        return result


def _cpu_if_blocked(pid: int) -> int | None:
    """Return the CPU ticks of a child whose every thread is blocked, or None (running, or unknown)."""
    total = 0
    try:
        tasks = [task.name for task in Path(f"/proc/{pid}/task").iterdir()]
        for task in tasks:
            fields = Path(f"/proc/{pid}/task/{task}/stat").read_text().rsplit(")", 1)[1].split()
            if fields[0] not in {"S", "D"}:
                return None
            total += int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None
    return total if tasks else None


def _collect(read: int, seconds: float, pid: int) -> tuple[list[tuple[Any, ...]], str | None]:
    """Read framed messages until the child closes the pipe, or the time is up (counted once it is ready).

    Returns the messages and None, "time" (the time ran out) or "stall" (the child sat blocked, using
    no CPU, for STALL_SECONDS).
    """
    deadline = time.monotonic() + STARTUP_TIMEOUT
    ready = False
    buffer = bytearray()
    messages: list[tuple[Any, ...]] = []
    blocked: tuple[int, float] | None = None  # CPU ticks when first seen blocked, and when
    while True:
        now = time.monotonic()
        left = deadline - now
        if left <= 0:
            return messages, "time"
        readable, _, _ = select.select([read], [], [], min(left, 0.5))
        if not readable:
            ticks = _cpu_if_blocked(pid) if ready else None
            if ticks is None or blocked is None or blocked[0] != ticks:
                blocked = None if ticks is None else (ticks, time.monotonic())
            elif time.monotonic() - blocked[1] >= STALL_SECONDS:
                return messages, "stall"
            continue
        chunk = os.read(read, 1 << 20)
        if not chunk:
            return messages, None
        blocked = None
        buffer += chunk
        while len(buffer) >= _HEADER.size:
            (length,) = _HEADER.unpack_from(buffer)
            if len(buffer) < _HEADER.size + length:
                break
            payload = bytes(buffer[_HEADER.size : _HEADER.size + length])
            del buffer[: _HEADER.size + length]
            message = pickle.loads(payload)
            if message[0] == "ready" and not ready:
                ready = True
                deadline = time.monotonic() + seconds
            messages.append(message)


def _outcome(
    messages: list[tuple[Any, ...]],
    stop: str | None,
    status: int,
    capture: BinaryIO,
    origin: str | Path,
    seconds: float,
    limit: int,
) -> Any:
    stages = [m for m in messages if m[0] == "stage"]
    tool, action = (stages[-1][1], stages[-1][2]) if stages else ("bcsignal", "working")
    started = any(m[0] == "ready" for m in messages)
    final = next((m for m in reversed(messages) if m[0] not in {"stage", "ready"}), None)
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
    if stop == "stall":
        raise BcsignalError(
            f"stopped while {action}: the child sat blocked for {STALL_SECONDS:g} s using no CPU, which "
            f"native code does when it hits the memory limit ({limit} MiB; set BCSIGNAL_MAX_MEMORY){said}",
            file=origin,
            tool=tool,
        )
    if stop == "time" and not started:
        raise BcsignalError(
            f"the child process did not start within {STARTUP_TIMEOUT:g} s{said}", file=origin, tool=tool
        )
    cpu_out = status == -signal.SIGXCPU
    if stop == "time" or cpu_out:
        raise BcsignalError(
            f"gave no result within {seconds:g} s while {action}; stopped (set BCSIGNAL_TIMEOUT)",
            file=origin,
            tool=tool,
        )
    if status < 0:
        name = signal.Signals(-status).name
        raise BcsignalError(
            f"crashed with {name} while {action}; the input is malformed or beyond what {tool} "
            f"can handle within the limits (memory {limit} MiB; set BCSIGNAL_MAX_MEMORY){said}",
            file=origin,
            tool=tool,
        )
    raise BcsignalError(f"stopped with exit status {status} while {action}{said}", file=origin, tool=tool)
