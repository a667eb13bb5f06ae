"""Re-export of `bcsignal.core.limits` for the modules not yet in a layer (exchange, copasi, crosscheck)."""

from bcsignal.core.limits import *  # noqa: F403
