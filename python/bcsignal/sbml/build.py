"""Antimony sources to deterministic, annotated SBML L3V2 files in sbml/."""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import antimony
import libsbml

from bcsignal import registry
from bcsignal.core.errors import BcsignalError
from bcsignal.core.files import atomic_write_text
from bcsignal.core.limits import MAX_REFERENCES
from bcsignal.core.screen import decode, local_reference, read_bounded, screen_antimony, stage_antimony
from bcsignal.registry import ModelEntry
from bcsignal.registry.layout import DIAGRAM_SUFFIX, DIAGRAMS, SBML_SUFFIX
from bcsignal.sbml import compose, diagram
from bcsignal.sbml.annotate import annotate_model, annotate_semantics, load_annotation_rules, read_authors
from bcsignal.sbml.io import clean_message, read_document, valueless_symbols

#: SBML level and version of every file we write.
SBML_LEVEL, SBML_VERSION = 3, 2
#: Antimony's code for "symbols of unknown type": used but never declared.
_ANTIMONY_UNKNOWN = 10
_LINE = re.compile(r"line (\d+)")
_FILE = re.compile(r"[Ee]rror in file '([^']*)', line (\d+):?\s*")


def _antimony_line(message: str) -> int | None:
    match = _LINE.search(message)
    return int(match.group(1)) if match else None


@dataclass
class Built:
    """What one Antimony source gives: the flat SBML, and the comp SBML when it has submodels."""

    flat: libsbml.SBMLDocument
    comp: libsbml.SBMLDocument | None = None


def load_antimony(source: Path, *, sbml_warnings: bool = True) -> Built:
    """Load an Antimony file and return its SBML, failing on any error, warning or undeclared symbol.

    A source whose main model instantiates submodels also gives a self-contained comp document; its
    flat copy comes from libsbml's CompFlatteningConverter (ids ``instance__element``). With
    `sbml_warnings` false, the libsbml warnings Antimony collects are ignored and the caller checks
    the SBML itself.
    """
    with _staged(Path(source)) as (main, names):

        def load() -> int:
            # Antimony looks for every imported file's name in the working directory first: make that
            # the private folder, where each name is one screened copy (restored at once; the native
            # call holds the GIL, so no other thread of this process sees the change)
            with contextlib.chdir(main.parent):
                return int(antimony.loadAntimonyFile(str(main)))

        return _load(load, source, source.stem, sbml_warnings, names)


@contextmanager
def _staged(source: Path) -> Iterator[tuple[Path, dict[str, Path]]]:
    """Copy an Antimony file and every file it imports, screened, into a private folder for Antimony.

    Antimony looks for an imported file's name in the working directory first, and miscounts lines
    after block comments. The copies, in one folder under names no two share, have their comments
    blanked and their imports rewritten to the other copies' paths (`screen.stage_antimony`); loaded
    from that folder, Antimony reads exactly the screened files. Yields the copy of `source` and a
    map from each copy's path (as Antimony writes it in messages) to the original file.
    """
    with tempfile.TemporaryDirectory(prefix="bcsignal-antimony-") as tmp:
        folder = Path(tmp)
        copies: dict[Path, Path] = {}
        pending = [source.resolve()]
        copies[pending[0]] = folder / f"0-{pending[0].name}"
        while pending:
            original = pending.pop()
            text = decode(read_bounded(original), original)
            imports: dict[str, str] = {}
            for reference, line in screen_antimony(text, original).imports:
                target = local_reference(reference, line, original)
                if target not in copies:
                    if len(copies) > MAX_REFERENCES:
                        raise BcsignalError(
                            f"the model references more than {MAX_REFERENCES} files",
                            file=source,
                            tool="screen",
                        )
                    copies[target] = folder / f"{len(copies)}-{target.name}"
                    pending.append(target)
                imports[reference] = str(copies[target])
            copy = copies[original]
            copy.write_text(stage_antimony(text, imports), encoding="utf-8")
        given = {source.resolve(): source}  # the main file named as the caller named it
        names = {str(c): given.get(o, o) for o, c in copies.items()}
        names |= {c.name: given.get(o, o) for o, c in copies.items()}
        yield copies[source.resolve()], names


def antimony_to_sbml(source: Path, *, sbml_warnings: bool = True) -> libsbml.SBMLDocument:
    """Load an Antimony file and return its (flat) SBML; see `load_antimony`."""
    return load_antimony(source, sbml_warnings=sbml_warnings).flat


def antimony_text_to_sbml(
    text: str, origin: str = "<string>", module: str | None = None, *, sbml_warnings: bool = True
) -> libsbml.SBMLDocument:
    """Load Antimony text (never read as a file name) and return its (flat) SBML, like `antimony_to_sbml`."""
    imports = screen_antimony(text, origin).imports
    if imports:
        raise BcsignalError(
            f"referenced file {imports[0][0]!r}: Antimony text cannot import files; load the file instead",
            file=origin,
            line=imports[0][1],
            tool="screen",
        )
    staged = stage_antimony(text, {})
    return _load(lambda: int(antimony.loadAntimonyString(staged)), origin, module, sbml_warnings).flat


def _last_error() -> str:
    try:
        return antimony.getLastError() or ""
    except UnicodeDecodeError:  # Antimony cut a multi-byte character in its message
        return ""


def _antimony_error(message: str, source: Path | str, names: Mapping[str, Path]) -> BcsignalError:
    """Return Antimony's error naming the file it happened in (an imported one, say) and its line."""
    file: Path | str = source
    line = _antimony_line(message)
    match = _FILE.search(message)
    if match is not None:  # the file and line go in front, as in every bcsignal message
        file = names.get(str(Path(match.group(1))), names.get(match.group(1), source))
        line = int(match.group(2))
        message = message[: match.start()] + message[match.end() :]
    for staged, original in sorted(names.items(), key=lambda item: -len(item[0])):
        message = message.replace(f"'{staged}'", f"'{original}'")
    return BcsignalError(
        clean_message(message or "Antimony could not load the file"),
        file=file,
        line=line,
        tool="antimony",
    )


def _load(
    load: Callable[[], int],
    source: Path | str,
    main: str | None,
    fatal_sbml_warnings: bool,
    names: Mapping[str, Path] | None = None,
) -> Built:
    names = dict(names or {})
    antimony.clearPreviousLoads()
    antimony.setWriteSBMLTimestamp(False)
    try:
        if load() < 0:
            raise _antimony_error(_last_error(), source, names)
        modules = list(antimony.getModuleNames())
        # the model named like the file is the main one (model id == file stem), else Antimony's choice
        module = main if main in modules else antimony.getMainModuleName()
        warnings = (antimony.getWarnings() or "").strip()
        if warnings:
            raise _antimony_error(warnings, source, names)
        for name in modules:
            unknown = list(antimony.getSymbolNamesOfType(name, _ANTIMONY_UNKNOWN) or [])
            if unknown:
                raise BcsignalError(
                    f"symbols used but never declared in {name} (Antimony would invent them): "
                    + ", ".join(sorted(unknown)),
                    file=source,
                    tool="antimony",
                )
        sbml_warnings = clean_message(antimony.getSBMLWarnings() or "")
        comp_text = antimony.getCompSBMLString(module)
        antimony_flat = antimony.getSBMLString(module)  # keeps `inst.x = value`, which comp drops
    finally:
        antimony.clearPreviousLoads()
    comp = _read(comp_text, source)
    plugin = comp.getModel().getPlugin("comp")
    if plugin is None or plugin.getNumSubmodels() == 0:
        flat = _strip_comp(comp, source)
        _reject_valueless(flat, source)  # before the SBML warnings: it names the symbols
        if sbml_warnings and fatal_sbml_warnings:
            raise BcsignalError(sbml_warnings, file=source, tool="antimony/libsbml")
        return Built(flat=flat)
    compose.carry_value_overrides(comp, antimony_flat, source)
    comp_text = write_sbml_string(comp)
    flat = _read(comp_text, source)
    props = libsbml.ConversionProperties()
    props.addOption("flatten comp", True)
    props.addOption("leave_ports", False)
    if flat.convert(props) != libsbml.LIBSBML_OPERATION_SUCCESS:
        raise BcsignalError(
            clean_message(flat.getErrorLog().toString()), file=source, tool="libsbml comp flattening"
        )
    compose.rename_overrides(flat, comp)
    _reject_valueless(flat, source)
    if sbml_warnings and fatal_sbml_warnings:
        raise BcsignalError(sbml_warnings, file=source, tool="antimony/libsbml")
    return Built(flat=flat, comp=comp)


def _read(text: str, source: Path | str) -> libsbml.SBMLDocument:
    doc = read_document(text, str(source))
    if (doc.getLevel(), doc.getVersion()) != (SBML_LEVEL, SBML_VERSION):
        raise BcsignalError(f"Antimony wrote SBML L{doc.getLevel()}V{doc.getVersion()}", file=source)
    return doc


def _strip_comp(doc: libsbml.SBMLDocument, source: Path | str) -> libsbml.SBMLDocument:
    """Return a plain core document for a model without submodels (Antimony's comp output minus comp)."""
    if doc.isPackageEnabled("comp"):
        text = libsbml.writeSBMLToString(doc)
        doc = _read(text, source)
        doc.enablePackage(libsbml.CompExtension.getXmlnsL3V1V1(), "comp", False)
    return doc


def _reject_valueless(doc: libsbml.SBMLDocument, source: Path | str) -> None:
    """Reject symbols that have no value: Antimony auto-creates them from typos."""
    empty = valueless_symbols(doc.getModel())
    if empty:
        raise BcsignalError(
            f"symbols without a value (undeclared, or declared without one): {', '.join(empty)}",
            file=source,
            tool="antimony",
        )


def write_sbml_string(doc: libsbml.SBMLDocument) -> str:
    """Serialise with a writer that names no program, so no version comment or date is written."""
    writer = libsbml.SBMLWriter()
    text: str = writer.writeSBMLToString(doc)
    if not text:
        raise BcsignalError("libsbml could not serialise the document", tool="libsbml")
    text = text.replace("\r\n", "\n")
    return text if text.endswith("\n") else text + "\n"


def build_model(entry: ModelEntry) -> dict[str, str]:
    """Build one model from its Antimony source, claims file and provenance table.

    Returns file name inside ``sbml/`` -> SBML text (the names of `ModelEntry.built_files`): the flat
    file, a composite's comp file, and the process diagram (the flat model with an SBML layout and
    render style).
    """
    source, claims, model_id = entry.source, entry.claims, entry.id
    if claims.model != model_id:
        raise BcsignalError(
            f"claims file names model {claims.model!r}, expected {model_id!r}", file=claims.path
        )
    built = load_antimony(source)
    model_sid = built.flat.getModel().getId()
    if model_sid != model_id:
        raise BcsignalError(f"the main model is {model_sid!r}; it must be named {model_id!r}", file=source)
    if (built.comp is not None) != entry.is_composite:
        raise BcsignalError(
            "a composite's source instantiates submodels and its claims file has a `composite:` block; "
            "this model has only one of the two",
            file=source,
        )
    tables = {entry.sbml: entry.provenance}
    if built.comp is not None and entry.comp_sbml is not None:  # the flat file holds every paper's too
        tables = {
            entry.sbml: compose.merged_provenance(entry, built.comp),
            entry.comp_sbml: compose.top_provenance(entry, built.comp),
        }
    reg = entry.registry
    authors = read_authors(reg.authors_file)
    rules = load_annotation_rules(reg.annotation_file)
    files = {}
    for target, doc in zip(tables, (built.flat, built.comp), strict=False):
        if doc is None:
            continue
        annotate_model(doc, entry.papers, claims.curation, tables[target], title=entry.title, authors=authors)
        annotate_semantics(doc, rules)
        files[target.relative_to(reg.sbml_dir).as_posix()] = write_sbml_string(doc)
    groups = diagram.composite_groups(built.flat.getModel(), built.comp) if built.comp is not None else None
    laid_out = diagram.layout_document(built.flat, diagram.layout(built.flat.getModel(), groups))
    files[entry.diagram.relative_to(reg.sbml_dir).as_posix()] = write_sbml_string(laid_out)
    return files


@dataclass
class BuildOutput:
    """The files one build produces: file name -> text."""

    files: dict[str, str]


def build_all(entries: Sequence[ModelEntry] | None = None) -> BuildOutput:
    """Build every model of the registry in use (or the entries given) in memory."""
    files: dict[str, str] = {}
    for entry in registry.current().entries() if entries is None else entries:
        files.update(build_model(entry))
    return BuildOutput(files=files)


def write(output: BuildOutput, folder: Path) -> list[Path]:
    """Write a build's files into a folder atomically."""
    written = []
    for name, text in sorted(output.files.items()):
        target = folder / name
        atomic_write_text(target, text)
        written.append(target)
    return written


def _shipped(folder: Path) -> list[Path]:
    """The files a build writes into a folder: its SBML and its diagrams."""
    return [*folder.glob(f"*{SBML_SUFFIX}"), *(folder / DIAGRAMS).glob(f"*{DIAGRAM_SUFFIX}")]


def stale_files(folder: Path | None = None) -> list[str]:
    """Rebuild every model in a temporary folder and list how `folder` (default: sbml/) differs.

    Returns one line per stale, missing or extra file; an empty list means up to date.
    """
    folder = folder or registry.current().sbml_dir
    output = build_all()
    problems = []
    with tempfile.TemporaryDirectory(prefix="bcsignal-build-") as tmp:
        fresh = {p.relative_to(tmp).as_posix(): p.read_bytes() for p in write(output, Path(tmp))}
    shipped = (
        {p.relative_to(folder).as_posix(): p.read_bytes() for p in _shipped(folder)}
        if folder.is_dir()
        else {}
    )
    for name in sorted(fresh.keys() | shipped.keys()):
        if name not in shipped:
            problems.append(f"missing: {folder / name}")
        elif name not in fresh:
            problems.append(f"extra: {folder / name} (no source builds it)")
        elif fresh[name] != shipped[name]:
            problems.append(f"stale: {folder / name}")
    if folder.is_dir():  # debris of an interrupted write (the next `bcsignal build` removes it)
        debris = [*folder.glob(".*.tmp"), *(folder / DIAGRAMS).glob(".*.tmp")]
        problems += [f"extra: {p} (a temporary file)" for p in sorted(debris)]
    return problems
