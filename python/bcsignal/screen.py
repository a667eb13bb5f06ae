"""Screening of untrusted XML before any native parser sees it: size, DOCTYPE/ENTITY and nesting depth."""

from __future__ import annotations

import os
from pathlib import Path
from xml.parsers import expat

from bcsignal.errors import BcsignalError

#: Default largest file accepted (bytes); override with BCSIGNAL_MAX_BYTES.
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
#: Default deepest element nesting accepted; override with BCSIGNAL_MAX_DEPTH.
DEFAULT_MAX_DEPTH = 200


def max_bytes() -> int:
    """Return the size limit in force (environment variable BCSIGNAL_MAX_BYTES, or the default)."""
    return _env_int("BCSIGNAL_MAX_BYTES", DEFAULT_MAX_BYTES)


def max_depth() -> int:
    """Return the nesting limit in force (environment variable BCSIGNAL_MAX_DEPTH, or the default)."""
    return _env_int("BCSIGNAL_MAX_DEPTH", DEFAULT_MAX_DEPTH)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BcsignalError(f"environment variable {name}={raw!r} is not an integer") from None
    if value <= 0:
        raise BcsignalError(f"environment variable {name}={raw!r} must be positive")
    return value


class _AbortError(Exception):
    def __init__(self, cause: str, line: int | None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.line = line


def screen_xml(
    data: bytes,
    origin: str | Path = "<string>",
    *,
    limit_bytes: int | None = None,
    limit_depth: int | None = None,
) -> None:
    """Reject XML that is too large, declares a DOCTYPE or entities, is not well formed or nests too deep.

    The check streams the bytes through expat (iterative, no recursion, no entity expansion) and stops at
    the first problem, so a hostile file costs little time and memory.
    """
    limit_bytes = max_bytes() if limit_bytes is None else limit_bytes
    limit_depth = max_depth() if limit_depth is None else limit_depth
    if len(data) > limit_bytes:
        raise BcsignalError(
            f"file is {len(data)} bytes, over the limit of {limit_bytes} "
            "(set BCSIGNAL_MAX_BYTES to change it)",
            file=origin,
            tool="screen",
        )
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    depth = 0

    def start(_name: str, _attrs: object) -> None:
        nonlocal depth
        depth += 1
        if depth > limit_depth:
            raise _AbortError(
                f"elements nest deeper than {limit_depth} levels (set BCSIGNAL_MAX_DEPTH to change it)",
                parser.CurrentLineNumber,
            )

    def end(_name: str) -> None:
        nonlocal depth
        depth -= 1

    def doctype(*_args: object) -> None:
        raise _AbortError(
            "DOCTYPE declarations are not accepted (entity expansion risk)", parser.CurrentLineNumber
        )

    def entity(*_args: object) -> None:
        raise _AbortError(
            "ENTITY declarations are not accepted (entity expansion risk)", parser.CurrentLineNumber
        )

    def external(*_args: object) -> int:
        raise _AbortError("external entity references are not accepted", parser.CurrentLineNumber)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity
    parser.ExternalEntityRefHandler = external
    try:
        parser.Parse(data, True)
    except _AbortError as abort:
        raise BcsignalError(abort.cause, file=origin, line=abort.line, tool="screen") from None
    except expat.ExpatError as exc:
        raise BcsignalError(
            f"not well-formed XML: {expat.ErrorString(exc.code)}", file=origin, line=exc.lineno, tool="screen"
        ) from None


def screen_text(text: str, origin: str | Path = "<string>") -> None:
    """Screen XML given as text."""
    screen_xml(text.encode("utf-8"), origin)


def read_screened(path: Path) -> str:
    """Read an XML file after screening it; the size is checked before the file is read whole."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise BcsignalError(f"cannot read: {exc.strerror}", file=path) from exc
    if size > max_bytes():
        raise BcsignalError(
            f"file is {size} bytes, over the limit of {max_bytes()} (set BCSIGNAL_MAX_BYTES to change it)",
            file=path,
            tool="screen",
        )
    data = path.read_bytes()
    screen_xml(data, path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BcsignalError(f"not UTF-8 text: {exc.reason} at byte {exc.start}", file=path) from None
