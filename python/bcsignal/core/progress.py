"""Progress of long steps on a terminal: one line counting the seconds; nothing when output is not a TTY."""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import TextIO

#: Seconds between two updates of the progress line.
INTERVAL = 0.5


class Activity:
    """Show ``message … N s`` on a terminal while a long step runs, then ``message: done in N s``.

    Nothing is written when `enabled` is false or the stream is not a terminal (a pipe, a file, CI), so
    scripted output stays clean. Use it as a context manager around the step.
    """

    def __init__(
        self, message: str, *, enabled: bool = True, stream: TextIO | None = None, interval: float = INTERVAL
    ) -> None:
        self.message = message
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.active = enabled and _is_terminal(self.stream)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._began = 0.0

    def _line(self, text: str, end: str = "") -> None:
        self.stream.write(f"\r\x1b[K{text}{end}")
        self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self._line(f"{self.message} … {time.perf_counter() - self._began:.0f} s")

    def __enter__(self) -> Activity:
        """Start the progress line (on a terminal)."""
        self._began = time.perf_counter()
        if self.active:
            self._line(f"{self.message} …")
            self._thread = threading.Thread(target=self._tick, name="bcsignal-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the line: ``done in N s`` after success, cleared after a failure."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        if kind is None:
            self._line(f"{self.message}: done in {time.perf_counter() - self._began:.1f} s", "\n")
        else:
            self._line("")


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False
