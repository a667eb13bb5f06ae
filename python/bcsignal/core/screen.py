"""Screening of untrusted input before any native parser sees it: XML, Antimony text and YAML."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from xml.parsers import expat

import yaml

from bcsignal.core.errors import BcsignalError
from bcsignal.core.limits import (
    MAX_YAML_BYTES,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
    max_bytes,
    max_depth,
    max_elements,
)

#: The safe YAML loader, in C (LibYAML) when PyYAML has it: same documents, several times faster.
YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def encode(text: str, origin: str | Path) -> bytes:
    """Return text as UTF-8, rejecting what cannot be encoded (lone surrogates from a bad decode)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        line = text.count("\n", 0, exc.start) + 1
        raise BcsignalError(
            f"text is not valid Unicode: {exc.reason} at character {exc.start}",
            file=origin,
            line=line,
            tool="screen",
        ) from None


def _too_large(size: int, limit: int, origin: str | Path, setting: bool = True) -> BcsignalError:
    hint = " (set BCSIGNAL_MAX_BYTES to change it)" if setting else ""
    return BcsignalError(f"file is {size} bytes, over the limit of {limit}{hint}", file=origin, tool="screen")


class _AbortError(Exception):
    def __init__(self, cause: str, line: int | None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.line = line


@dataclass(frozen=True)
class XmlFacts:
    """What screening learnt about an XML document: its root element and its external references."""

    #: Local name of the root element (``sbml`` for an SBML document).
    root: str
    #: ``source`` attributes of SBML comp ``externalModelDefinition`` elements, with their lines.
    references: tuple[tuple[str, int], ...] = ()


def _local(name: str) -> str:
    return name.rsplit(":", 1)[-1]


def screen_xml(
    data: bytes,
    origin: str | Path = "<string>",
    *,
    limit_bytes: int | None = None,
    limit_depth: int | None = None,
) -> XmlFacts:
    """Reject XML that is too large, declares a DOCTYPE or entities, is not well formed or nests too deep.

    The check streams the bytes through expat (iterative, no recursion, no entity expansion) and stops at
    the first problem, so a hostile file costs little time and memory.
    """
    limit_bytes = max_bytes() if limit_bytes is None else limit_bytes
    limit_depth = max_depth() if limit_depth is None else limit_depth
    if len(data) > limit_bytes:
        raise _too_large(len(data), limit_bytes, origin)
    limit_components = max_elements()
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    depth = 0
    components = 0
    root: list[str] = []
    stack: list[bool] = []  # per open element: is it a listOf... element
    references: list[tuple[str, int]] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal depth, components
        depth += 1
        if depth > limit_depth:
            raise _AbortError(
                f"elements nest deeper than {limit_depth} levels (set BCSIGNAL_MAX_DEPTH to change it)",
                parser.CurrentLineNumber,
            )
        if stack and stack[-1]:
            components += 1
            if components > limit_components:
                raise _AbortError(
                    f"the model has more than {limit_components} components (elements in listOf... lists; "
                    "set BCSIGNAL_MAX_ELEMENTS to change it)",
                    parser.CurrentLineNumber,
                )
        stack.append(_local(name).startswith("listOf"))
        if not root:
            root.append(_local(name))
        if _local(name) == "externalModelDefinition":
            source = next((v for k, v in attrs.items() if _local(k) == "source"), "")
            references.append((source, parser.CurrentLineNumber))

    def end(_name: str) -> None:
        nonlocal depth
        depth -= 1
        stack.pop()

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
    return XmlFacts(root=root[0] if root else "", references=tuple(references))


def screen_text(text: str, origin: str | Path = "<string>") -> XmlFacts:
    """Screen XML given as text."""
    return screen_xml(encode(text, origin), origin)


def read_bounded(path: Path, limit: int | None = None) -> bytes:
    """Read a file whose size is checked against the limit before it is read whole."""
    path = Path(path)
    setting = limit is None
    limit = max_bytes() if limit is None else limit
    try:
        if not path.is_file():
            hint = (
                " (bcsignal reads local files only and never fetches a URL)"
                if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:/", str(path))
                else ""
            )
            raise BcsignalError(f"no such file{hint}", file=path)
        size = path.stat().st_size
        if size > limit:
            raise _too_large(size, limit, path, setting)
        return path.read_bytes()
    except OSError as exc:
        raise BcsignalError(f"cannot read: {exc.strerror}", file=path) from exc


def decode(data: bytes, origin: str | Path) -> str:
    """Decode UTF-8 (with or without a byte-order mark), naming the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise BcsignalError(
            f"not UTF-8 text: {exc.reason} at byte {exc.start}", file=origin, line=line, tool="screen"
        ) from None


def read_screened(path: Path) -> str:
    """Read an XML file after screening it; the size is checked before the file is read whole."""
    data = read_bounded(Path(path))
    screen_xml(data, path)
    return decode(data, path)


# -- Antimony -------------------------------------------------------------------------------------
#: Strings, line comments (// and #) and block comments of Antimony source text.
_ANTIMONY_TOKENS = re.compile(r'"[^"\n]*"|//[^\n]*|#[^\n]*|/\*.*?(?:\*/|\Z)', re.DOTALL)
_IMPORT = re.compile(r'(?<![\w.])import\s*"([^"\n]*)"')
_BRACKET = re.compile(r"[()\[\]{}]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_SEPARATOR = re.compile(r"[;\n]")
#: An Antimony comment, an import or a string, in the order the tokenizer above sees them.
_COMMENT_IMPORT_STRING = re.compile(
    r'(//[^\n]*|#[^\n]*|/\*.*?(?:\*/|\Z))|((?<![\w.])import\s*)"([^"\n]*)"|"[^"\n]*"', re.DOTALL
)


def stage_antimony(text: str, imports: Mapping[str, str]) -> str:
    """Return Antimony text as the native parser should see it: comments blanked, imports rewritten.

    Each comment becomes as many line breaks as it spans (Antimony miscounts lines after a block
    comment, and so names the wrong line), and each ``import "name"`` becomes ``import "path"`` with
    the path `imports` gives for that name (an absolute path, so that Antimony never looks for the
    file in the working directory). Strings are kept as they are.
    """

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return "\n" * match.group(1).count("\n")
        if match.group(2) is not None:
            return f'{match.group(2)}"{imports[match.group(3)]}"'
        return match.group(0)

    return _COMMENT_IMPORT_STRING.sub(replace, text)


def local_reference(reference: str, line: int | None, importer: Path) -> Path:
    """Return the local file a reference in `importer` names, or raise.

    No URL, no absolute path, nothing outside the importer's folder, nothing missing.
    """

    def fail(cause: str) -> BcsignalError:
        return BcsignalError(
            f"referenced file {reference!r}: {cause}", file=importer, line=line, tool="screen"
        )

    if not reference:
        raise fail("empty file name")
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", reference):
        raise fail("is a URL; bcsignal reads local files only and never fetches anything")
    if Path(reference).is_absolute() or reference.startswith("~"):
        raise fail("is an absolute path; name it relative to the model's folder")
    folder = importer.parent.resolve()
    target = (folder / reference).resolve()
    if not target.is_relative_to(folder):
        raise fail(f"is outside the model's folder {folder}")
    if not target.is_file():
        raise fail(f"not found (looked for {target})")
    return target


@dataclass(frozen=True)
class AntimonyFacts:
    """What screening learnt about Antimony text: the files it imports, with their lines."""

    imports: tuple[tuple[str, int], ...] = ()


def screen_antimony(
    text: str, origin: str | Path = "<string>", *, limit_depth: int | None = None
) -> AntimonyFacts:
    """Reject Antimony text that is too large or nests brackets too deep, and list its imports.

    Comments are skipped and strings kept, with regular expressions only (no recursion), so a hostile
    text costs little; the native parser, which recurses, never sees what fails here.
    """
    limit_depth = max_depth() if limit_depth is None else limit_depth
    size = len(encode(text, origin))
    if size > max_bytes():
        raise _too_large(size, max_bytes(), origin)
    if "\x00" in text:
        raise BcsignalError("NUL character in Antimony text", file=origin, tool="screen")
    pieces: list[str] = []
    last = 0
    for match in _ANTIMONY_TOKENS.finditer(text):
        token = match.group(0)
        pieces.append(text[last : match.start()])
        if token.startswith('"'):
            pieces.append(token)
        else:  # a comment: keep its line breaks so that line numbers stay right
            pieces.append("\n" * token.count("\n"))
        last = match.end()
    pieces.append(text[last:])
    code = "".join(pieces)
    imports = tuple((m.group(1), code.count("\n", 0, m.start()) + 1) for m in _IMPORT.finditer(code))
    bare = re.sub(r'"[^"\n]*"', '""', code)
    if not bare.strip():
        raise BcsignalError(
            "the Antimony text is empty (nothing but white space and comments): there is no model to read",
            file=origin,
            tool="screen",
        )
    foreign = _NON_ASCII.search(bare)
    if foreign is not None:
        char = foreign.group(0)
        raise BcsignalError(
            f"character {char!r} (U+{ord(char):04X}) outside a string or comment: Antimony names and "
            'numbers are ASCII (put other text in quotes, e.g. S is "β-catenin")',
            file=origin,
            line=bare.count("\n", 0, foreign.start()) + 1,
            tool="screen",
        )
    limit_components = max_elements()
    statements = 0
    begin = 0
    for separator in [*_SEPARATOR.finditer(bare), None]:
        end = separator.start() if separator is not None else len(bare)
        if bare[begin:end].strip():
            statements += 1
            if statements > limit_components:
                raise BcsignalError(
                    f"the model has more than {limit_components} statements (set BCSIGNAL_MAX_ELEMENTS to "
                    "change it)",
                    file=origin,
                    line=bare.count("\n", 0, begin) + 1,
                    tool="screen",
                )
        begin = end + 1
    depth = 0
    for match in _BRACKET.finditer(bare):
        depth += 1 if match.group(0) in "([{" else -1
        if depth > limit_depth:
            line = code.count("\n", 0, match.start()) + 1
            raise BcsignalError(
                f"brackets nest deeper than {limit_depth} levels (set BCSIGNAL_MAX_DEPTH to change it)",
                file=origin,
                line=line,
                tool="screen",
            )
    return AntimonyFacts(imports=imports)


# -- YAML -----------------------------------------------------------------------------------------
#: Tags a claims file may carry: YAML's own core types (anything else, e.g. !!python/object, is refused).
_YAML_CORE_TAGS = frozenset(
    f"tag:yaml.org,2002:{kind}" for kind in ("str", "int", "float", "bool", "null", "seq", "map")
)
#: A line's leading block-sequence dashes ("- - x") and the column where its content starts.
_YAML_DASHES = re.compile(r"(?:-(?:[ \t]+|$))+")
#: A block-scalar header (| or >, with optional indicators) closing a line.
_YAML_BLOCK_SCALAR = re.compile(r"[|>][0-9+-]*[ \t]*(?:#.*)?$")


def _yaml_depth(text: str, origin: str | Path, limit: int) -> None:
    """Reject YAML nested deeper than `limit`, from the text alone, before any YAML library reads it.

    The estimate is an upper bound of the real nesting, so that no library limit (LibYAML refuses deep
    documents with a message of its own) is ever reached first: block levels are kept on a stack of
    (column, kind) as the indentation opens and closes them, flow brackets outside quotes and comments
    are counted, and block-scalar bodies are skipped.
    """
    stack: list[tuple[int, str]] = []
    flow = 0
    quote = ""
    scalar_indent: int | None = None  # inside a block scalar: the indentation of its parent line
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.lstrip(" ")
        column = len(line) - len(stripped)
        if scalar_indent is not None:
            if not stripped.strip() or column > scalar_indent:
                continue
            scalar_indent = None
        if not quote and flow == 0 and stripped and not stripped.startswith("#"):
            dashes = _YAML_DASHES.match(stripped)
            levels: list[tuple[int, str]] = []
            at = column
            if dashes:
                levels = [(column + m.start(), "seq") for m in re.finditer("-", stripped[: dashes.end()])]
                at = column + dashes.end()
            rest = line[at:]
            if re.match(r"(?:[^\s#'\"{\[][^#]*?|'[^']*'|\"[^\"]*\")[ \t]*:(?:[ \t]|$)", rest):
                levels.append((at, "map"))
            if levels:
                first = levels[0]
                # a key closes the deeper levels and an indentless sequence at its column; a dash at a
                # key's column opens an indentless sequence under it
                while stack and (
                    stack[-1][0] > first[0]
                    or (stack[-1][0] == first[0] and stack[-1][1] == "seq" != first[1])
                ):
                    stack.pop()
                if stack and stack[-1] == first:
                    stack.pop()
                stack.extend(levels)
        i = 0
        while i < len(line):
            char = line[i]
            if quote:
                if char == "\\" and quote == '"':
                    i += 1
                elif char == quote:
                    if quote == "'" and line[i + 1 : i + 2] == "'":
                        i += 1
                    else:
                        quote = ""
            elif char in "'\"" and (i == 0 or line[i - 1] in " \t[{,:-"):
                quote = char
            elif char == "#" and (i == 0 or line[i - 1] in " \t"):
                break
            elif char in "[{":
                flow += 1
            elif char in "]}":
                flow = max(0, flow - 1)
            if len(stack) + flow > limit:
                raise BcsignalError(
                    f"YAML nests deeper than {limit} levels", file=origin, line=number, tool="screen"
                )
            i += 1
        if len(stack) + flow > limit:
            raise BcsignalError(
                f"YAML nests deeper than {limit} levels", file=origin, line=number, tool="screen"
            )
        if not quote and flow == 0 and _YAML_BLOCK_SCALAR.search(line.split(" #")[0].rstrip() or "x"):
            scalar_indent = column


def screen_yaml(text: str, origin: str | Path = "<string>") -> None:
    """Reject YAML that is too large, nests too deep, has too many nodes, uses aliases or foreign tags.

    Each limit is checked by bcsignal before the YAML library could apply a limit of its own: size and
    nesting on the text itself; aliases ("billion laughs": a few lines of nested aliases expand into an
    exponential structure once loaded), tags and the node count on the event stream, which does not
    recurse and builds nothing.
    """
    size = len(encode(text, origin))
    if size > MAX_YAML_BYTES:
        raise _too_large(size, MAX_YAML_BYTES, origin, setting=False)
    _yaml_depth(text, origin, MAX_YAML_DEPTH)
    depth = 0
    nodes = 0

    def fail(cause: str, event: yaml.Event) -> BcsignalError:
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        return BcsignalError(cause, file=origin, line=line, tool="screen")

    try:
        for event in yaml.parse(text, Loader=YAML_LOADER):
            if isinstance(event, yaml.AliasEvent):
                raise fail(f"YAML aliases (*{event.anchor}) are not accepted (alias expansion risk)", event)
            if isinstance(event, yaml.NodeEvent):
                nodes += 1
                if nodes > MAX_YAML_NODES:
                    raise fail(f"YAML document has more than {MAX_YAML_NODES} nodes", event)
                tag = getattr(event, "tag", None)
                if tag is not None and tag not in _YAML_CORE_TAGS and tag not in ("!", "?"):
                    shown = tag if len(tag) <= 60 else tag[:57] + "..."
                    raise fail(f"YAML tag {shown} is not accepted (only plain data)", event)
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    raise fail(f"YAML nests deeper than {MAX_YAML_DEPTH} levels", event)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise BcsignalError(
            f"not valid YAML: {problem}",
            file=origin,
            line=mark.line + 1 if mark is not None else None,
            tool="yaml",
        ) from None
