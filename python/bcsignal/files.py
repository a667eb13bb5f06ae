"""Re-export of `bcsignal.core.files` for the modules not yet in a layer (exchange, copasi, crosscheck)."""

from bcsignal.core.files import *  # noqa: F403
