"""Re-export of `bcsignal.core.errors` for its public name and the exchange package's imports."""

from bcsignal.core.errors import *  # noqa: F403
