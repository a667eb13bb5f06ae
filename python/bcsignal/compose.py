"""Composite models: submodel instances, comp links, the merge map and its completeness, merged provenance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libsbml
import yaml

from bcsignal import paths
from bcsignal.annotate import Provenance, read_provenance
from bcsignal.errors import BcsignalError

#: Suffix of a composite's merge map, next to its Antimony source.
MERGE_SUFFIX = ".merge.yaml"
#: What can happen to a submodel element in a composite.
ACTIONS = ("replaced", "shared", "deleted")


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
class MergeEntry:
    """One merge-map entry: elements, what happened to them, what they became and why."""

    elements: tuple[str, ...]
    action: str
    became: str | None
    why: str
    line: int | None


def is_composite(doc: libsbml.SBMLDocument) -> bool:
    """Return whether a document's main model instantiates submodels."""
    plugin = doc.getModel().getPlugin("comp") if doc.getModel() is not None else None
    return plugin is not None and plugin.getNumSubmodels() > 0


def instances(doc: libsbml.SBMLDocument) -> dict[str, str]:
    """Return submodel instance id -> model definition id (== paper model id)."""
    plugin = doc.getModel().getPlugin("comp")
    return {sub.getId(): sub.getModelRef() for sub in plugin.getListOfSubmodels()}


def links(doc: libsbml.SBMLDocument) -> list[Link]:
    """Return every replacement and deletion of a comp document's main model."""
    model = doc.getModel()
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


def merge_map_path(model_id: str) -> Path:
    """Return the merge map of a composite model."""
    return paths.models_dir() / f"{model_id}{MERGE_SUFFIX}"


def load_merge_map(path: Path) -> list[MergeEntry]:
    """Read and check the form of a merge map."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BcsignalError(f"cannot read the merge map: {exc}", file=path) from exc
    if not isinstance(data, dict) or data.get("format") != 1 or not isinstance(data.get("entries"), list):
        raise BcsignalError("a merge map is a mapping with `format: 1` and a list `entries`", file=path)
    nodes = next((v for k, v in root.value if k.value == "entries"), None) if root is not None else None
    entries = []
    for n, raw in enumerate(data["entries"]):
        line = nodes.value[n].start_mark.line + 1 if nodes is not None else None
        entries.append(_entry(raw, path, line))
    return entries


def _entry(raw: Any, path: Path, line: int | None) -> MergeEntry:
    def fail(cause: str) -> BcsignalError:
        return BcsignalError(cause, file=path, line=line, where="merge map entry")

    if not isinstance(raw, dict):
        raise fail("each entry is a mapping")
    unknown = set(raw) - {"elements", "action", "became", "why"}
    if unknown:
        raise fail(f"unknown fields {', '.join(sorted(unknown))}")
    elements = raw.get("elements")
    if not isinstance(elements, list) or not elements or not all(isinstance(e, str) for e in elements):
        raise fail("`elements` must be a non-empty list of `instance.element` strings")
    if raw.get("action") not in ACTIONS:
        raise fail(f"`action` must be one of {', '.join(ACTIONS)}")
    why = raw.get("why")
    if not isinstance(why, str) or len(why.strip()) < 10:
        raise fail("`why` must say why, in a sentence")
    became = raw.get("became")
    if raw["action"] == "deleted":
        if not isinstance(became, str):
            raise fail("a deleted element names the composite element that took over its role in `became`")
    elif not isinstance(became, str):
        raise fail("`became` must name the composite element")
    return MergeEntry(tuple(elements), raw["action"], became, why.strip(), line)


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
    for key in sorted(set(listed) - set(actual)):
        problems.append(f"{key}: in the merge map but not {listed[key].action} in the composite")
    return problems


def merged_provenance(model_id: str, doc: libsbml.SBMLDocument) -> dict[str, Provenance]:
    """Return provenance by flattened parameter id.

    Submodel rows come prefixed ``instance__``; then the composite's own table adds its top-level
    parameters and overrides of submodel values.
    """
    table: dict[str, Provenance] = {}
    for inst, sub in instances(doc).items():
        for pid, row in read_provenance(paths.parameters_path(sub)).items():
            table[f"{inst}__{pid}"] = row
    table.update(read_provenance(paths.parameters_path(model_id)))
    return table


def merge_map_rows(model_id: str, doc: libsbml.SBMLDocument) -> list[dict[str, str]]:
    """Return the merge map as rows for people: element, model, action, became, why."""
    models = instances(doc)
    rows: list[dict[str, str]] = []
    for entry in load_merge_map(merge_map_path(model_id)):
        for key in entry.elements:
            inst = key.split(".", 1)[0]
            rows.append(
                {
                    "element": key,
                    "model": models.get(inst, "?"),
                    "action": entry.action,
                    "became": entry.became or "",
                    "why": entry.why,
                }
            )
    return rows
