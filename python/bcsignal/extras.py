"""Re-export of `bcsignal.core.extras` for the modules not yet in a layer (exchange, copasi, crosscheck)."""

from bcsignal.core.extras import *  # noqa: F403
