"""Composite models: submodel instances, comp links, the merge map and its completeness, merged provenance."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libsbml

from bcsignal.core.errors import BcsignalError
from bcsignal.registry import ModelEntry
from bcsignal.spec.mergemap import ACTIONS as ACTIONS
from bcsignal.spec.mergemap import Crosstalk as Crosstalk
from bcsignal.spec.mergemap import MergeEntry as MergeEntry
from bcsignal.spec.mergemap import load_crosstalk as load_crosstalk
from bcsignal.spec.mergemap import load_merge_map as load_merge_map
from bcsignal.spec.mergemap import merge_index as merge_index
from bcsignal.spec.provenance import Provenance

#: Relative difference above which a composite value is not the paper's value.
SAME_VALUE_RTOL = 1e-9


@dataclass(frozen=True)
class Link:
    """One comp link: a submodel element replaced by, replacing, or deleted from the composite."""

    instance: str
    element: str
    action: str  # replaced: the top-level element replaces it; shared: it replaces the top-level one
    became: str | None  # the top-level id it is merged into (None when deleted)

    @property
    def key(self) -> str:
        """Return ``instance.element``."""
        return f"{self.instance}.{self.element}"


@dataclass(frozen=True)
class Override:
    """A paper parameter whose published value the composite does not use, and the merge map's reason."""

    element: str  # instance.element
    model: str  # the paper model id
    paper_value: float
    became: str | None  # the composite id that carries the value instead (None: nothing does)
    value: float | None  # the composite's value (None when the parameter is deleted)
    how: str  # "replaced" (a top-level parameter of another value), "overridden" (inst.x = v), "deleted"
    why: str | None  # the merge map's reason (None when it gives none)

    def to_json(self) -> dict[str, Any]:
        """Return the override as a JSON-ready mapping (for the report and results files)."""
        return {
            "element": self.element,
            "model": self.model,
            "paper_value": self.paper_value,
            "became": self.became,
            "value": self.value,
            "how": self.how,
            "why": self.why,
        }


def is_composite(doc: libsbml.SBMLDocument) -> bool:
    """Return whether a document's main model instantiates submodels."""
    plugin = doc.getModel().getPlugin("comp") if doc.getModel() is not None else None
    return plugin is not None and plugin.getNumSubmodels() > 0


def instances(doc: libsbml.SBMLDocument) -> dict[str, str]:
    """Return submodel instance id -> model definition id (== paper model id)."""
    plugin = doc.getModel().getPlugin("comp")
    return {sub.getId(): sub.getModelRef() for sub in plugin.getListOfSubmodels()}


def override_id(instance: str, element: str) -> str:
    """Return the top-level id of a value override of ``instance.element`` in the comp document.

    It is Antimony's own name for the element (``instance_element``); it must not start with
    ``instance__``, or libsbml's flattening would rename the whole instance to avoid a clash.
    """
    return f"{instance}_{element}"


def flat_id(instance: str, element: str) -> str:
    """Return the id libsbml's flattening gives a submodel element (``instance__element``)."""
    return f"{instance}__{element}"


def overrides(doc: libsbml.SBMLDocument) -> dict[str, tuple[str, str]]:
    """Return the value overrides of a comp document: top-level id -> (instance, element)."""
    found: dict[str, tuple[str, str]] = {}
    model = doc.getModel()
    for container in (model.getListOfCompartments(), model.getListOfSpecies(), model.getListOfParameters()):
        for element in container:
            plugin = element.getPlugin("comp")
            replaced = plugin.getListOfReplacedElements() if plugin is not None else None
            for rep in replaced if replaced is not None else ():
                if element.getId() == override_id(rep.getSubmodelRef(), _target(rep)):
                    found[element.getId()] = (rep.getSubmodelRef(), _target(rep))
    return found


def rename_overrides(flat: libsbml.SBMLDocument, comp: libsbml.SBMLDocument) -> None:
    """Give the flattened copy of each value override its flattened id ``instance__element``."""
    model = flat.getModel()
    elements = model.getListOfAllElements()
    for old, (inst, sid) in overrides(comp).items():
        new = flat_id(inst, sid)
        if model.getElementBySId(new) is not None:
            raise BcsignalError(f"cannot rename the override {old}: {new} exists", tool="libsbml")
        target = model.getElementBySId(old)
        if target is None:
            continue
        target.setId(new)
        for i in range(elements.getSize()):
            elements.get(i).renameSIdRefs(old, new)


def _value(element: libsbml.SBase) -> float | None:
    """Return the initial value an element declares (size, value or initial concentration/amount)."""
    if isinstance(element, libsbml.Species):
        if element.isSetInitialConcentration():
            return float(element.getInitialConcentration())
        return float(element.getInitialAmount()) if element.isSetInitialAmount() else None
    if isinstance(element, libsbml.Parameter):
        return float(element.getValue()) if element.isSetValue() else None
    if isinstance(element, libsbml.Compartment):
        return float(element.getSize()) if element.isSetSize() else None
    return None


def _set_value(element: libsbml.SBase, value: float) -> None:
    if isinstance(element, libsbml.Species):
        if element.isSetInitialAmount() and not element.isSetInitialConcentration():
            element.setInitialAmount(value)
        else:
            element.setInitialConcentration(value)
    elif isinstance(element, libsbml.Parameter):
        element.setValue(value)
    else:
        element.setSize(value)


def _units_of(element: libsbml.SBase) -> list[str]:
    if isinstance(element, libsbml.Species):
        return [element.getSubstanceUnits()] if element.isSetSubstanceUnits() else []
    return [element.getUnits()] if element.isSetUnits() else []


def carry_value_overrides(comp: libsbml.SBMLDocument, antimony_flat: str, source: str | Path) -> list[str]:
    """Write into a comp document the submodel values its Antimony source sets (``inst.x = value``).

    Antimony keeps such values only in its own flattening (ids ``inst_x``) and drops them from the comp
    export. Each one becomes a top-level copy of the element with the new value, id ``inst_x``, that
    replaces ``inst.x``: the comp and the flattened documents then hold the same values (the flattened
    copy is renamed ``inst__x`` by `rename_overrides`). Returns the ids of the overrides.
    """
    flat = libsbml.readSBMLFromString(antimony_flat)
    if flat.getModel() is None:
        raise BcsignalError("Antimony gave no flattened model", file=source, tool="antimony")
    top = comp.getModel()
    plugin = comp.getPlugin("comp")
    added: list[str] = []
    for inst, model_ref in instances(comp).items():
        definition = plugin.getModelDefinition(model_ref)
        if definition is None:
            raise BcsignalError(f"submodel {inst}: no internal model definition {model_ref}", file=source)
        containers = (
            (definition.getListOfCompartments(), top.addCompartment),
            (definition.getListOfSpecies(), top.addSpecies),
            (definition.getListOfParameters(), top.addParameter),
        )
        for elements, add in containers:
            for element in elements:
                sid = element.getId()
                mine = flat.getModel().getElementBySId(f"{inst}_{sid}")
                if mine is None:
                    continue  # replaced by a top-level element, or deleted
                wanted, declared = _value(mine), _value(element)
                if wanted is None or wanted == declared:
                    continue
                if top.getElementBySId(override_id(inst, sid)) is not None:
                    raise BcsignalError(
                        f"the main model defines {override_id(inst, sid)}, the name of the override of "
                        f"{inst}.{sid}; rename it",
                        file=source,
                    )
                for unit in _units_of(element):
                    if _builtin(unit):
                        continue
                    mine_def, theirs = top.getUnitDefinition(unit), definition.getUnitDefinition(unit)
                    if mine_def is None or not libsbml.UnitDefinition.areEquivalent(mine_def, theirs):
                        raise BcsignalError(
                            f"{inst}.{sid} = {wanted:g} needs the unit {unit} declared in the main model "
                            f"as in {model_ref}",
                            file=source,
                        )
                copy = element.clone()
                copy.setId(override_id(inst, sid))
                copy.setMetaId(f"{top.getId()}.{override_id(inst, sid)}")
                _set_value(copy, wanted)
                if add(copy) != libsbml.LIBSBML_OPERATION_SUCCESS:
                    raise BcsignalError(
                        f"cannot add the override of {inst}.{sid}", file=source, tool="libsbml"
                    )
                placed = top.getElementBySId(override_id(inst, sid))
                replaced = placed.getPlugin("comp").createReplacedElement()
                replaced.setSubmodelRef(inst)
                replaced.setIdRef(sid)
                added.append(override_id(inst, sid))
    return added


def _builtin(unit: str) -> bool:
    return bool(libsbml.UnitKind_isValidUnitKindString(unit, 3, 2))


def links(doc: libsbml.SBMLDocument) -> list[Link]:
    """Return every replacement and deletion of a comp document's main model.

    A value override (`carry_value_overrides`) is not a merge and is not listed.
    """
    model = doc.getModel()
    skip = overrides(doc)
    found: list[Link] = []
    for sub in model.getPlugin("comp").getListOfSubmodels():
        for deletion in sub.getListOfDeletions():
            found.append(Link(sub.getId(), _target(deletion), "deleted", None))
    elements = model.getListOfAllElements()
    for i in range(elements.getSize()):
        element = elements.get(i)
        plugin = element.getPlugin("comp")
        if plugin is None or not hasattr(plugin, "getListOfReplacedElements"):
            continue
        top = element.getId() if element.isSetId() else None
        if top is None:
            continue
        replaced = plugin.getListOfReplacedElements()
        for j in range(replaced.size() if replaced is not None else 0):
            rep = replaced.get(j)
            if top in skip:
                continue
            found.append(Link(rep.getSubmodelRef(), _target(rep), "replaced", top))
        if plugin.isSetReplacedBy():
            by = plugin.getReplacedBy()
            found.append(Link(by.getSubmodelRef(), _target(by), "shared", top))
    return sorted(found, key=lambda link: (link.instance, link.element, link.action))


def _target(ref: libsbml.SBaseRef) -> str:
    for getter in ("getIdRef", "getUnitRef", "getPortRef", "getMetaIdRef"):
        value = getattr(ref, getter)()
        if value:
            return str(value)
    return "?"


def _differs(a: float, b: float) -> bool:
    return abs(a - b) > SAME_VALUE_RTOL * max(abs(a), abs(b))


def value_overrides(doc: libsbml.SBMLDocument, entries: Sequence[MergeEntry] = ()) -> list[Override]:
    """Return every paper parameter value the composite does not use as published.

    Three kinds: a paper parameter replaced by a top-level parameter of another value; a value set with
    ``inst.x = v`` (`carry_value_overrides`); a paper parameter deleted (its value is used nowhere;
    the shared-core knobs a merged step takes over are not counted, their value being the same knob's).
    Each carries the reason of its merge-map entry: the entry's `why` for ``overridden`` entries, its
    ``override`` field for replaced and deleted elements.
    """
    plugin = doc.getPlugin("comp")
    models = instances(doc)
    top = doc.getModel()
    index = merge_index(entries)
    found: list[Override] = []

    def paper_parameter(inst: str, sid: str) -> libsbml.Parameter | None:
        definition = plugin.getModelDefinition(models.get(inst, ""))
        return definition.getParameter(sid) if definition is not None else None

    def reason(key: str, how: str) -> str | None:
        entry = index.get(key)
        if entry is None:
            return None
        return entry.why if how == "overridden" else entry.override

    for link in links(doc):
        param = paper_parameter(link.instance, link.element)
        if param is None or not param.isSetValue() or not param.getConstant():
            continue  # not a parameter, or a variable (its value is a state, not a constant)
        if link.action == "replaced" and link.became is not None:
            mine = top.getParameter(link.became)
            if mine is None or not mine.isSetValue() or not _differs(mine.getValue(), param.getValue()):
                continue
            value: float | None = mine.getValue()
        elif link.action == "deleted":
            if param.getValue() == 0.0 or top.getParameter(link.element) is not None:
                continue  # a knob at its default whose top-level namesake acts on the merged step
            value = None
        else:
            continue
        became = (
            link.became
            if link.action == "replaced"
            else (index[link.key].became if link.key in index else None)
        )
        found.append(
            Override(
                link.key,
                models[link.instance],
                param.getValue(),
                became,
                value,
                link.action,
                reason(link.key, link.action),
            )
        )
    for oid, (inst, sid) in overrides(doc).items():
        param = paper_parameter(inst, sid)
        mine = top.getParameter(oid)
        if param is None or mine is None or not param.isSetValue():
            continue
        key = f"{inst}.{sid}"
        found.append(
            Override(
                key,
                models[inst],
                param.getValue(),
                flat_id(inst, sid),
                mine.getValue(),
                "overridden",
                reason(key, "overridden"),
            )
        )
    return sorted(found, key=lambda o: o.element)


def merge_map_problems(doc: libsbml.SBMLDocument, entries: list[MergeEntry]) -> list[str]:
    """Compare a merge map with the comp document: every link listed once, nothing listed that is not."""
    actual = {link.key: link for link in links(doc)}
    listed: dict[str, MergeEntry] = {}
    problems = []
    for entry in entries:
        for key in entry.elements:
            if key in listed:
                problems.append(f"{key}: listed twice in the merge map")
            listed[key] = entry
    for key, link in actual.items():
        found = listed.get(key)
        if found is None:
            problems.append(f"{key}: {link.action} in the composite but missing from the merge map")
        elif found.action != link.action:
            problems.append(f"{key}: the merge map says {found.action}, the composite has it {link.action}")
        elif link.became is not None and found.became != link.became:
            problems.append(
                f"{key}: the merge map says it became {found.became}, the composite {link.became}"
            )
    overridden = {f"{inst}.{sid}" for inst, sid in overrides(doc).values()}
    for key in sorted(set(listed) - set(actual)):
        if listed[key].action == "overridden" and key in overridden:
            continue
        problems.append(f"{key}: in the merge map but not {listed[key].action} in the composite")
    for item in value_overrides(doc, entries):
        if item.why is None:
            problems.append(
                f"{item.element}: the composite does not use the paper's value {item.paper_value:g} "
                f"({item.how}); the merge map gives no reason (`override:` or an `overridden` entry)"
            )
    return problems


def merged_provenance(entry: ModelEntry, doc: libsbml.SBMLDocument) -> dict[str, Provenance]:
    """Return provenance by flattened parameter id.

    Submodel rows come prefixed ``instance__``; then the composite's own table adds its top-level
    parameters and overrides of submodel values.
    """
    table: dict[str, Provenance] = {}
    for inst, sub in instances(doc).items():
        for pid, row in entry.registry.entry(sub).provenance.items():
            table[f"{inst}__{pid}"] = row
    table.update(entry.provenance)
    return table


def top_provenance(entry: ModelEntry, doc: libsbml.SBMLDocument) -> dict[str, Provenance]:
    """Return provenance by top-level parameter id of a comp document.

    The composite's own rows for its top-level parameters, and for each value override ``inst_x`` the
    row of its flattened id ``inst__x``.
    """
    own = entry.provenance
    table = {k: v for k, v in own.items() if "__" not in k}
    for oid, (inst, sid) in overrides(doc).items():
        row = own.get(flat_id(inst, sid))
        if row is not None:
            table[oid] = row
    return table


def merge_map_rows(entry: ModelEntry, doc: libsbml.SBMLDocument) -> list[dict[str, str]]:
    """Return a composite's merge map as rows for people: element, model, action, became, why."""
    models = instances(doc)
    rows: list[dict[str, str]] = []
    for item in entry.merge_map:
        for key in item.elements:
            inst = key.split(".", 1)[0]
            rows.append(
                {
                    "element": key,
                    "model": models.get(inst, "?"),
                    "action": item.action,
                    "became": item.became or "",
                    "why": item.why,
                }
            )
    return rows


def shipped_overrides(entry: ModelEntry) -> list[Override] | None:
    """Return the value overrides of a built composite (None for a paper model).

    Read from its comp SBML file and its merge map; `bcsignal check` prints their number and the
    report can list them (`override_rows`).
    """
    comp_file, merge_file = entry.comp_sbml, entry.merge_map_file
    if comp_file is None or merge_file is None or not comp_file.is_file() or not merge_file.is_file():
        return None
    doc = libsbml.readSBMLFromFile(str(comp_file))
    if doc.getModel() is None or not is_composite(doc):
        return None
    return value_overrides(doc, entry.merge_map)


def override_rows(entry: ModelEntry) -> list[dict[str, str]]:
    """Return a composite's value overrides as rows for people: element, model, paper, composite, how, why."""
    rows = []
    for item in shipped_overrides(entry) or []:
        rows.append(
            {
                "element": item.element,
                "model": item.model,
                "paper": f"{item.paper_value:g}",
                "composite": "" if item.value is None else f"{item.value:g}",
                "became": item.became or "",
                "how": item.how,
                "why": item.why or "",
            }
        )
    return rows


def override_lines(entry: ModelEntry) -> list[str]:
    """Return the lines `bcsignal check` prints for a composite: the override count, then one per override."""
    found = shipped_overrides(entry)
    if found is None:
        return []
    lines = [f"overrides of paper values in {entry.id}: {len(found)}"]
    for item in found:
        now = "deleted" if item.value is None else f"{item.value:g}"
        lines.append(
            f"  {item.element} ({item.model}): {item.paper_value:g} -> {now} [{item.how}]: {item.why or '?'}"
        )
    return lines
