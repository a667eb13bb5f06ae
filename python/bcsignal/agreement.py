"""Re-export of `bcsignal.core.agreement` (the one agreement metric and its tolerances), its public name."""

from bcsignal.core.agreement import *  # noqa: F403
