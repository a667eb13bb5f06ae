"""Re-export of `bcsignal.sbml.annotate` for its public name and the exchange package's imports."""

from bcsignal.sbml.annotate import *  # noqa: F403
