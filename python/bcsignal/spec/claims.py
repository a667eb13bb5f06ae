"""Claims files: the schema, the parsed form (`ClaimsFile`, `Claim`, `Cut`, `Experiment`) and its checks."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from bcsignal.core.errors import BcsignalError, schema_message
from bcsignal.core.limits import MAX_YAML_BYTES
from bcsignal.core.screen import YAML_LOADER, decode, read_bounded, screen_yaml
from bcsignal.spec.cuts import CUT_FIELDS, cuts_of, cuts_problem
from bcsignal.spec.cuts import Cut as Cut
from bcsignal.spec.protocol import Phase, Protocol
from bcsignal.spec.relations import DEFAULT_FOLD as DEFAULT_FOLD
from bcsignal.spec.relations import DEFAULT_ORDER_FOLD as DEFAULT_ORDER_FOLD
from bcsignal.spec.relations import DEFAULT_PEAK_FRACTION as DEFAULT_PEAK_FRACTION
from bcsignal.spec.relations import DEFAULT_RISE as DEFAULT_RISE
from bcsignal.spec.relations import DEFAULT_TOLERANCE as DEFAULT_TOLERANCE
from bcsignal.spec.relations import TIME_COURSE_RELATIONS as TIME_COURSE_RELATIONS
from bcsignal.spec.relations import TINY as TINY
from bcsignal.spec.relations import relation

#: The newest claims-file format this engine reads (format 1 files, with no mechanism, still load).
FORMAT_VERSION = 2
#: Claim fields that only format 2 accepts.
FORMAT_2_FIELDS = (*CUT_FIELDS, "mechanism_note", "independent_of_note", "kind", "sufficiency")


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------
@cache
def schema() -> dict[str, Any]:
    """Return the JSON schema of the claims format."""
    text = resources.files("bcsignal").joinpath("schemas/claims.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@dataclass(frozen=True)
class Experiment:
    """A named protocol of a claims file."""

    name: str
    protocol: Protocol
    description: str = ""


@dataclass(frozen=True)
class Claim:
    """One claim: a statement of the paper and the relation that encodes it."""

    id: str
    statement: str
    source: str
    relation: str
    readouts: tuple[str, ...]
    spec: Mapping[str, Any]
    prediction: bool = False
    composite_exception: str | None = None
    #: The cuts the claim must fail under to be certified (format 2); empty: no mechanism given.
    mechanism: tuple[Cut, ...] = ()
    #: The paper's words naming the mechanism.
    mechanism_note: str | None = None
    #: The cuts the claim must survive (still hold under) to be certified: edges it does not rest on.
    independent_of: tuple[Cut, ...] = ()
    #: The paper's words saying what the claim does not depend on.
    independent_of_note: str | None = None
    #: "finding", or "definition" (evaluated and shown, never counted as evidence).
    kind: str = "finding"
    #: The knobs the paper says are enough on their own (``alone``) and its words (``note``).
    sufficiency: Mapping[str, Any] | None = None

    @property
    def reference(self) -> str:
        """Return the experiment whose pre-equilibrated state gives clamp values: control or condition."""
        if "control" in self.spec:
            return str(self.spec["control"])
        if "condition" in self.spec:
            return str(self.spec["condition"])
        return str(self.spec["conditions"][0])

    def experiments(self) -> list[str]:
        """Return the names of the experiments this claim needs, in order (its relation says)."""
        return relation(self.relation, claim=self.id).experiments(self.spec)


def _no_line(_path: Sequence[Any]) -> int | None:
    return None


@dataclass(frozen=True)
class ClaimsFile:
    """A parsed and validated claims file."""

    path: Path
    model: str
    paper: Mapping[str, Any] | None
    composite: Mapping[str, Any] | None
    curation: Mapping[str, Any]
    knobs: tuple[str, ...]
    readouts: tuple[str, ...]
    experiments: Mapping[str, Experiment]
    claims: tuple[Claim, ...]
    #: The claims-file format (1: no mechanisms; 2: claims carry mechanism cuts).
    format: int = 1
    #: Maps a path in the document (``["interface", "knobs", 0]``) to its line.
    line_of: Callable[[Sequence[Any]], int | None] = field(default=_no_line, compare=False, repr=False)


class _YamlLines:
    """Maps a path in the document to its line (1-based); picklable (it keeps the text, not the nodes)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._root: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"text": self.text}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.text, self._root = state["text"], None

    def __call__(self, path: Sequence[Any]) -> int | None:
        if self._root is None:
            try:
                self._root = yaml.compose(self.text, Loader=YAML_LOADER)
            except yaml.YAMLError:
                self._root = False
        return None if self._root is False else _line(self._root, path)


def _yaml_lines(text: str) -> Callable[[Sequence[Any]], int | None]:
    """Return a function mapping a path in the document to its line (1-based)."""
    return _YamlLines(text)


def _line(root: Any, path: Sequence[Any]) -> int | None:
    node = root
    for key in path:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if k.value == key), None)
            if found is None:
                break
            node = found
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
    return None if node is None else int(node.start_mark.line) + 1


def _where(data: Any, path: Sequence[Any]) -> str:
    """Name the claim or experiment and the field a schema path points at."""
    parts = list(path)
    if len(parts) >= 2 and parts[0] == "claims" and isinstance(parts[1], int):
        claims = data.get("claims", []) if isinstance(data, dict) else []
        claim = claims[parts[1]] if parts[1] < len(claims) else {}
        name = claim.get("id", f"#{parts[1] + 1}") if isinstance(claim, dict) else f"#{parts[1] + 1}"
        rest = ".".join(str(p) for p in parts[2:])
        return f"claim {name}" + (f", field {rest}" if rest else "")
    if len(parts) >= 2 and parts[0] == "experiments":
        rest = ".".join(str(p) for p in parts[2:])
        return f"experiment {parts[1]}" + (f", field {rest}" if rest else "")
    return "field " + ".".join(str(p) for p in parts) if parts else "document"


def _non_finite(data: Any) -> list[Any] | None:
    """Return the path of the first number that is not finite (.inf, .nan), or None."""
    stack: list[tuple[list[Any], Any]] = [([], data)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            return path
        if isinstance(node, dict):
            stack.extend(([*path, k], v) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend(([*path, i], v) for i, v in reversed(list(enumerate(node))))
    return None


def parse_claims(text: str, *, origin: str | Path = "<string>") -> ClaimsFile:
    """Parse claims-file text, validate it against the schema and its own references.

    The text is screened first (size, nesting, node count, no aliases), so a hostile YAML file is
    rejected before it is built into Python objects.
    """
    screen_yaml(text, origin)
    try:
        data = yaml.load(text, Loader=YAML_LOADER)  # a safe loader (C or Python)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise BcsignalError(f"not valid YAML: {problem}", file=origin, line=line, tool="yaml") from exc
    line_of = _yaml_lines(text)
    bad = _non_finite(data)
    if bad is not None:
        raise BcsignalError(
            "not a finite number (.inf and .nan are not accepted)",
            file=origin,
            line=line_of(bad),
            tool="claims schema",
            where=_where(data, bad),
        )
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), list(map(str, e.path))))
    if errors:
        err = max(errors, key=lambda e: len(e.absolute_path))
        path = list(err.absolute_path)
        raise BcsignalError(
            schema_message(err.message, err.instance, str(err.validator)),
            file=origin,
            line=line_of(path),
            tool="claims schema",
            where=_where(data, path),
        )
    return _build(data, origin, line_of)


def load_claims(path: Path) -> ClaimsFile:
    """Read, parse and validate a claims file (its size is checked before it is read)."""
    path = Path(path)
    return parse_claims(decode(read_bounded(path, MAX_YAML_BYTES), path), origin=path)


def _build(
    data: dict[str, Any], origin: str | Path, line_of: Callable[[Sequence[Any]], int | None]
) -> ClaimsFile:
    knobs = tuple(data["interface"]["knobs"])
    readouts = tuple(data["interface"]["readouts"])

    def fail(message: str, path: Sequence[Any]) -> BcsignalError:
        return BcsignalError(
            message, file=origin, line=line_of(path), tool="claims", where=_where(data, path)
        )

    experiments: dict[str, Experiment] = {}
    for name, spec in data["experiments"].items():
        pre = dict(spec.get("preequilibration", {}))
        for knob in pre:
            if knob not in knobs:
                raise fail(
                    f"unknown knob {knob!r} (interface knobs: {', '.join(knobs)})",
                    ["experiments", name],
                )
        phases = []
        for i, ph in enumerate(spec["phases"]):
            for knob in ph.get("set", {}):
                if knob not in knobs:
                    raise fail(
                        f"unknown knob {knob!r} (interface knobs: {', '.join(knobs)})",
                        ["experiments", name, "phases", i, "set"],
                    )
            phases.append(
                Phase(
                    duration=float(ph["duration"]),
                    set=dict(ph.get("set", {})),
                    label=ph.get("label", ""),
                )
            )
        experiments[name] = Experiment(
            name=name,
            protocol=Protocol(phases=tuple(phases), preequilibration=pre),
            description=spec.get("description", ""),
        )

    claims: list[Claim] = []
    seen: set[str] = set()
    for i, c in enumerate(data["claims"]):
        path: list[Any] = ["claims", i]
        if c["id"] in seen:
            raise fail(f"duplicate claim id {c['id']!r}", [*path, "id"])
        seen.add(c["id"])
        for r in c["readouts"]:
            if r not in readouts:
                raise fail(
                    f"unknown readout {r!r} (interface readouts: {', '.join(readouts)})",
                    [*path, "readouts"],
                )
        if data["format"] == 1:
            newer = next((f for f in FORMAT_2_FIELDS if f in c), None)
            if newer is not None:
                raise fail(f"field {newer} needs claims format 2 (the file says format: 1)", [*path, newer])
        claim = Claim(
            id=c["id"],
            statement=c["statement"],
            source=c["source"],
            relation=c["relation"],
            readouts=tuple(c["readouts"]),
            spec={k: v for k, v in c.items() if k not in _CLAIM_META},
            prediction=bool(c.get("prediction", False)),
            composite_exception=c.get("composite_exception"),
            mechanism=cuts_of(c, "mechanism", path, line_of),
            mechanism_note=c.get("mechanism_note"),
            independent_of=cuts_of(c, "independent_of", path, line_of),
            independent_of_note=c.get("independent_of_note"),
            kind=c.get("kind", "finding"),
            sufficiency=c.get("sufficiency"),
        )
        for field_name in ("control", "perturbed", "condition", "conditions"):
            if field_name not in claim.spec:
                continue
            names = claim.spec[field_name] if field_name == "conditions" else [claim.spec[field_name]]
            for n in names:
                if n not in experiments:
                    raise fail(f"unknown experiment {n!r}", [*path, field_name])
        problem = _time_problem(claim, experiments)
        if problem:
            raise fail(problem, path)
        problem = _sufficiency_problem(claim, experiments, knobs)
        if problem:
            raise fail(problem, [*path, "sufficiency"])
        if (twice := cuts_problem(claim.mechanism, claim.independent_of)) is not None:
            raise fail(twice[0], [*path, *twice[1]])
        claims.append(claim)
    return ClaimsFile(
        path=Path(origin),
        model=data["model"],
        paper=data.get("paper"),
        composite=data.get("composite"),
        curation=data["curation"],
        knobs=knobs,
        readouts=readouts,
        experiments=experiments,
        claims=tuple(claims),
        format=int(data["format"]),
        line_of=line_of,
    )


_CLAIM_META = {
    "id",
    "statement",
    "source",
    "relation",
    "readouts",
    "prediction",
    "composite_exception",
    *FORMAT_2_FIELDS,
}


def _settings(experiment: Experiment) -> dict[str, tuple[Any, ...]]:
    """Return each knob an experiment sets: its pre-equilibration value and its value per phase."""
    protocol = experiment.protocol
    named = set(protocol.preequilibration).union(*(p.set for p in protocol.phases))
    return {k: (protocol.preequilibration.get(k), *(p.set.get(k) for p in protocol.phases)) for k in named}


def _sufficiency_problem(
    claim: Claim, experiments: Mapping[str, Experiment], knobs: Sequence[str]
) -> str | None:
    """Return why a claim's sufficiency does not describe its experiments, or None.

    ``alone`` must be exactly the knobs in which the perturbed experiment differs from the control
    (or, for a single-condition claim, the knobs its condition sets).
    """
    if claim.sufficiency is None:
        return None
    alone = set(claim.sufficiency["alone"])
    unknown = sorted(alone - set(knobs))
    if unknown:
        return f"unknown knob {unknown[0]!r} in alone (interface knobs: {', '.join(knobs)})"
    if "perturbed" in claim.spec:
        control = _settings(experiments[claim.spec["control"]])
        perturbed = _settings(experiments[claim.spec["perturbed"]])
        differ = {k for k in set(control) | set(perturbed) if control.get(k) != perturbed.get(k)}
        between = f"{claim.spec['perturbed']} and {claim.spec['control']}"
    elif "condition" in claim.spec:
        differ = set(_settings(experiments[claim.spec["condition"]]))
        between = f"{claim.spec['condition']} and the untreated cell"
    else:
        return "an ordering claim cannot state sufficiency (it has no single perturbation)"
    if differ != alone:
        return (
            f"alone lists {', '.join(sorted(alone))}, but {between} differ in "
            f"{', '.join(sorted(differ)) or 'no knob'}"
        )
    return None


def _time_problem(claim: Claim, experiments: Mapping[str, Experiment]) -> str | None:
    """Return what is impossible about a claim's times and thresholds, or None (its relation says)."""
    horizon = min(experiments[n].protocol.duration for n in claim.experiments())
    return relation(claim.relation, claim=claim.id).problem(claim.spec, horizon)
