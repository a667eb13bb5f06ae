"""Parameter provenance tables (``models/<id>.parameters.tsv``): one checked row per parameter."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

from bcsignal.core.errors import BcsignalError

#: Columns of a parameter provenance table, in order.
PROVENANCE_COLUMNS = ("id", "value", "unit", "sbo", "source", "reference", "note")
#: Allowed values of the `source` column.
PROVENANCE_SOURCES = ("published_model", "paper", "literature", "chosen", "knob")


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
