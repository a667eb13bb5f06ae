"""Each claimed experiment laid out as phases that start from states bcsignal computed.

A phase runs from the pre-equilibrated steady state (the first) or from the end of the phase
before (the next ones); each distinct phase start (its knobs and its state) becomes its own
SBML file in the archive (`state_sbml`). Titles and ids written into SED-ML are made plain here.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace

import libsbml
import numpy as np

from bcsignal.engine.claims.plan import claimed_experiments
from bcsignal.errors import BcsignalError
from bcsignal.simulate import POINTS_PER_PHASE, Simulator
from bcsignal.spec.claims import ClaimsFile, Experiment

#: Output intervals per phase (the Simulator's dense grid has POINTS_PER_PHASE points per phase).
INTERVALS_PER_PHASE = POINTS_PER_PHASE - 1
#: Significant digits of the initial values and knob values written.
DIGITS = 12
#: Longest plain title written (longer ones are cut at a word).
MAX_TITLE = 100

_SID = re.compile(r"[^A-Za-z0-9_]")
_UNSAFE = re.compile(r"[^A-Za-z0-9_ ,.;:()\[\]+\-*/=%]")


def to_sid(text: str) -> str:
    """Turn a name into an SId (letters, digits, underscores; not starting with a digit)."""
    sid = _SID.sub("_", text)
    return sid if sid and not sid[0].isdigit() else f"_{sid}"


def plain(text: str, limit: int = MAX_TITLE) -> str:
    """Return a title as plain ASCII without quotes, backslashes or markup, at most `limit` characters.

    Code generators paste SED-ML names into source code (tellurium writes them into Python
    string literals), so a name never carries a character that could end or escape a literal.
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = " ".join(_UNSAFE.sub(" ", ascii_text.replace("'", "")).split())
    if len(cleaned) <= limit:
        return cleaned
    cut = cleaned[: limit - 3].rsplit(" ", 1)[0]
    return f"{cut}..."


#: Initial values of a model: sorted (id, value) pairs of knobs and state variables.
State = tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class PhaseRun:
    """One phase of an experiment as a SED-ML model and task: its knobs and the state it starts from."""

    #: the id of the task that runs it (t1, t2, ...; shared by phases that run the same)
    task: str
    index: int
    start: float
    duration: float
    #: the value in effect of every knob any experiment sets, sorted by id
    knobs: State
    #: the value of every state variable at the phase's start, sorted by id
    state: State

    def initial_values(self) -> State:
        """Return the phase's start as initial values: its knobs and its state, sorted by id."""
        return tuple(sorted((*self.knobs, *self.state)))

    def local_times(self) -> np.ndarray:
        """Return the output times of the phase's time course (0 to its duration)."""
        return np.linspace(0.0, self.duration, INTERVALS_PER_PHASE + 1)

    def times(self) -> np.ndarray:
        """Return the protocol times of the phase's output rows."""
        return self.start + self.local_times()


@dataclass(frozen=True)
class Plan:
    """An experiment laid out as phases, each run from the state bcsignal computed for its start."""

    experiment: Experiment
    readouts: tuple[str, ...]
    phases: tuple[PhaseRun, ...]

    def times(self) -> np.ndarray:
        """Return the protocol time of every output row of every phase (boundaries appear twice)."""
        return np.concatenate([p.times() for p in self.phases])


def _rounded(value: float) -> float:
    return float(format(value, f".{DIGITS}g"))


def sbml_values(sbml: str) -> dict[str, float]:
    """Return the SBML's value of every species (initial concentration) and global parameter."""
    doc = libsbml.readSBMLFromString(sbml)
    model = doc.getModel()
    if model is None:
        raise BcsignalError("the SBML has no model", tool="libsbml")
    if model.getNumInitialAssignments():
        # an initial assignment overrides a changed initial value in every SED-ML tool
        raise BcsignalError("initial assignments cannot be encoded as SED-ML initial values", tool="libsbml")
    values: dict[str, float] = {}
    for s in model.getListOfSpecies():
        if not s.isSetInitialConcentration():
            raise BcsignalError(f"species {s.getId()} has no initial concentration", tool="libsbml")
        values[s.getId()] = float(s.getInitialConcentration())
    values.update({p.getId(): float(p.getValue()) for p in model.getListOfParameters()})
    return values


def _exact(values: Mapping[str, float]) -> tuple[tuple[str, float], ...]:
    out = []
    for sid, value in sorted(values.items()):
        if not math.isfinite(value):
            raise BcsignalError(f"{sid} is not finite at a phase start", where=sid)
        out.append((sid, _rounded(value)))
    return tuple(out)


def plan_experiments(claims: ClaimsFile, sim: Simulator, sbml: str) -> dict[str, Plan]:
    """Lay out every claimed experiment as phases, with the start state of each computed by `sim`.

    The first phase starts from the pre-equilibrated steady state of the experiment's cell line; each
    later one from the end of the phases before it, simulated by bcsignal exactly as a claim is.
    Tasks are numbered t1, t2, ... in order; phases of different experiments with the same start
    (knobs and state), protocol start time and duration are one task.
    """
    base = sbml_values(sbml)
    out = {}
    tasks: dict[tuple[State, float, float], str] = {}
    # every knob an experiment sets, at its value in effect, in every phase's model
    changed = sorted(
        {k for e in claims.experiments.values() for p in e.protocol.phases for k in p.set}
        | {k for e in claims.experiments.values() for k in e.protocol.preequilibration}
    )
    for name, (readouts, _) in claimed_experiments(claims).items():
        experiment = claims.experiments[name]
        protocol = experiment.protocol
        knobs = {k: base[k] for k in changed} | {k: float(v) for k, v in protocol.preequilibration.items()}
        runs = []
        start = 0.0
        for index, phase in enumerate(protocol.phases, start=1):
            if phase.duration <= 0:
                raise BcsignalError("every phase needs a positive duration", where=f"experiment {name}")
            if index == 1:
                sim.preequilibrate(knobs)
            else:
                sim.run(replace(protocol, phases=protocol.phases[: index - 1]), [], dense=True)
            state, _, ids = sim.derivatives()
            knobs.update({k: float(v) for k, v in phase.set.items()})
            run = PhaseRun(
                task=f"t{len(tasks) + 1}",
                index=index,
                start=start,
                duration=float(phase.duration),
                knobs=_exact(knobs),
                state=_exact(dict(zip(ids, (float(x) for x in state), strict=True))),
            )
            task = tasks.setdefault((run.initial_values(), run.start, run.duration), run.task)
            runs.append(replace(run, task=task))
            start += float(phase.duration)
        out[name] = Plan(experiment=experiment, readouts=tuple(readouts), phases=tuple(runs))
    return out


def state_locations(model_id: str, layout: Mapping[str, Plan]) -> dict[State, str]:
    """Name an archive member for every distinct phase start (`PhaseRun.initial_values`), in order of use."""
    out: dict[State, str] = {}
    for plan in layout.values():
        for run in plan.phases:
            if run.initial_values() not in out:
                out[run.initial_values()] = f"{model_id}_state{len(out) + 1}.xml"
    return out


def state_sbml(sbml: str, state: State) -> str:
    """Return the SBML (written by libsbml) with the initial values of `state` (knobs and state variables)."""
    doc = libsbml.readSBMLFromString(sbml)
    model = doc.getModel()
    if model is None:
        raise BcsignalError("the SBML has no model", tool="libsbml")
    for sid, value in state:
        species = model.getSpecies(sid)
        if species is not None:
            code = species.setInitialConcentration(value)
        elif model.getParameter(sid) is not None:
            code = model.getParameter(sid).setValue(value)
        else:
            raise BcsignalError(f"state variable {sid} is neither a species nor a parameter", tool="libsbml")
        if code != libsbml.LIBSBML_OPERATION_SUCCESS:
            raise BcsignalError(
                f"cannot set the initial value of {sid} (libsbml code {code})", tool="libsbml"
            )
    text: str = libsbml.writeSBMLToString(doc)
    return text
