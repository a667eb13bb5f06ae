"""Fail when the running environment differs from a lock file: a missing, extra or other-version package."""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

#: A pinned requirement line of a lock (`name==version \`), as uv and pip-compile write them.
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")
#: Installed distributions that are not the lock's business: the installer and the project itself.
IGNORED = frozenset({"pip", "bcsignal"})


def canonical(name: str) -> str:
    """Return a distribution name in PEP 503 normal form."""
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(path: Path) -> dict[str, str]:
    """Return the pinned name -> version of a lock file."""
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            pins[canonical(match.group(1))] = match.group(2)
    return pins


def installed() -> dict[str, str]:
    """Return the installed name -> version of this interpreter's environment."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[canonical(name)] = dist.version
    return {name: version for name, version in found.items() if name not in IGNORED}


def differences(lock: dict[str, str], env: dict[str, str]) -> list[str]:
    """Return one line per package whose presence or version differs between lock and environment."""
    lines = []
    for name in sorted(lock.keys() | env.keys()):
        want, have = lock.get(name), env.get(name)
        if want == have:
            continue
        if have is None:
            lines.append(f"{name}: locked {want}, not installed")
        elif want is None:
            lines.append(f"{name}: installed {have}, not in the lock")
        else:
            lines.append(f"{name}: locked {want}, installed {have}")
    return lines


def main(argv: list[str]) -> int:
    """Compare the environment with the lock named on the command line; print differences, exit 1 if any."""
    if len(argv) != 1:
        print("usage: check_env.py LOCKFILE", file=sys.stderr)
        return 2
    path = Path(argv[0])
    problems = differences(locked(path), installed())
    for line in problems:
        print(f"{path}: {line}", file=sys.stderr)
    if problems:
        print(f"the environment differs from {path}: rebuild it with `rm -rf .venv && make venv`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
