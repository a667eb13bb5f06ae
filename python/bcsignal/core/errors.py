"""The one exception class bcsignal raises for every bad input or failed step."""

from __future__ import annotations

import re
from pathlib import Path

#: Longest message bcsignal prints: a hostile input never makes an error a wall of text.
MAX_MESSAGE = 2000
#: Most characters of an input's value quoted in a message.
MAX_QUOTE = 60


def excerpt(value: object, limit: int = MAX_QUOTE) -> str:
    """Return ``repr(value)`` cut to `limit` characters: what a message may quote of an input."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: Most characters of a native tool's message bcsignal passes on.
MAX_NATIVE_MESSAGE = 500
#: A C++ source location or frame in a native message: "; In /src/x.cpp(12)", "x.cpp:12".
_CPP_LOCATION = re.compile(
    r";?\s*\bIn\s+\S+\.(?:cpp|cc|h|hpp)\b\S*|\s*\(?\S+\.(?:cpp|cc|hpp)(?::\d+|\(\d+\))\)?"
)


def native_message(message: str) -> str:
    """Return a native tool's message on one line, without C++ source locations, cut to 500 characters."""
    text = _CPP_LOCATION.sub("", " ".join(message.split())).strip()
    return _cut(text, MAX_NATIVE_MESSAGE)


_YAML11_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE]\d+")


def _describe(value: object) -> str:
    if isinstance(value, str):
        return f"a text of {len(value)} characters"
    if isinstance(value, dict):
        return f"a mapping of {len(value)} entries"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    return f"a value of type {type(value).__name__}"


def schema_message(message: str, instance: object, validator: str) -> str:
    """Return a JSON-schema error message that quotes at most a short excerpt of the offending value.

    jsonschema writes the whole offending value into its messages (a whole document, for a file that
    is not a mapping); a value longer than MAX_QUOTE is described instead ("a text of 1234 characters").
    A number YAML 1.1 read as text (``1.0e9``) gets a hint.
    """
    text = repr(instance)
    if len(text) > MAX_QUOTE:
        message = message.replace(text, _describe(instance))
    message = _cut(message, MAX_MESSAGE // 2)
    if validator == "type" and isinstance(instance, str) and _YAML11_NUMBER.fullmatch(instance.strip()):
        message += (
            f" (YAML 1.1 reads {instance.strip()} as text, not a number: give the exponent a sign, "
            f"e.g. {instance.strip().lower().replace('e', 'e+')})"
        )
    return message


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
        self.cause = _cut(cause.strip(), MAX_MESSAGE // 2)
        self.file = _cut(str(file), 300) if file is not None else None
        self.line = line
        self.tool = tool
        self.where = _cut(where, 300) if where is not None else None
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
        return _cut(f"{location}{tool}{where}{self.cause}", MAX_MESSAGE)


class BcsignalWarning(UserWarning):
    """A finding that does not stop bcsignal (a unit inconsistency, say); ``strict`` makes it an error."""
