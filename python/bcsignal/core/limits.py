"""Every limit bcsignal puts on untrusted input and on simulation requests, with its default and setting."""

from __future__ import annotations

import math
import os

from bcsignal.core.errors import BcsignalError

#: Default largest model file or text accepted (bytes); override with BCSIGNAL_MAX_BYTES.
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
#: Default deepest XML element or Antimony bracket nesting accepted; override with BCSIGNAL_MAX_DEPTH.
DEFAULT_MAX_DEPTH = 100
#: Default most model components (SBML: elements inside a listOf; Antimony: statements) accepted before
#: any native parser runs; override with BCSIGNAL_MAX_ELEMENTS.
DEFAULT_MAX_ELEMENTS = 20_000
#: Default wall-clock limit of one isolated step (seconds); override with BCSIGNAL_TIMEOUT.
DEFAULT_TIMEOUT = 600.0
#: Default address space a child may add to what it inherits (MiB); override with BCSIGNAL_MAX_MEMORY.
DEFAULT_MEMORY_MIB = 4096
#: Smallest memory limit accepted (MiB): below it a child cannot even run Python.
MIN_MEMORY_MIB = 64
#: Largest YAML document accepted (bytes): a claims file is a few kilobytes.
MAX_YAML_BYTES = 1024 * 1024
#: Deepest YAML nesting of mappings and sequences accepted.
MAX_YAML_DEPTH = 32
#: Most YAML nodes (scalars, mappings, sequences) accepted.
MAX_YAML_NODES = 100_000
#: Most files one model may pull in through comp external definitions and Antimony imports.
MAX_REFERENCES = 64
#: Most members a COMBINE/OMEX archive may have.
MAX_ARCHIVE_MEMBERS = 256
#: Most bytes all members of an archive may inflate to together (each one: the model size limit).
MAX_ARCHIVE_BYTES = 100 * 1024 * 1024
#: Highest compression ratio accepted of an archive member larger than RATIO_FLOOR bytes.
MAX_COMPRESSION_RATIO = 100
#: Members up to this size (bytes) may have any compression ratio.
RATIO_FLOOR = 64 * 1024
#: Most samples one robustness run may ask for.
MAX_SAMPLES = 10_000_000
#: Largest standard deviation of a log-parameter in a robustness run.
MAX_SIGMA = 5.0
#: Most output points a simulation request may ask for.
MAX_POINTS = 1_000_000
#: Most values (points times columns) one time course may hold: 400 MB as float64.
MAX_VALUES = 50_000_000


def _env(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BcsignalError(f"environment variable {name}={raw!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise BcsignalError(f"environment variable {name}={raw!r} must be a positive finite number")
    return value


def _env_int(name: str, default: int) -> int:
    value = _env(name, default)
    if value != int(value):
        raise BcsignalError(f"environment variable {name}={os.environ[name]!r} is not an integer")
    return int(value)


def max_bytes() -> int:
    """Return the size limit in force (environment variable BCSIGNAL_MAX_BYTES, or the default)."""
    return _env_int("BCSIGNAL_MAX_BYTES", DEFAULT_MAX_BYTES)


def max_depth() -> int:
    """Return the nesting limit in force (environment variable BCSIGNAL_MAX_DEPTH, or the default)."""
    return _env_int("BCSIGNAL_MAX_DEPTH", DEFAULT_MAX_DEPTH)


def max_elements() -> int:
    """Return the component limit in force (BCSIGNAL_MAX_ELEMENTS, or the default)."""
    return _env_int("BCSIGNAL_MAX_ELEMENTS", DEFAULT_MAX_ELEMENTS)


def timeout_seconds() -> float:
    """Return the time limit in force (BCSIGNAL_TIMEOUT, seconds, or the default)."""
    return _env("BCSIGNAL_TIMEOUT", DEFAULT_TIMEOUT)


def memory_mib() -> int:
    """Return the memory limit in force (BCSIGNAL_MAX_MEMORY, MiB, >= MIN_MEMORY_MIB; or the default)."""
    value = _env_int("BCSIGNAL_MAX_MEMORY", DEFAULT_MEMORY_MIB)
    if value < MIN_MEMORY_MIB:
        raise BcsignalError(
            f"environment variable BCSIGNAL_MAX_MEMORY={os.environ['BCSIGNAL_MAX_MEMORY']!r} is below the "
            f"smallest memory limit, {MIN_MEMORY_MIB} MiB"
        )
    return value
