"""Re-export of `bcsignal.core.screen` for the modules not yet in a layer (exchange, copasi, crosscheck)."""

from bcsignal.core.screen import *  # noqa: F403
