"""Re-export of `bcsignal.core.limits` for its public name and the exchange package's imports."""

from bcsignal.core.limits import *  # noqa: F403
