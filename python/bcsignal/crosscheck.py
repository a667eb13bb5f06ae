"""Re-export of `bcsignal.app.crosscheck` (libroadrunner against COPASI), its public name."""

from bcsignal.app.crosscheck import *  # noqa: F403
