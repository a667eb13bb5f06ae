"""Model-level annotations (citation, creators, dates, taxon) and parameter provenance for the SBML."""

from __future__ import annotations

import csv
import html
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libsbml

from bcsignal.errors import BcsignalError

#: Columns of a parameter provenance table, in order.
PROVENANCE_COLUMNS = ("id", "value", "unit", "sbo", "source", "reference", "note")
#: Allowed values of the `source` column.
PROVENANCE_SOURCES = ("published_model", "paper", "literature", "chosen", "knob")
#: identifiers.org prefixes for the model citation.
PUBMED_URI = "http://identifiers.org/pubmed/{}"
DOI_URI = "http://identifiers.org/doi/{}"
TAXON_URI = "http://identifiers.org/taxonomy/{}"
XHTML = "http://www.w3.org/1999/xhtml"


@dataclass(frozen=True)
class Provenance:
    """One row of a parameter provenance table."""

    id: str
    value: float
    unit: str
    sbo: str
    source: str
    reference: str
    note: str
    line: int


def read_provenance(path: Path) -> dict[str, Provenance]:
    """Read a provenance table (TSV), checking its columns and its values' form."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BcsignalError(f"cannot read: {exc}", file=path) from exc
    reader = csv.reader(io.StringIO(text), delimiter="\t")
    rows = list(reader)
    if not rows or tuple(rows[0]) != PROVENANCE_COLUMNS:
        raise BcsignalError(
            f"header must be {' '.join(PROVENANCE_COLUMNS)} (tab-separated)", file=path, line=1
        )
    table: dict[str, Provenance] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not row or not any(row):
            continue
        if len(row) != len(PROVENANCE_COLUMNS):
            raise BcsignalError(
                f"expected {len(PROVENANCE_COLUMNS)} columns, found {len(row)}", file=path, line=n
            )
        rec = dict(zip(PROVENANCE_COLUMNS, row, strict=True))
        try:
            value = float(rec["value"])
        except ValueError:
            raise BcsignalError(f"value {rec['value']!r} is not a number", file=path, line=n) from None
        if not math.isfinite(value):
            raise BcsignalError(f"value {rec['value']!r} is not finite", file=path, line=n)
        if rec["source"] not in PROVENANCE_SOURCES:
            raise BcsignalError(
                f"source {rec['source']!r} is not one of {', '.join(PROVENANCE_SOURCES)}",
                file=path,
                line=n,
            )
        if rec["source"] in {"published_model", "paper", "literature"} and not rec["reference"]:
            raise BcsignalError(
                f"parameter {rec['id']}: source {rec['source']} needs a reference",
                file=path,
                line=n,
            )
        if rec["source"] == "chosen" and not rec["note"]:
            raise BcsignalError(
                f"parameter {rec['id']}: a chosen value needs a note saying why", file=path, line=n
            )
        if rec["id"] in table:
            raise BcsignalError(f"parameter {rec['id']} listed twice", file=path, line=n)
        table[rec["id"]] = Provenance(
            id=rec["id"],
            value=value,
            unit=rec["unit"],
            sbo=rec["sbo"],
            source=rec["source"],
            reference=rec["reference"],
            note=rec["note"],
            line=n,
        )
    return table


def _check(code: int, what: str) -> None:
    if code != libsbml.LIBSBML_OPERATION_SUCCESS:
        raise BcsignalError(f"{what} failed: {libsbml.OperationReturnValue_toString(code)}", tool="libsbml")


def _cv(qualifier_type: int, qualifier: int, uris: list[str]) -> libsbml.CVTerm:
    term = libsbml.CVTerm(qualifier_type)
    if qualifier_type == libsbml.MODEL_QUALIFIER:
        term.setModelQualifierType(qualifier)
    else:
        term.setBiologicalQualifierType(qualifier)
    for uri in uris:
        term.addResource(uri)
    return term


def _notes(paragraphs: list[str]) -> str:
    body = "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs)
    return f'<body xmlns="{XHTML}">{body}</body>'


def citation_text(paper: Mapping[str, Any]) -> str:
    """Return a one-line citation of a paper block of a claims file."""
    parts = [f"{paper['authors']} ({paper['year']}). {paper['title']}. {paper['journal']}"]
    if paper.get("volume"):
        parts.append(f" {paper['volume']}")
    if paper.get("pages"):
        parts.append(f":{paper['pages']}")
    parts.append(f". doi:{paper['doi']}; PubMed {paper['pubmed']}.")
    return "".join(parts)


def annotate_model(
    doc: libsbml.SBMLDocument,
    papers: list[Mapping[str, Any]],
    curation: Mapping[str, Any],
    provenance: Mapping[str, Provenance],
    *,
    title: str | None = None,
) -> None:
    """Add the citations, creators, fixed dates, taxa, model notes and parameter provenance notes.

    A paper model has one paper; a composite lists the papers of its submodels.
    """
    model = doc.getModel()
    if not model.isSetMetaId():
        _check(model.setMetaId(f"meta_{model.getId()}"), "setting the model metaid")
    # Antimony writes `description` as bqbiol:isDescribedBy; the model's reference is bqmodel.
    kept = [
        model.getCVTerm(i).clone()
        for i in range(model.getNumCVTerms())
        if not (
            model.getCVTerm(i).getQualifierType() == libsbml.BIOLOGICAL_QUALIFIER
            and model.getCVTerm(i).getBiologicalQualifierType() == libsbml.BQB_IS_DESCRIBED_BY
        )
    ]
    model.unsetCVTerms()
    refs = [uri for p in papers for uri in (PUBMED_URI.format(p["pubmed"]), DOI_URI.format(p["doi"]))]
    described = _cv(libsbml.MODEL_QUALIFIER, libsbml.BQM_IS_DESCRIBED_BY, refs)
    _check(model.addCVTerm(described), "adding the citation")
    taxa = sorted({TAXON_URI.format(p["taxon"]) for p in papers if p.get("taxon")})
    if taxa:
        taxon = _cv(libsbml.BIOLOGICAL_QUALIFIER, libsbml.BQB_HAS_TAXON, taxa)
        _check(model.addCVTerm(taxon), "adding the taxon")
    for term in kept:
        _check(model.addCVTerm(term), "keeping a model annotation")

    history = libsbml.ModelHistory()
    for person in curation["creators"]:
        creator = libsbml.ModelCreator()
        creator.setGivenName(person["given_name"])
        creator.setFamilyName(person["family_name"])
        if person.get("organisation"):
            creator.setOrganisation(person["organisation"])
        if person.get("email"):
            creator.setEmail(person["email"])
        _check(history.addCreator(creator), "adding a creator")
    date = libsbml.Date(curation["created"])
    _check(history.setCreatedDate(date), "setting the created date")
    _check(history.setModifiedDate(date), "setting the modified date")
    _check(model.setModelHistory(history), "setting the model history")

    title = title or papers[0]["title"]
    if not model.isSetName():
        model.setName(title)
    paragraphs = [f"{model.getId()}: {title}"]
    if curation.get("description"):
        paragraphs.append(str(curation["description"]))
    for paper in papers:
        paragraphs.append("Described by: " + citation_text(paper))
        for rel in paper.get("related", []):
            paragraphs.append(f"{rel.get('role', 'Related')}: {rel['citation']}")
    paragraphs.append(
        "Encoded by the bcsignal project. Time in minutes, concentrations in nM, phenotype scores "
        "dimensionless in [0, 1]. Every claim of the paper that the model encodes is checked by machine; "
        "see the claims file of the same name."
    )
    _check(model.setNotes(_notes(paragraphs)), "setting the model notes")

    for p in model.getListOfParameters():
        row = provenance.get(p.getId())
        if row is None:
            continue
        text = f"Provenance: {row.source}"
        if row.reference:
            text += f" ({row.reference})"
        if row.note:
            text += f". {row.note}"
        _check(p.setNotes(_notes([text])), f"setting the notes of {p.getId()}")
