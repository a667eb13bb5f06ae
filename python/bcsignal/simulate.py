"""Re-export of `bcsignal.engine.simulate` for its public name and the exchange package's imports."""

from bcsignal.engine.simulate import *  # noqa: F403
from bcsignal.engine.trajectory import POINTS_PER_PHASE as POINTS_PER_PHASE
from bcsignal.engine.trajectory import Trajectory as Trajectory
