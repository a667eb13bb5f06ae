"""Re-export of `bcsignal.sbml.annotate` for the modules not yet in a layer (exchange, copasi, crosscheck)."""

from bcsignal.sbml.annotate import *  # noqa: F403
