"""An experiment's protocol: pre-equilibrate with some knobs, then run phases that set knobs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Phase:
    """One step of a protocol: set some knobs, then integrate for a duration (minutes)."""

    duration: float
    set: Mapping[str, float] = field(default_factory=dict)
    label: str = ""


@dataclass(frozen=True)
class Protocol:
    """Pre-equilibrate with some knobs, then run phases one after the other."""

    phases: tuple[Phase, ...]
    preequilibration: Mapping[str, float] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        """Return the total duration of the phases (minutes)."""
        return sum(p.duration for p in self.phases)
