"""Model-level annotations (citation, creators, dates, taxon) and parameter provenance for the SBML."""

from __future__ import annotations

import html
import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import libsbml
import yaml

from bcsignal.core.errors import BcsignalError
from bcsignal.sbml.authors import CFF_VERSION as CFF_VERSION
from bcsignal.sbml.authors import Author as Author
from bcsignal.sbml.authors import creators_of as creators_of
from bcsignal.sbml.authors import read_authors as read_authors
from bcsignal.sbml.authors import read_keywords as read_keywords
from bcsignal.spec.provenance import PROVENANCE_COLUMNS as PROVENANCE_COLUMNS
from bcsignal.spec.provenance import PROVENANCE_SOURCES as PROVENANCE_SOURCES
from bcsignal.spec.provenance import Provenance as Provenance
from bcsignal.spec.provenance import read_provenance as read_provenance

#: identifiers.org prefixes for the model citation.
PUBMED_URI = "http://identifiers.org/pubmed/{}"
DOI_URI = "http://identifiers.org/doi/{}"
TAXON_URI = "http://identifiers.org/taxonomy/{}"
XHTML = "http://www.w3.org/1999/xhtml"


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
    authors: list[Author] | None = None,
) -> None:
    """Add the citations, creators, fixed dates, taxa, model notes and parameter provenance notes.

    A paper model has one paper; a composite lists the papers of its submodels. The creators are
    the authors file's `authors` (`creators_of`).
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
    for author in creators_of(curation, authors):
        _check(history.addCreator(_creator(author)), "adding a creator")
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


# -- authors (CITATION.cff): bcsignal.sbml.authors ---------------------------------------------------


def _creator(author: Author) -> libsbml.ModelCreator:
    creator = libsbml.ModelCreator()
    if author.name:  # an entity: one name (vCard 4 fn)
        creator.setUseSingleName(True)
        _check(creator.setName(author.name), "setting a creator's name")
    else:
        _check(creator.setGivenName(author.given_name), "setting a creator's given name")
        _check(creator.setFamilyName(author.family_name), "setting a creator's family name")
    if author.organisation:
        _check(creator.setOrganisation(author.organisation), "setting a creator's organisation")
    if author.email:
        _check(creator.setEmail(author.email), "setting a creator's email")
    return creator


# -- what tools read: units, modifier roles, processes, compartments --------------------------------------
#: Ids of the unit definitions the build adds for the model's area and length units.
AREA_UNIT, LENGTH_UNIT = "area_unit", "length_unit"
#: SBO terms of modifier roles.
SBO_MODIFIER, SBO_STIMULATOR, SBO_INHIBITOR, SBO_CATALYST = 19, 459, 20, 13
SBO_ESSENTIAL_ACTIVATOR, SBO_DUAL_MODIFIER = 461, 595
#: Species SBO terms of proteins (polypeptide chain, non-covalent complex): enzymes may be catalysts.
SBO_PROTEINS = (252, 253)
IDENTIFIERS_ORG = "http://identifiers.org/{}"
_TERM = re.compile(r"^[A-Za-z]+:[0-9]{7}$")
_QUALIFIERS = {"is": libsbml.BQB_IS, "isVersionOf": libsbml.BQB_IS_VERSION_OF}


@dataclass(frozen=True)
class ProcessRule:
    """One rule of models/annotation.yaml: which reactions are a version of which GO process."""

    go: str
    name: str
    sbo: int | None = None
    reactant: int | None = None
    id: re.Pattern[str] | None = None

    def matches(self, model: libsbml.Model, reaction: libsbml.Reaction) -> bool:
        """Return whether the rule applies to a reaction of a model."""
        if self.id is not None and not self.id.search(reaction.getId().rsplit("__", 1)[-1]):
            return False
        if self.sbo is not None and reaction.getSBOTerm() != self.sbo:
            return False
        if self.reactant is not None:
            first = reaction.getReactant(0) if reaction.getNumReactants() else None
            species = model.getSpecies(first.getSpecies()) if first is not None else None
            if species is None or species.getSBOTerm() != self.reactant:
                return False
        return True


@dataclass(frozen=True)
class AnnotationRules:
    """The annotation rules every build applies (models/annotation.yaml)."""

    path: Path
    reactions: tuple[ProcessRule, ...]
    compartments: Mapping[str, Mapping[str, Any]]
    #: Reaction SBO terms whose essential protein modifiers are catalysts (enzymes).
    catalysed: frozenset[int] = frozenset()


def load_annotation_rules(path: Path) -> AnnotationRules:
    """Read and check models/annotation.yaml."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BcsignalError(f"cannot read the annotation rules: {exc}", file=path) from exc
    if not isinstance(data, dict) or data.get("format") != 1:
        raise BcsignalError("the annotation rules are a mapping with `format: 1`", file=path)
    rules = []
    for n, raw in enumerate(data.get("reactions") or [], start=1):
        where = f"reaction rule {n}"
        if not isinstance(raw, dict) or set(raw) - {"go", "name", "sbo", "reactant", "id"}:
            raise BcsignalError(f"{where}: fields are go, name, sbo, reactant, id", file=path)
        if (
            not isinstance(raw.get("go"), str)
            or not raw["go"].startswith("GO:")
            or not _TERM.match(raw["go"])
        ):
            raise BcsignalError(f"{where}: `go` must be a GO term GO:nnnnnnn", file=path)
        if "sbo" not in raw and "id" not in raw:
            raise BcsignalError(f"{where}: needs an `sbo` term or an `id` pattern", file=path)
        for key in ("sbo", "reactant"):
            if key in raw and not (isinstance(raw[key], int) and raw[key] > 0):
                raise BcsignalError(f"{where}: `{key}` must be an SBO number", file=path)
        try:
            pattern = re.compile(raw["id"]) if "id" in raw else None
        except (re.error, TypeError) as exc:
            raise BcsignalError(f"{where}: `id` is not a regular expression: {exc}", file=path) from None
        rules.append(
            ProcessRule(raw["go"], str(raw.get("name", "")), raw.get("sbo"), raw.get("reactant"), pattern)
        )
    compartments = data.get("compartments") or {}
    if not isinstance(compartments, dict):
        raise BcsignalError("`compartments` maps compartment ids to annotations", file=path)
    for cid, spec in compartments.items():
        if not isinstance(spec, dict) or set(spec) - {"sbo", *_QUALIFIERS}:
            raise BcsignalError(f"compartment {cid}: fields are sbo, is, isVersionOf", file=path)
        terms = [t for q in _QUALIFIERS for t in spec.get(q, [])]
        if not terms or not all(isinstance(t, str) and _TERM.match(t) for t in terms):
            raise BcsignalError(f"compartment {cid}: terms are written PREFIX:nnnnnnn", file=path)
    catalysed = data.get("catalysed_by_proteins") or []
    if not isinstance(catalysed, list) or not all(isinstance(t, int) and t > 0 for t in catalysed):
        raise BcsignalError("`catalysed_by_proteins` is a list of reaction SBO numbers", file=path)
    return AnnotationRules(Path(path), tuple(rules), compartments, frozenset(catalysed))


def normalise_units(model: libsbml.Model) -> None:
    """Write every scaled unit with a multiplier as multiplier x 10^0 (60 s, not 6 x 10^1 s).

    Antimony writes ``60 second`` as multiplier 6, scale 1, which COPASI shows as "60*s"; multiplier
    60, scale 0 is the same unit and shows as "min". The product is exact in decimal.
    """
    for definition in model.getListOfUnitDefinitions():
        for unit in definition.getListOfUnits():
            if unit.getMultiplier() != 1 and unit.getScale() != 0:
                exact = Decimal(repr(unit.getMultiplier())) * Decimal(10) ** unit.getScale()
                _check(unit.setMultiplier(float(exact)), f"setting a multiplier of {definition.getId()}")
                _check(unit.setScale(0), f"setting a scale of {definition.getId()}")


def set_geometry_units(model: libsbml.Model) -> None:
    """Set the model's length and area units (metre, square metre) where unset, as defined units."""
    for uid, exponent, is_set, setter in (
        (LENGTH_UNIT, 1, model.isSetLengthUnits, model.setLengthUnits),
        (AREA_UNIT, 2, model.isSetAreaUnits, model.setAreaUnits),
    ):
        if is_set():
            continue
        if model.getUnitDefinition(uid) is None:
            if model.getElementBySId(uid) is not None:
                raise BcsignalError(f"model {model.getId()}: {uid} is taken; it names the {uid[:-5]} unit")
            definition = model.createUnitDefinition()
            _check(definition.setId(uid), f"adding {uid}")
            unit = definition.createUnit()
            for call in (
                unit.setKind(libsbml.UNIT_KIND_METRE),
                unit.setExponent(exponent),
                unit.setScale(0),
                unit.setMultiplier(1.0),
            ):
                _check(call, f"defining {uid}")
        _check(setter(uid), f"setting the model's {uid}")


def _rate(math: libsbml.ASTNode, model: libsbml.Model, symbol: str, value: float) -> float:
    ast = math.deepCopy()
    number = libsbml.ASTNode(libsbml.AST_REAL)
    number.setValue(value)
    ast.replaceArgument(symbol, number)
    return float(libsbml.SBMLTransforms.evaluateASTNode(ast, model))


def _initial(model: libsbml.Model, sid: str) -> float:
    species = model.getSpecies(sid)
    if species is None:
        return 0.0
    if species.isSetInitialConcentration():
        return float(species.getInitialConcentration())
    return float(species.getInitialAmount()) if species.isSetInitialAmount() else 0.0


def _rates(model: libsbml.Model, kinetic: libsbml.KineticLaw, modifier: str) -> list[float]:
    """Return the rate with the modifier at 0, then from 1/100 to 100 times its initial value."""
    start = _initial(model, modifier)
    grid = [start * 10.0**k for k in (-2, -1, 0, 1, 2)] if start > 0 else [10.0**k for k in range(-3, 4)]
    libsbml.SBMLTransforms.clearComponentValues(model)
    try:
        return [_rate(kinetic.getMath(), model, modifier, x) for x in (0.0, *grid)]
    finally:
        libsbml.SBMLTransforms.clearComponentValues(model)


def _with_zeros_raised(model: libsbml.Model, kinetic: libsbml.KineticLaw, modifier: str) -> list[float]:
    """Return `_rates` with every other constant parameter and species that is 0 set to 0.5.

    A modifier may act only when a knob is on or a species is present (a switch at 0, an absent
    co-factor); 0.5 puts each switch and inhibited fraction half-way and never zeroes a factor.
    """
    changed: list[tuple[libsbml.SBase, float]] = []
    for p in model.getListOfParameters():
        if p.getConstant() and p.isSetValue() and p.getValue() == 0:
            changed.append((p, 0.0))
            p.setValue(0.5)
    for sp in model.getListOfSpecies():
        if sp.getId() != modifier and sp.isSetInitialConcentration() and sp.getInitialConcentration() == 0:
            changed.append((sp, 0.0))
            sp.setInitialConcentration(0.5)
    try:
        return _rates(model, kinetic, modifier)
    finally:
        for element, value in changed:
            if isinstance(element, libsbml.Parameter):
                element.setValue(value)
            else:
                element.setInitialConcentration(value)


def modifier_role(
    model: libsbml.Model, reaction: libsbml.Reaction, modifier: str, catalysed: frozenset[int] = frozenset()
) -> int:
    """Return the SBO role of a modifier from how the reaction's rate depends on it.

    The rate law is evaluated at the model's initial state (bcsignal models start at their steady
    state) with the modifier at 0, and from 1/100 to 100 times its initial value (or 0.001 to 1000
    nM when it starts at 0); if it has no effect there, again with every parameter and species that
    is 0 at 0.5 (a modifier gated by a knob). Rising everywhere: a stimulator; an essential activator
    if the rate is 0 without it, a catalyst if it is also a protein and the reaction's SBO term is in
    `catalysed` (a kinase in a phosphorylation). Falling everywhere: an inhibitor. Both: a
    dual-activity modifier. No effect at all, or a rate that cannot be evaluated: a modifier.
    """
    kinetic = reaction.getKineticLaw() if reaction.isSetKineticLaw() else None
    if kinetic is None or not kinetic.isSetMath():
        return SBO_MODIFIER
    up = down = False
    for evaluate in (_rates, _with_zeros_raised):
        rates = evaluate(model, kinetic, modifier)
        if not all(math.isfinite(v) for v in rates):
            return SBO_MODIFIER
        tol = 1e-9 * max(abs(v) for v in rates)
        steps = [b - a for a, b in itertools.pairwise(rates)]
        up, down = any(d > tol for d in steps), any(d < -tol for d in steps)
        if up or down:
            break
    if up and down:
        return SBO_DUAL_MODIFIER
    if down:
        return SBO_INHIBITOR
    if not up:
        return SBO_MODIFIER
    if abs(rates[0]) > tol:
        return SBO_STIMULATOR
    species = model.getSpecies(modifier)
    enzyme = species is not None and species.getSBOTerm() in SBO_PROTEINS
    if enzyme and reaction.getSBOTerm() in catalysed:
        return SBO_CATALYST
    return SBO_ESSENTIAL_ACTIVATOR


def _has_identity(sbase: libsbml.SBase) -> bool:
    for i in range(sbase.getNumCVTerms()):
        term = sbase.getCVTerm(i)
        if term.getQualifierType() == libsbml.BIOLOGICAL_QUALIFIER and term.getBiologicalQualifierType() in (
            libsbml.BQB_IS,
            libsbml.BQB_IS_VERSION_OF,
        ):
            return True
    return False


def _ensure_metaid(doc: libsbml.SBMLDocument, model: libsbml.Model, sbase: libsbml.SBase) -> None:
    if sbase.isSetMetaId():
        return
    base = f"{model.getId()}.{sbase.getId()}"
    metaid, n = base, 1
    while doc.getElementByMetaId(metaid) is not None:
        n += 1
        metaid = f"{base}.{n}"
    _check(sbase.setMetaId(metaid), f"setting the metaid of {sbase.getId()}")


def annotate_semantics(doc: libsbml.SBMLDocument, rules: AnnotationRules) -> None:
    """Annotate what tools read, in the main model and every model definition of a comp document.

    The minute as 60 s (scale 0), the area and length units, an SBO role on every modifier (an
    explicit one in the source is kept), a GO process on every reaction (bqbiol:isVersionOf, by
    `rules`; an explicit is/isVersionOf is kept) and the compartments' annotations.
    """
    models = [doc.getModel()]
    plugin = doc.getPlugin("comp")
    if plugin is not None:
        models += [plugin.getModelDefinition(i) for i in range(plugin.getNumModelDefinitions())]
    for model in models:
        normalise_units(model)
        set_geometry_units(model)
        for reaction in model.getListOfReactions():
            for ref in reaction.getListOfModifiers():
                if not ref.isSetSBOTerm():
                    role = modifier_role(model, reaction, ref.getSpecies(), rules.catalysed)
                    _check(
                        ref.setSBOTerm(role), f"setting the role of {ref.getSpecies()} in {reaction.getId()}"
                    )
            if _has_identity(reaction):
                continue
            rule = next((r for r in rules.reactions if r.matches(model, reaction)), None)
            if rule is None:
                raise BcsignalError(
                    f"model {model.getId()}: no rule names the GO process of reaction {reaction.getId()} "
                    f"(SBO:{reaction.getSBOTerm():07d}); add one",
                    file=rules.path,
                )
            _ensure_metaid(doc, model, reaction)
            term = _cv(
                libsbml.BIOLOGICAL_QUALIFIER, libsbml.BQB_IS_VERSION_OF, [IDENTIFIERS_ORG.format(rule.go)]
            )
            _check(reaction.addCVTerm(term), f"annotating reaction {reaction.getId()}")
        for compartment in model.getListOfCompartments():
            spec = rules.compartments.get(compartment.getId())
            if spec is None:
                if _has_identity(compartment):
                    continue
                raise BcsignalError(
                    f"model {model.getId()}: compartment {compartment.getId()} has no annotation rule",
                    file=rules.path,
                )
            if "sbo" in spec and not compartment.isSetSBOTerm():
                _check(
                    compartment.setSBOTerm(int(spec["sbo"])), f"setting the SBO term of {compartment.getId()}"
                )
            if _has_identity(compartment):
                continue
            _ensure_metaid(doc, model, compartment)
            for name, qualifier in _QUALIFIERS.items():
                if spec.get(name):
                    uris = [IDENTIFIERS_ORG.format(t) for t in spec[name]]
                    term = _cv(libsbml.BIOLOGICAL_QUALIFIER, qualifier, uris)
                    _check(compartment.addCVTerm(term), f"annotating compartment {compartment.getId()}")
