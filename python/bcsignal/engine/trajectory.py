"""Trajectories and output grids: what a protocol's simulation returns, and at which times."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bcsignal.core.errors import BcsignalError

#: Output points per phase of a protocol (observation times are added to these).
POINTS_PER_PHASE = 241


@dataclass
class Trajectory:
    """Readouts of one experiment over time; time 0 is the start of the first phase."""

    times: np.ndarray
    values: dict[str, np.ndarray]
    #: How the pre-equilibrated state was found: NEWTON or INTEGRATION ("" for none recorded).
    preequilibration: str = ""

    def at(self, readout: str, time: float) -> float:
        """Return a readout at a time on the output grid (observation times are always on it)."""
        index = int(np.argmin(np.abs(self.times - time)))
        if not math.isclose(float(self.times[index]), time, rel_tol=1e-9, abs_tol=1e-9):
            raise BcsignalError(f"time {time} is not on the output grid")
        return float(self.values[readout][index])

    def end(self, readout: str) -> float:
        """Return a readout at the end of the protocol."""
        return float(self.values[readout][-1])


def phase_grid(start: float, duration: float, observe: Iterable[float], *, dense: bool) -> tuple[float, ...]:
    """Return the output times of a phase, in protocol time.

    They are the phase's start and end, the observation times inside it and, with ``dense``,
    POINTS_PER_PHASE evenly spaced points.
    """
    inside = tuple(sorted({float(t) for t in observe if start < t < start + duration}))
    return _grid(float(start), float(duration), inside, dense)


@lru_cache(maxsize=1024)
def _grid(start: float, duration: float, inside: tuple[float, ...], dense: bool) -> tuple[float, ...]:
    grid = np.linspace(start, start + duration, POINTS_PER_PHASE if dense else 2)
    return tuple(np.unique(np.concatenate([grid, inside])).tolist())


#: A set of parameter or knob values as a hashable key: sorted (id, value) pairs.
ValuesKey = tuple[tuple[str, float], ...]
#: A model state: time, floating-species concentrations and the values of rate-rule variables.
State = tuple[float, np.ndarray, list[float]]


def values_key(values: Mapping[str, float]) -> ValuesKey:
    """Return a hashable key of a set of parameter values."""
    return tuple(sorted((k, float(v)) for k, v in values.items()))
