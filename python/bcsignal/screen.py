"""Re-export of `bcsignal.core.screen` for its public name and the exchange package's imports."""

from bcsignal.core.screen import *  # noqa: F403
