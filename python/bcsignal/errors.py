"""Re-export of `bcsignal.core.errors` for the modules not yet in a layer (exchange, copasi, crosscheck)."""

from bcsignal.core.errors import *  # noqa: F403
