"""Wall time of a cold `bcsignal check`: before mechanism cuts, now, and with cuts on every claim.

Run by `make bench-check`; writes its section of benchmarks/RESULTS.md (between the check-wall markers;
`make bench` keeps it). Each figure is the median of REPEATS fresh processes of the console command,
run from a copy of the project:

* before: the project at BEFORE (the commit before claims format 2), as it was;
* now: this checkout, with its claims files as they are (cuts only where claims name them);
* all cuts: this checkout with every claims file rewritten to format 2 and every claim given two
  generic cuts (delete a reaction that makes its first readout; clamp that readout wherever it is a
  modifier, or else set the first constant of that reaction to 0). The cuts are chosen
  mechanically to measure cost, not to certify anything.
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import libsbml
import yaml

from bcsignal import paths
from bcsignal.core.files import write_marked
from bcsignal.engine.certify import ModelIds
from bcsignal.spec.claims import load_claims

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
#: The last commit before claims format 2.
BEFORE = "7853183"
#: Fresh processes per configuration.
REPEATS = 5
START, END = "<!-- check-wall:start -->", "<!-- check-wall:end -->"


def copy_tree(dest: Path, commit: str | None) -> None:
    """Copy the project (a commit, or this checkout's files as they are) into dest."""
    dest.mkdir(parents=True)
    if commit is not None:
        archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
        return
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    for name in listed.stdout.splitlines():
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_bytes(source.read_bytes())


def generic_cuts(model_id: str, readout: str) -> list[dict[str, Any]]:
    """Return two valid cuts touching a claim's first readout in a paper model (for timing only)."""
    doc = libsbml.readSBMLFromFile(str(paths.sbml_path(model_id)))
    ids = ModelIds(doc.getModel())
    makers = [
        rid
        for rid, r in ids.reactions.items()
        if readout in {p.getSpecies() for p in r.getListOfProducts()} and r.getKineticLaw() is not None
    ]
    cuts: list[dict[str, Any]] = []
    if makers:
        cuts.append({"delete": {"reaction": makers[0]}})
    if (readout in ids.species or readout in ids.variables) and ids.sites(readout):
        cuts.append({"clamp": {"species": readout}})
    elif makers:
        law = ids.reactions[makers[0]].getKineticLaw()
        names = libsbml.formulaToL3String(law.getMath()).replace("(", " ").replace(")", " ").split()
        constant = next((n for n in names if n in ids.constants and n != "cell"), None)
        if constant is not None:
            cuts.append({"set": {"parameter": constant, "value": 0}})
    return cuts or [{"delete": {"reaction": next(iter(ids.reactions))}}]


def add_cuts(tree: Path) -> int:
    """Rewrite every paper claims file in a copied tree to format 2 with two cuts per claim."""
    count = 0
    for model_id in paths.model_ids():
        claims = load_claims(paths.claims_path(model_id))
        if claims.composite is not None:
            continue
        target = tree / "models" / f"{model_id}.claims.yaml"
        data = yaml.safe_load(target.read_text(encoding="utf-8"))
        data["format"] = 2
        for claim in data["claims"]:
            claim["mechanism"] = generic_cuts(model_id, claim["readouts"][0])
            count += len(claim["mechanism"])
        target.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return count


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wall(tree: Path) -> tuple[float, float, list[float], str]:
    """Return median wall and CPU times of `bcsignal check` in the tree, every wall time, its last lines."""
    env = {**os.environ, "PYTHONPATH": str(tree / "python")}
    code = "import sys; from bcsignal.app.cli import main; sys.exit(main(['check']))"
    times, cpus, last = [], [], ""
    for _ in range(REPEATS):
        began, cpu = time.perf_counter(), _children_cpu()
        done = subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - began)
        cpus.append(_children_cpu() - cpu)
        if done.returncode not in (0, 1):
            raise SystemExit(f"bcsignal check failed in {tree}:\n{done.stderr}")
        summary = [x for x in done.stdout.splitlines() if " passed, " in x or x.startswith("certificates:")]
        last = " / ".join(summary)
    return statistics.median(times), statistics.median(cpus), times, last


def section(rows: list[tuple[str, float, float, list[float], str]], cuts: int) -> str:
    """Return the RESULTS.md section."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        "## 6. `bcsignal check` with mechanism cuts",
        "",
        f"Written by `make bench-check` (`benchmarks/check_wall.py`) on {stamp}, load average {load} "
        f"(a shared 2-core machine). Wall time of a fresh process running `bcsignal check` on every model "
        f"(interpreter start, imports, compilation of each model and of its switchable copy, every claim "
        f"intact and under every cut); median of {REPEATS}. CPU time (user + system of the process) is "
        "less sensitive than wall time to the other processes on the machine.",
        "",
        "| configuration | wall, median (s) | CPU, median (s) | every wall time (s) | end of the output |",
        "|---|---:|---:|---|---|",
    ]
    for name, median, cpu, times, last in rows:
        runs = ", ".join(f"{t:.2f}" for t in times)
        lines.append(f"| {name} | {median:.2f} | {cpu:.2f} | {runs} | {last} |")
    lines += [
        "",
        f"- all cuts: {cuts} generic cuts on the paper claims (two per claim where the model allows), each "
        "evaluated against its paper model and, translated to flattened ids, against the composite; target "
        "< 10 s cold on 2 cores",
        "- on a loaded machine the wall time is the CPU time stretched by the other processes' share of the "
        "two cores; on a quiet one the two nearly agree",
    ]
    return "\n".join(lines)


def main() -> int:
    """Measure and write the section."""
    global REPEATS
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    args = parser.parse_args()
    REPEATS = args.repeats
    with tempfile.TemporaryDirectory(prefix="bcsignal-check-wall-") as tmp:
        before, now, cuts_tree = Path(tmp, "before"), Path(tmp, "now"), Path(tmp, "cuts")
        copy_tree(before, BEFORE)
        copy_tree(now, None)
        copy_tree(cuts_tree, None)
        cuts = add_cuts(cuts_tree)
        rows = []
        for name, tree in (
            (f"before (commit {BEFORE})", before),
            ("now (cuts as the claims files name them)", now),
            ("all cuts (two per paper claim)", cuts_tree),
        ):
            median, cpu, times, last = wall(tree)
            rows.append((name, median, cpu, times, last))
            print(f"{name}: {median:.2f} s wall, {cpu:.2f} s CPU ({last})")
    write_marked(RESULTS, START, END, section(rows, cuts))
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
