"""Re-export of `bcsignal.engine.copasi` (the COPASI adapter), its public name."""

from bcsignal.engine.copasi import *  # noqa: F403
