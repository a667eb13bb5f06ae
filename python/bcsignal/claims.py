"""Claims files and the claims engine, as one public module (`bcsignal.claims.parse_claims`, ...).

The parts live in their layers: `bcsignal.spec.claims` (the files), `bcsignal.engine.claims` (plans,
relations, results). This module re-exports them for users and for modules not yet placed in a layer.
"""

from __future__ import annotations

from bcsignal.engine.claims.evaluate import *  # noqa: F403
from bcsignal.engine.claims.plan import *  # noqa: F403
from bcsignal.engine.claims.plan import _cached_plan as _cached_plan
from bcsignal.engine.claims.results import *  # noqa: F403
from bcsignal.registry.papers import papers_of as papers_of
from bcsignal.registry.papers import title_of as title_of
from bcsignal.spec.claims import *  # noqa: F403
from bcsignal.spec.relations import *  # noqa: F403
