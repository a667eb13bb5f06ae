"""Re-export of `bcsignal.core.extras` for its public name and the exchange package's imports."""

from bcsignal.core.extras import *  # noqa: F403
