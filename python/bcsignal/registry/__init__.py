"""The model registry: the one owner of the layout of ``models/`` and ``sbml/`` (`Registry`, `ModelEntry`)."""

from __future__ import annotations

from bcsignal.registry.entry import COMPOSITE, PAPER, ModelEntry
from bcsignal.registry.layout import Registry, current, default, entry, using

__all__ = ["COMPOSITE", "PAPER", "ModelEntry", "Registry", "current", "default", "entry", "using"]
