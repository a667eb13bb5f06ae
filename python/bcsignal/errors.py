"""The one exception class bcsignal raises for every bad input or failed step."""

from __future__ import annotations

from pathlib import Path


class BcsignalError(Exception):
    """A failure with its context: the file, the line, the tool and the cause.

    Every error bcsignal reports is of this class, so callers catch one type and
    a person reads one paragraph: ``file:line: [tool] cause``.
    """

    def __init__(
        self,
        cause: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        tool: str | None = None,
        where: str | None = None,
    ) -> None:
        self.cause = cause.strip()
        self.file = str(file) if file is not None else None
        self.line = line
        self.tool = tool
        self.where = where
        super().__init__(self.__str__())

    def __str__(self) -> str:
        location = ""
        if self.file:
            location = self.file
            if self.line:
                location += f":{self.line}"
            location += ": "
        tool = f"[{self.tool}] " if self.tool else ""
        where = f"{self.where}: " if self.where else ""
        return f"{location}{tool}{where}{self.cause}"


class BcsignalWarning(UserWarning):
    """A finding that does not stop bcsignal (a unit inconsistency, say); ``strict`` makes it an error."""
