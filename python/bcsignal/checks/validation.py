"""Validation of SBML: every libsbml consistency category with strict units, plus bcsignal's own checks."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import libsbml
import roadrunner
import yaml

from bcsignal import registry
from bcsignal.core.errors import BcsignalError
from bcsignal.engine.simulate import STEADY_ATOL, STEADY_RTOL, new_simulator
from bcsignal.sbml.io import CATEGORIES as CATEGORIES
from bcsignal.sbml.io import Issue as Issue
from bcsignal.sbml.io import Report as Report
from bcsignal.sbml.io import Severity as Severity
from bcsignal.sbml.io import clean_message as clean_message
from bcsignal.sbml.io import libsbml_issues as libsbml_issues
from bcsignal.sbml.io import read_document as read_document
from bcsignal.sbml.io import valueless_symbols as valueless_symbols
from bcsignal.spec.claims import ClaimsFile
from bcsignal.spec.provenance import Provenance


def identifiers_org(namespace: str, local: str, *, embedded: bool = False) -> re.Pattern[str]:
    """Return the pattern of an identifiers.org URI, in its legacy and its current (compact) form.

    Legacy: ``http://identifiers.org/uniprot/P40763``; current: ``https://identifiers.org/uniprot:P40763``.
    For a namespace whose identifiers embed their prefix (``GO:0016310``, ``CHEBI:33699``), `local`
    includes the prefix and the current form is the bare identifier (``identifiers.org/GO:0016310``).
    """
    forms = [f"{re.escape(namespace)}/{local}"]
    forms.append(local if embedded else f"{re.escape(namespace)}:{local}")
    if embedded:
        forms.append(f"{re.escape(namespace)}:{local}")
    return re.compile(rf"^https?://identifiers\.org/(?:{'|'.join(forms)})$", re.IGNORECASE)


#: URI patterns accepted as a species identity (UniProt, ChEBI, miRBase), legacy or current form.
SPECIES_IDENTITIES = (
    identifiers_org("uniprot", r"[A-Z0-9]+(?:-[0-9]+)?"),
    identifiers_org("chebi", r"CHEBI:[0-9]+", embedded=True),
    identifiers_org("mirbase", r"MI[0-9]{7}"),
    identifiers_org("mirbase.mature", r"MIMAT[0-9]{7}"),
)
#: URI pattern of a GO term.
GO_TERM = identifiers_org("go", r"GO:[0-9]{7}", embedded=True)
#: URI pattern of a PSI-MOD term (protein modification).
PSIMOD_TERM = identifiers_org("psimod", r"MOD:[0-9]{5}", embedded=True)
#: URI patterns of a PubMed and a DOI reference.
PUBMED_REF = identifiers_org("pubmed", r"[0-9]+")
DOI_REF = identifiers_org("doi", r"10\.[0-9]{4,9}/\S+")


def is_species_identity(uri: str) -> bool:
    """Return whether a URI names a UniProt, ChEBI or miRBase entry (legacy or current form)."""
    return any(p.match(uri) for p in SPECIES_IDENTITIES)


#: SBO term of a non-covalent complex (species identified by hasPart).
SBO_COMPLEX = 253


def _resources(sbase: libsbml.SBase, qualifier: int) -> list[str]:
    uris = []
    for i in range(sbase.getNumCVTerms()):
        term = sbase.getCVTerm(i)
        if term.getQualifierType() != libsbml.BIOLOGICAL_QUALIFIER:
            continue
        if term.getBiologicalQualifierType() != qualifier:
            continue
        uris += [term.getResourceURI(j) for j in range(term.getNumResources())]
    return uris


def _model_resources(model: libsbml.Model, qualifier: int) -> list[str]:
    uris = []
    for i in range(model.getNumCVTerms()):
        term = model.getCVTerm(i)
        if term.getQualifierType() == libsbml.MODEL_QUALIFIER and term.getModelQualifierType() == qualifier:
            uris += [term.getResourceURI(j) for j in range(term.getNumResources())]
    return uris


def sanity_issues(model: libsbml.Model, *, units_required: bool = True) -> list[Issue]:
    """Check what libsbml does not: finite values, non-negative species, positive sizes, units.

    A parameter without a unit is an error when units are required (bcsignal's own models) and a
    warning otherwise.
    """
    issues = []

    def add(sbase: libsbml.SBase, message: str, severity: Severity = Severity.ERROR) -> None:
        issues.append(Issue(severity, "sanity", message, line=sbase.getLine() or None))

    if not (model.getNumSpecies() or model.getNumReactions() or model.getNumRules() or model.getNumEvents()):
        add(model, "the model is empty: no species, reactions, rules or events, so nothing changes over time")
    for c in model.getListOfCompartments():
        if c.isSetSize() and not (math.isfinite(c.getSize()) and c.getSize() > 0):
            add(c, f"compartment {c.getId()} has size {c.getSize()}; must be > 0")
    for s in model.getListOfSpecies():
        values = [s.getInitialConcentration()] if s.isSetInitialConcentration() else []
        values += [s.getInitialAmount()] if s.isSetInitialAmount() else []
        for value in values:
            if math.isnan(value):
                add(s, f"species {s.getId()} has a NaN initial value")
            elif not math.isfinite(value) or value < 0:
                add(s, f"species {s.getId()} starts at {value}; must be finite, >= 0")
    for p in model.getListOfParameters():
        if p.isSetValue() and not math.isfinite(p.getValue()):
            add(p, f"parameter {p.getId()} has value {p.getValue()}")
        if not p.isSetUnits():
            add(
                p,
                f"parameter {p.getId()} has no unit",
                Severity.ERROR if units_required else Severity.WARNING,
            )
    return issues


def valueless_issues(model: libsbml.Model) -> list[Issue]:
    """Report every symbol without a value as an error: no simulator may invent one."""
    return [
        Issue(Severity.ERROR, "sanity", f"{sid} has no value and no rule or initial assignment sets one")
        for sid in valueless_symbols(model)
    ]


def runtime_issues(rr: roadrunner.RoadRunner) -> list[Issue]:
    """Check the initial state a simulator computed: initial assignments may give NaN, Inf or negatives."""
    model = rr.model
    issues = []

    def bad(message: str) -> None:
        issues.append(Issue(Severity.ERROR, "initial state", message))

    species = [*model.getFloatingSpeciesIds(), *model.getBoundarySpeciesIds()]
    values = [*model.getFloatingSpeciesConcentrations(), *model.getBoundarySpeciesConcentrations()]
    for sid, value in zip(species, values, strict=True):
        if not math.isfinite(value) or value < 0:
            bad(f"species {sid} starts at {value}; must be finite and >= 0")
    for cid, size in zip(model.getCompartmentIds(), model.getCompartmentVolumes(), strict=True):
        if not (math.isfinite(size) and size > 0):
            bad(f"compartment {cid} has size {size} at t = 0; must be finite and > 0")
    for pid, value in zip(model.getGlobalParameterIds(), model.getGlobalParameterValues(), strict=True):
        if not math.isfinite(value):
            bad(f"parameter {pid} is {value} at t = 0")
    rates = model.getFloatingSpeciesConcentrationRates()
    for sid, rate in zip(model.getFloatingSpeciesIds(), rates, strict=True):
        if not math.isfinite(rate):
            bad(f"d{sid}/dt is {rate} at t = 0")
    return issues


def _is_phospho_form(model: libsbml.Model, species: libsbml.Species) -> bool:
    """Return whether a species is a phosphorylated form.

    By convention its id is ``p`` + the unmodified form's id: pSTAT3/STAT3, pp38/p38, and
    pIGF1R/IGF1R_free where the bare name is the total protein readout.
    """
    sid = species.getId()
    base = sid[1:]
    if not sid.startswith("p") or not base:
        return False
    known = model.getSpecies(base) is not None or model.getParameter(base) is not None
    return known or model.getSpecies(f"{base}_free") is not None


def _species_gaps(model: libsbml.Model) -> Iterator[str]:
    """Yield each species' annotation gap (`annotation_issues`)."""
    for s in model.getListOfSpecies():
        sid = s.getId()
        if not s.isSetSBOTerm() or not libsbml.SBO.isMaterialEntity(s.getSBOTerm()):
            yield f"species {sid}: SBO term must come from the material-entity branch"
        identity = [u for u in _resources(s, libsbml.BQB_IS) if is_species_identity(u)]
        parts = [u for u in _resources(s, libsbml.BQB_HAS_PART) if is_species_identity(u)]
        if not identity and not (s.getSBOTerm() == SBO_COMPLEX and len(parts) >= 2):
            yield f"species {sid}: no bqbiol:is UniProt/ChEBI/miRBase (or hasPart for a complex)"
        if _is_phospho_form(model, s):
            mods = [u for u in _resources(s, libsbml.BQB_HAS_VERSION) if PSIMOD_TERM.match(u)]
            if not mods:
                yield f"species {sid}: phosphorylated form without bqbiol:hasVersion PSI-MOD term"


def annotation_issues(model: libsbml.Model, phenotypes: Iterable[str] = ()) -> list[Issue]:
    """Check BioModels-grade annotation coverage; every gap is an error."""
    issues = []

    def gap(message: str) -> None:
        issues.append(Issue(Severity.ERROR, "annotation", message))

    described = _model_resources(model, libsbml.BQM_IS_DESCRIBED_BY)
    if not any(PUBMED_REF.match(u) for u in described):
        gap("model: no bqmodel:isDescribedBy PubMed reference")
    if not any(DOI_REF.match(u) for u in described):
        gap("model: no bqmodel:isDescribedBy DOI reference")
    history = model.getModelHistory() if model.isSetModelHistory() else None
    if history is None or history.getNumCreators() == 0:
        gap("model: no creator")
    if history is None or not history.isSetCreatedDate():
        gap("model: no created date")
    for message in _species_gaps(model):
        gap(message)
    for r in model.getListOfReactions():
        if not r.isSetSBOTerm():
            gap(f"reaction {r.getId()}: no SBO term")
        process = _resources(r, libsbml.BQB_IS) + _resources(r, libsbml.BQB_IS_VERSION_OF)
        if not any(GO_TERM.match(u) for u in process):
            gap(f"reaction {r.getId()}: no bqbiol:is/isVersionOf GO process")
        for ref in r.getListOfModifiers():
            if not ref.isSetSBOTerm() or not libsbml.SBO.isModifier(ref.getSBOTerm()):
                gap(f"reaction {r.getId()}: modifier {ref.getSpecies()} has no SBO modifier role")
    for c in model.getListOfCompartments():
        kinds = _resources(c, libsbml.BQB_IS) + _resources(c, libsbml.BQB_IS_VERSION_OF)
        if not any(GO_TERM.match(u) for u in kinds):
            gap(f"compartment {c.getId()}: no bqbiol:is/isVersionOf GO cellular component")
    rule_vars = {r.getVariable() for r in model.getListOfRules()}
    phenotypes = set(phenotypes)
    for p in model.getListOfParameters():
        pid = p.getId()
        if not p.isSetSBOTerm():
            gap(f"parameter {pid}: no SBO term")
        if pid in rule_vars and not p.getConstant():
            identity = _resources(p, libsbml.BQB_IS) + _resources(p, libsbml.BQB_IS_VERSION_OF)
            if not identity:
                gap(f"variable {pid}: no bqbiol:is/isVersionOf annotation")
        if pid in phenotypes:
            go = [
                u
                for u in _resources(p, libsbml.BQB_IS) + _resources(p, libsbml.BQB_IS_VERSION_OF)
                if GO_TERM.match(u)
            ]
            if not go:
                gap(f"phenotype readout {pid}: no GO term")
    return issues


def interface_vocabulary() -> dict[str, Any]:
    """Return the shared interface vocabulary of the registry in use (models/interface.yaml)."""
    return _vocabulary(registry.current().interface_file)


@cache
def _vocabulary(path: Path) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise BcsignalError(f"cannot read the interface vocabulary: {exc}", file=path) from exc
    return loaded


def interface_issues(model: libsbml.Model, claims: ClaimsFile) -> list[Issue]:
    """Check that the knobs and readouts a claims file declares exist with the shared meaning."""
    vocab = interface_vocabulary()
    issues = []
    for knob in claims.knobs:
        p = model.getParameter(knob)
        if p is None or not p.getConstant():
            issues.append(Issue(Severity.ERROR, "interface", f"knob {knob}: not a constant global parameter"))
            continue
        spec = vocab["knobs"].get(knob)
        if spec is None:
            issues.append(Issue(Severity.ERROR, "interface", f"knob {knob}: not in models/interface.yaml"))
            continue
        if p.getValue() != spec["default"]:
            issues.append(
                Issue(
                    Severity.ERROR,
                    "interface",
                    f"knob {knob}: default {p.getValue()} != {spec['default']}",
                )
            )
        if p.getUnits() != spec["unit"]:
            issues.append(
                Issue(Severity.ERROR, "interface", f"knob {knob}: unit {p.getUnits()} != {spec['unit']}")
            )
    for readout in claims.readouts:
        if model.getSpecies(readout) is None and model.getParameter(readout) is None:
            issues.append(
                Issue(Severity.ERROR, "interface", f"readout {readout}: no species or variable of that id")
            )
            continue
        spec = vocab["readouts"].get(readout)
        if spec is not None and spec["unit"] == "dimensionless":
            p = model.getParameter(readout)
            if p is None or p.getUnits() != "dimensionless":
                issues.append(
                    Issue(Severity.ERROR, "interface", f"readout {readout}: must be a dimensionless variable")
                )
    return issues


def provenance_issues(
    model: libsbml.Model, table: Mapping[str, Provenance], *, strict_rows: bool = True
) -> list[Issue]:
    """Check that the provenance table lists exactly the model's constant parameters, with their values."""
    issues = []
    constants = {p.getId(): p for p in model.getListOfParameters() if p.getConstant()}
    for pid, p in constants.items():
        row = table.get(pid)
        if row is None:
            issues.append(
                Issue(Severity.ERROR, "provenance", f"parameter {pid}: no row in the provenance table")
            )
            continue
        if not math.isclose(row.value, p.getValue(), rel_tol=1e-12, abs_tol=0.0):
            issues.append(
                Issue(
                    Severity.ERROR,
                    "provenance",
                    f"parameter {pid}: table says {row.value}, model {p.getValue()}",
                    line=row.line,
                )
            )
        if row.unit != p.getUnits():
            issues.append(
                Issue(
                    Severity.ERROR,
                    "provenance",
                    f"parameter {pid}: table unit {row.unit}, model {p.getUnits()}",
                    line=row.line,
                )
            )
        if p.isSetSBOTerm() and row.sbo and row.sbo != p.getSBOTermID():
            issues.append(
                Issue(
                    Severity.ERROR,
                    "provenance",
                    f"parameter {pid}: table SBO {row.sbo}, model {p.getSBOTermID()}",
                    line=row.line,
                )
            )
    for pid, row in table.items():
        if strict_rows and pid not in constants:
            issues.append(
                Issue(
                    Severity.ERROR,
                    "provenance",
                    f"row {pid}: not a constant parameter of the model",
                    line=row.line,
                )
            )
    return issues


def steady_state_issues(text: str, origin: str) -> list[Issue]:
    """Check that the unperturbed model starts at its steady state (every knob at its default)."""
    sim = new_simulator(text, name=origin, origin=origin)
    worst, which = sim.residual()
    if worst > 1.0:
        return [
            Issue(
                Severity.ERROR,
                "steady state",
                f"the initial state is not steady: d{which}/dt is {worst:.3g}x the tolerance "
                f"({STEADY_RTOL:g}*|x| + {STEADY_ATOL:g} per min); paste `bcsignal steady-state` output",
            )
        ]
    return []
