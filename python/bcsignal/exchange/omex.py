"""COMBINE/OMEX archives: manifest and metadata (libcombine), members zipped byte-identically, read back."""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import libsbml

from bcsignal import registry
from bcsignal.annotate import (
    DOI_URI,
    PUBMED_URI,
    Author,
    citation_text,
    creators_of,
    read_authors,
    read_keywords,
)
from bcsignal.errors import BcsignalError, excerpt
from bcsignal.exchange.schedule import Plan, plain, plan_experiments, state_locations, state_sbml
from bcsignal.exchange.sedml import MAX_SEDML_BYTES, sedml_document
from bcsignal.extras import require
from bcsignal.files import atomic_write_bytes
from bcsignal.limits import (
    MAX_ARCHIVE_BYTES,
    MAX_ARCHIVE_MEMBERS,
    MAX_COMPRESSION_RATIO,
    RATIO_FLOOR,
    max_bytes,
)
from bcsignal.registry import ModelEntry
from bcsignal.registry.papers import papers_of, title_of
from bcsignal.screen import decode, screen_text
from bcsignal.simulate import Simulator, new_simulator
from bcsignal.spec.claims import ClaimsFile

libcombine = require("libcombine", "SED-ML and OMEX exchange")

#: COMBINE format identifiers.
FORMAT_OMEX = "http://identifiers.org/combine.specifications/omex"
FORMAT_MANIFEST = "http://identifiers.org/combine.specifications/omex-manifest"
FORMAT_METADATA = "http://identifiers.org/combine.specifications/omex-metadata"
FORMAT_SBML = "http://identifiers.org/combine.specifications/sbml.level-3.version-2"
FORMAT_SEDML = "http://identifiers.org/combine.specifications/sed-ml.level-1.version-3"
#: Licence of the models and archives (the project's licence).
LICENCE_URI = "https://spdx.org/licenses/MIT"
#: Fixed timestamp of every archive member, so rebuilt archives are byte-identical.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
OMEX_SUFFIX = ".omex"


_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_RDFS = "http://www.w3.org/2000/01/rdf-schema#"
_DC = "http://purl.org/dc/elements/1.1/"
_DCTERMS = "http://purl.org/dc/terms/"
_BQMODEL = "http://biomodels.net/model-qualifiers/"
_VCARD = "http://www.w3.org/2006/vcard/ns#"
_PRISM = "http://prismstandard.org/namespaces/basic/2.0/"
_PREFIXES = {
    "rdf": _RDF,
    "rdfs": _RDFS,
    "dc": _DC,
    "dcterms": _DCTERMS,
    "bqmodel": _BQMODEL,
    "vCard": _VCARD,
    "prism": _PRISM,
}


def manifest_xml(members: Sequence[tuple[str, str]], master: str) -> str:
    """Return the OMEX manifest (written by libcombine) for (location, format) members."""
    manifest = libcombine.CaOmexManifest()
    root = manifest.createContent()
    root.setLocation(".")
    root.setFormat(FORMAT_OMEX)
    for location, fmt in members:
        content = manifest.createContent()
        content.setLocation(f"./{location}")
        content.setFormat(fmt)
        if location == master:
            content.setMaster(True)
    text: str = libcombine.writeOMEXToString(manifest)
    return text


def model_description(claims: ClaimsFile) -> str:
    """Return a model's description from its claims file: its own, or the claims it encodes."""
    own = claims.curation.get("description")
    if own:
        return plain(str(own), limit=10_000)
    statements = "; ".join(plain(c.statement, limit=10_000) for c in claims.claims)
    return plain(
        f"The mechanism of {title_of(claims)}, encoded by bcsignal with {len(claims.claims)} claims checked "
        f"by machine and every experiment they use as SED-ML: {statements}",
        limit=10_000,
    )


def dates(sbml: str, claims: ClaimsFile) -> tuple[str, str]:
    """Return the created and modified dates: the build's, from the SBML's model history.

    An SBML without a history (a model built outside `bcsignal build`) has the claims file's
    `curation: created` as both.
    """
    model = libsbml.readSBMLFromString(sbml).getModel()
    history = model.getModelHistory() if model is not None and model.isSetModelHistory() else None
    created = str(claims.curation["created"])
    if history is None or not history.isSetCreatedDate():
        return created, created
    created = str(history.getCreatedDate().getDateAsString())
    modified = [history.getModifiedDate(i).getDateAsString() for i in range(history.getNumModifiedDates())]
    return created, str(max(modified, default=created))


def _omex_description(claims: ClaimsFile, sbml: str, authors: Sequence[Author]) -> Any:
    """Return libcombine's description of the archive: its text, creators and dates."""
    description = libcombine.OmexDescription()
    description.setAbout(".")
    description.setDescription(model_description(claims))
    for author in creators_of(claims.curation, list(authors)):
        card = libcombine.VCard()
        if author.name:
            card.setFamilyName(plain(author.name, limit=1000))
        else:
            card.setGivenName(plain(author.given_name, limit=1000))
            card.setFamilyName(plain(author.family_name, limit=1000))
        if author.organisation:
            card.setOrganization(plain(author.organisation, limit=1000))
        if author.email:
            card.setEmail(f"mailto:{author.email}")
        description.addCreator(card)
    created, modified = dates(sbml, claims)
    description.setCreated(libcombine.Date(created))
    description.addModification(libcombine.Date(modified))
    return description


def metadata_rdf(
    model_id: str,
    claims: ClaimsFile,
    sbml: str,
    authors: Sequence[Author],
    keywords: Sequence[str] = (),
) -> str:
    """Return OMEX metadata of the archive: libcombine's description, creators and dates, and more.

    libcombine writes the OMEX metadata statements (Dublin Core terms): the description (from the
    claims file), the creators (the authors file, CITATION.cff), the created and modified dates (the
    build's, from the SBML's history). The same record is added in the vocabulary BioSimulations
    reads (Dublin Core elements, BioModels qualifiers): title, description, `keywords`, licence,
    dates and the papers that describe the model, each resource a blank node with its
    ``dc:identifier`` and an ``rdfs:label`` (for a paper, its citation). Creators are written once,
    as libcombine's vCards (an ORCID iD as ``vCard:hasUID``): libcombine would read a ``dc:creator``
    as a second creator.
    """
    import xml.etree.ElementTree as ET

    for prefix, uri in _PREFIXES.items():
        ET.register_namespace(prefix, uri)
    root = ET.fromstring(_omex_description(claims, sbml, authors).toXML())
    about = root.find(f"{{{_RDF}}}Description")
    if about is None:
        raise BcsignalError("libcombine wrote no rdf:Description", tool="libcombine")

    def literal(tag: str, text: str) -> None:
        ET.SubElement(about, tag).text = text

    def resource(tag: str, uri: str | None, label: str) -> None:
        node = ET.SubElement(ET.SubElement(about, tag), f"{{{_RDF}}}Description")
        if uri:
            ET.SubElement(node, f"{{{_DC}}}identifier", {f"{{{_RDF}}}resource": uri})
        ET.SubElement(node, f"{{{_RDFS}}}label").text = label

    people = creators_of(claims.curation, list(authors))
    for author, card in zip(people, about.findall(f"{{{_DCTERMS}}}creator"), strict=True):
        if author.orcid:  # the ORCID iD as the vCard's unique identifier
            ET.SubElement(card, f"{{{_VCARD}}}hasUID", {f"{{{_RDF}}}resource": author.orcid})
    literal(f"{{{_DC}}}title", plain(f"{model_id}: {title_of(claims)}", limit=1000))
    literal(f"{{{_DC}}}description", plain(model_description(claims), limit=10_000))
    for keyword in keywords:
        literal(f"{{{_PRISM}}}keyword", keyword)
    resource(f"{{{_DC}}}license", LICENCE_URI, "MIT License")
    created, modified = dates(sbml, claims)
    literal(f"{{{_DC}}}created", created)
    literal(f"{{{_DC}}}modified", modified)
    for paper in papers_of(claims):
        citation = plain(citation_text(paper), limit=10_000)
        resource(f"{{{_BQMODEL}}}isDescribedBy", DOI_URI.format(paper["doi"]), citation)
        resource(f"{{{_BQMODEL}}}isDescribedBy", PUBMED_URI.format(paper["pubmed"]), citation)
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def zip_members(members: Sequence[tuple[str, bytes]]) -> bytes:
    """Zip members in the given order with fixed timestamps and permissions (byte-identical rebuilds)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            archive.writestr(info, data)
    return buffer.getvalue()


@dataclass(frozen=True)
class Archive:
    """One model's COMBINE archive and how its experiments are laid out."""

    model_id: str
    data: bytes
    layout: Mapping[str, Plan]


def build_archive(
    model_id: str,
    sbml: str,
    claims: ClaimsFile,
    sim: Simulator | None = None,
    *,
    authors: Sequence[Author] = (),
    keywords: Sequence[str] = (),
    extra: Sequence[tuple[str, bytes]] = (),
) -> Archive:
    """Build the archive of a model: flat SBML, state SBML files, SED-ML, manifest, metadata, `extra`.

    `extra` holds further SBML files (location, content), such as a composite's comp file; the
    SED-ML runs the state files, each the flat SBML at one phase-start state.
    """
    sim = sim or new_simulator(sbml, name=model_id)
    layout = plan_experiments(claims, sim, sbml)
    sbml_location = f"{model_id}.xml"
    sedml_location = f"{model_id}.sedml"
    sources = state_locations(model_id, layout)
    sedml = sedml_document(model_id, sbml, sources, claims, layout)
    if len(sedml.encode("utf-8")) > MAX_SEDML_BYTES:
        raise BcsignalError(
            f"the SED-ML has {len(sedml.encode('utf-8'))} bytes, over the limit of {MAX_SEDML_BYTES}",
            file=claims.path,
        )
    states = [(location, state_sbml(sbml, state).encode("utf-8")) for state, location in sources.items()]
    sbml_members = sorted([(sbml_location, sbml.encode("utf-8")), *extra, *states])
    content = [
        *((location, FORMAT_SBML) for location, _ in sbml_members),
        (sedml_location, FORMAT_SEDML),
        ("metadata.rdf", FORMAT_METADATA),
    ]
    manifest = manifest_xml(content, master=sedml_location)
    members = [
        ("manifest.xml", manifest.encode("utf-8")),
        ("metadata.rdf", metadata_rdf(model_id, claims, sbml, authors, keywords).encode("utf-8")),
        *sbml_members,
        (sedml_location, sedml.encode("utf-8")),
    ]
    return Archive(model_id=model_id, data=zip_members(members), layout=layout)


def model_archive(model: str | ModelEntry) -> Archive:
    """Build the archive of a shipped model (an id or its registry entry): its SBML, claims, CITATION.cff.

    A composite's archive also carries its comp file (sbml/<id>_comp.xml) next to the flat one.
    """
    entry = model if isinstance(model, ModelEntry) else registry.entry(model)
    sbml = entry.sbml_text()
    comp = entry.comp_sbml
    extra = [(comp.name, comp.read_bytes())] if comp is not None and comp.is_file() else []
    authors_file = entry.registry.authors_file
    return build_archive(
        entry.id,
        sbml,
        entry.claims,
        new_simulator(sbml, name=entry.id, origin=entry.sbml),
        authors=read_authors(authors_file),
        keywords=read_keywords(authors_file),
        extra=extra,
    )


def omex_dir() -> Path:
    """Return the folder archives are written to (the registry's build/omex)."""
    return registry.current().omex_dir


def export(models: Sequence[str | ModelEntry], folder: Path | None = None) -> list[Path]:
    """Write build/omex/<model>.omex for each model (ids or registry entries); return the paths."""
    folder = folder or omex_dir()
    written = []
    for model in models:
        archive = model_archive(model)
        target = folder / f"{archive.model_id}{OMEX_SUFFIX}"
        atomic_write_bytes(target, archive.data)
        written.append(target)
    return written


def checked_members(zf: zipfile.ZipFile, origin: str | Path) -> list[zipfile.ZipInfo]:
    """Return an archive's members after checking them before anything is inflated or extracted.

    Refused: more than MAX_ARCHIVE_MEMBERS members, a member that would inflate beyond the model size
    limit (BCSIGNAL_MAX_BYTES), members that would inflate beyond MAX_ARCHIVE_BYTES together, and a
    member over 64 KiB compressed more than MAX_COMPRESSION_RATIO to 1 (a zip bomb). The sizes are
    the ones the archive declares; Python's zipfile never inflates a member beyond its declared size.
    """
    infos = zf.infolist()
    if len(infos) > MAX_ARCHIVE_MEMBERS:
        raise BcsignalError(
            f"the archive has {len(infos)} members, over the limit of {MAX_ARCHIVE_MEMBERS}",
            file=origin,
            tool="screen",
        )
    per_member = max_bytes()
    total = 0
    for info in infos:
        name = excerpt(info.filename)
        if info.file_size > per_member:
            raise BcsignalError(
                f"member {name} would inflate to {info.file_size} bytes, over the limit of {per_member} "
                "(set BCSIGNAL_MAX_BYTES to change it)",
                file=origin,
                tool="screen",
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR and ratio > MAX_COMPRESSION_RATIO:
            raise BcsignalError(
                f"member {name} is compressed {ratio:.0f} to 1, over the limit of {MAX_COMPRESSION_RATIO} "
                "to 1 (a zip bomb?)",
                file=origin,
                tool="screen",
            )
        total += info.file_size
    if total > MAX_ARCHIVE_BYTES:
        raise BcsignalError(
            f"the archive's members would inflate to {total} bytes, over the limit of {MAX_ARCHIVE_BYTES}",
            file=origin,
            tool="screen",
        )
    return infos


def read_member(archive: Path | bytes, suffix: str) -> tuple[str, bytes]:
    """Return the name and content of the one archive member whose name ends with `suffix`.

    The archive's members are checked (`checked_members`) before any is inflated.
    """
    origin = "<archive>" if isinstance(archive, bytes) else archive
    try:
        with zipfile.ZipFile(io.BytesIO(archive) if isinstance(archive, bytes) else archive) as zf:
            checked_members(zf, origin)
            names = [n for n in zf.namelist() if n.endswith(suffix)]
            if len(names) != 1:
                raise BcsignalError(f"expected one *{suffix} member, found {len(names)}", file=origin)
            return names[0], zf.read(names[0])
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError) as exc:
        raise BcsignalError(f"cannot read the archive: {exc}", file=origin) from exc


def sedml_text(archive: Path) -> str:
    """Return an archive's SED-ML, checked: members within the limits, UTF-8, screened XML."""
    _, data = read_member(archive, ".sedml")
    text = decode(data, archive)
    screen_text(text, archive)
    return text


def sedml_member(archive: Path) -> str:
    """Return the name of an archive's one SED-ML member."""
    name, _ = read_member(archive, ".sedml")
    return name


def check_sources(doc: Any, archive: Path, members: Sequence[str]) -> None:
    """Refuse a SED-ML model whose source is neither a member of the archive nor an earlier model (#id)."""
    names = {str(PurePosixPath(m)) for m in members}
    earlier: set[str] = set()
    for model in doc.getListOfModels():
        source = model.getSource()
        earlier.add(model.getId())
        if source.startswith("#") and source[1:] in earlier - {model.getId()}:
            continue  # another model of the document, defined before this one (no cycle)
        relative = source[2:] if source.startswith("./") else source
        if (
            re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", source)
            or PurePosixPath(source).is_absolute()
            or ".." in PurePosixPath(relative).parts
            or str(PurePosixPath(relative)) not in names
        ):
            raise BcsignalError(
                f"model {excerpt(model.getId())}: source {excerpt(source)} is not a member of the archive",
                file=archive,
                tool="screen",
            )
