"""Re-export of `bcsignal.engine.simulate` for the modules not yet in a layer (exchange, crosscheck)."""

from bcsignal.engine.simulate import *  # noqa: F403
from bcsignal.engine.trajectory import POINTS_PER_PHASE as POINTS_PER_PHASE
from bcsignal.engine.trajectory import Trajectory as Trajectory
