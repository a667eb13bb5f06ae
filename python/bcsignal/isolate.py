"""Re-export of `bcsignal.core.isolate` for its public name and the exchange package's imports."""

from bcsignal.core.isolate import *  # noqa: F403
