"""Re-export of `bcsignal.core.isolate` for the modules not yet in a layer (exchange, copasi, crosscheck)."""

from bcsignal.core.isolate import *  # noqa: F403
