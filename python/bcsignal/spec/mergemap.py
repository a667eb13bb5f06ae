"""Merge maps (``models/<id>.merge.yaml``): what a composite does with each paper element, and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bcsignal.core.errors import BcsignalError
from bcsignal.core.screen import screen_yaml

#: What can happen to a submodel element in a composite (`overridden`: given another value, `inst.x = v`).
ACTIONS = ("replaced", "shared", "deleted", "overridden")


@dataclass(frozen=True)
class MergeEntry:
    """One merge-map entry: elements, what happened to them, what they became and why."""

    elements: tuple[str, ...]
    action: str
    became: str | None
    why: str
    line: int | None
    override: str | None = None  # why the composite does not use the paper's value (replaced, deleted)


def _read(path: Path) -> tuple[Any, Any]:
    """Return a merge map's YAML node tree (for line numbers) and its data, the text screened first."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BcsignalError(f"cannot read the merge map: {exc}", file=path) from exc
    screen_yaml(text, path)
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader), yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BcsignalError(f"cannot read the merge map: {exc}", file=path) from exc


def load_merge_map(path: Path) -> list[MergeEntry]:
    """Read and check the form of a merge map."""
    root, data = _read(path)
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
    unknown = set(raw) - {"elements", "action", "became", "why", "override"}
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
    override = raw.get("override")
    if override is not None and (not isinstance(override, str) or len(override.strip()) < 10):
        raise fail("`override` must say, in a sentence, why the composite does not use the paper's value")
    return MergeEntry(
        tuple(elements),
        raw["action"],
        became,
        why.strip(),
        line,
        override.strip() if override is not None else None,
    )


def merge_index(entries: Sequence[MergeEntry]) -> dict[str, MergeEntry]:
    """Return ``instance.element`` -> its merge-map entry (what it became, and why)."""
    return {key: entry for entry in entries for key in entry.elements}


@dataclass(frozen=True)
class Crosstalk:
    """One crosstalk arrow of a composite: a modifier read in a reaction where two papers' mechanisms meet."""

    reaction: str  # flattened reaction id
    modifier: str  # flattened species id the rate law reads
    what: str
    pubmed: str
    doi: str
    line: int | None


def load_crosstalk(path: Path) -> list[Crosstalk]:
    """Read the `crosstalk:` list of a merge map: each arrow with its reaction, modifier and citation."""
    root, data = _read(path)
    raw = data.get("crosstalk", []) if isinstance(data, dict) else []
    nodes = next((v for k, v in root.value if k.value == "crosstalk"), None) if root is not None else None
    if not isinstance(raw, list):
        raise BcsignalError("`crosstalk` must be a list", file=path)
    found = []
    for n, item in enumerate(raw):
        line = nodes.value[n].start_mark.line + 1 if nodes is not None else None
        fields = ("reaction", "modifier", "what", "pubmed", "doi")
        if not isinstance(item, dict) or set(item) != set(fields):
            raise BcsignalError(f"a crosstalk entry has exactly {', '.join(fields)}", file=path, line=line)
        if not all(isinstance(item[f], str) and item[f].strip() for f in fields):
            raise BcsignalError("every crosstalk field is a non-empty string", file=path, line=line)
        if not item["pubmed"].isdigit() or not item["doi"].startswith("10."):
            raise BcsignalError(
                "a crosstalk citation is a PubMed id and a DOI (10.x/...)", file=path, line=line
            )
        found.append(
            Crosstalk(
                reaction=item["reaction"].strip(),
                modifier=item["modifier"].strip(),
                what=item["what"].strip(),
                pubmed=item["pubmed"].strip(),
                doi=item["doi"].strip(),
                line=line,
            )
        )
    return found
