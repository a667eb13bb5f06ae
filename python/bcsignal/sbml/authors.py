"""The authors file (CITATION.cff, Citation File Format 1.2): the package's authors, the models' creators."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bcsignal.core.errors import BcsignalError

#: The Citation File Format version the authors file is written in.
CFF_VERSION = "1.2.0"
_CFF_REQUIRED = ("cff-version", "message", "title", "authors")
_CFF_PERSON = {"given-names", "family-names", "name-particle", "name-suffix", "affiliation", "email", "orcid"}
_CFF_ENTITY = {"name", "email", "orcid", "website", "address", "city", "country"}
_ORCID = re.compile(r"^https://orcid\.org/[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{3}[0-9X]$")


@dataclass(frozen=True)
class Author:
    """One author of a CITATION.cff: a person (given and family names) or an entity (one name)."""

    given_name: str = ""
    family_name: str = ""
    name: str = ""
    organisation: str = ""
    email: str = ""
    orcid: str = ""

    @property
    def full_name(self) -> str:
        """Return the name as one string (``given family`` for a person)."""
        return self.name or f"{self.given_name} {self.family_name}".strip()


def _load_cff(path: Path) -> dict[str, Any]:
    """Return the mapping of a Citation File Format file; an unreadable file or another shape raises."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BcsignalError(f"cannot read the authors file: {exc}", file=path) from exc
    if not isinstance(data, dict):
        raise BcsignalError("a CITATION.cff is a mapping", file=path)
    return data


def read_keywords(path: Path) -> list[str]:
    """Read the keywords of a Citation File Format 1.2 file (none when it lists none)."""
    raw = _load_cff(path).get("keywords", [])
    if not isinstance(raw, list) or not all(isinstance(k, str) and k.strip() for k in raw):
        raise BcsignalError("`keywords` must be a list of non-empty strings", file=path)
    return [k.strip() for k in raw]


def read_authors(path: Path) -> list[Author]:
    """Read the authors of a Citation File Format 1.2 file, checking the fields CFF 1.2 requires."""
    data = _load_cff(path)
    missing = [key for key in _CFF_REQUIRED if key not in data]
    if missing:
        raise BcsignalError(f"CITATION.cff lacks the required keys {', '.join(missing)}", file=path)
    if str(data["cff-version"]) != CFF_VERSION:
        raise BcsignalError(f"cff-version must be {CFF_VERSION}, not {data['cff-version']!r}", file=path)
    raw = data["authors"]
    if not isinstance(raw, list) or not raw:
        raise BcsignalError("`authors` must be a non-empty list", file=path)
    authors = []
    for n, entry in enumerate(raw, start=1):
        where = f"author {n}"
        if not isinstance(entry, dict) or not all(isinstance(v, str) and v.strip() for v in entry.values()):
            raise BcsignalError(f"{where}: a mapping of non-empty strings", file=path)
        entity = "name" in entry
        allowed = _CFF_ENTITY if entity else _CFF_PERSON
        unknown = sorted(set(entry) - allowed)
        if unknown:
            raise BcsignalError(f"{where}: unknown fields {', '.join(unknown)}", file=path)
        if not entity and not ("family-names" in entry and "given-names" in entry):
            raise BcsignalError(f"{where}: a person needs given-names and family-names", file=path)
        if "orcid" in entry and not _ORCID.match(entry["orcid"]):
            raise BcsignalError(f"{where}: orcid must be https://orcid.org/XXXX-XXXX-XXXX-XXXX", file=path)
        authors.append(
            Author(
                given_name=entry.get("given-names", ""),
                family_name=entry.get("family-names", ""),
                name=entry.get("name", ""),
                organisation=entry.get("affiliation", ""),
                email=entry.get("email", ""),
                orcid=entry.get("orcid", ""),
            )
        )
    return authors


def creators_of(curation: Mapping[str, Any], authors: list[Author] | None) -> list[Author]:
    """Return a model's creators: the authors file's authors, when there is one.

    The authors file (CITATION.cff) is the one source of creators and takes precedence over a claims
    file's `curation: creators`, which is read only when no authors file is given (a claims file
    checked on its own).
    """
    if authors:
        return list(authors)
    return [
        Author(
            given_name=str(person.get("given_name", "")),
            family_name=str(person.get("family_name", "")),
            organisation=str(person.get("organisation", "")),
            email=str(person.get("email", "")),
        )
        for person in curation.get("creators", [])
    ]
