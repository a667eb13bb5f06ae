"""Re-export of `bcsignal.core.files` for its public name and the exchange package's imports."""

from bcsignal.core.files import *  # noqa: F403
