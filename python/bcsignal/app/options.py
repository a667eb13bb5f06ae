"""The command line's options: one function per command adds its arguments, each showing its default."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any

import bcsignal
from bcsignal.analysis import robustness
from bcsignal.core.limits import MAX_POINTS
from bcsignal.engine.timecourse import CSV_PRECISION, INTEGRATOR

#: Adds a command: `command(name, summary, quiet=..., json_help=..., models=...)` -> its parser.
CommandMaker = Callable[..., Any]


#: Distributions whose versions `bcsignal --version` reports, with the names it shows.
TOOL_DISTRIBUTIONS = (
    ("libroadrunner", "libroadrunner"),
    ("python-libsbml", "libsbml"),
    ("antimony", "antimony"),
    ("python-copasi", "COPASI"),
)


def version_text() -> str:
    """Return the versions of bcsignal and of the installed simulators, read from package metadata."""
    parts = [f"bcsignal {bcsignal.__version__}"]
    for distribution, shown in TOOL_DISTRIBUTIONS:
        try:
            parts.append(f"{shown} {metadata.version(distribution)}")
        except metadata.PackageNotFoundError:
            if shown != "COPASI":  # optional: the exchange extra
                parts.append(f"{shown} not installed")
    return "\n".join(parts)


class _Version(argparse.Action):
    """Print the versions on one line each and exit (argparse's own action re-wraps the text)."""

    def __call__(
        self, p: argparse.ArgumentParser, ns: argparse.Namespace, values: object, option: str | None = None
    ) -> None:
        print(version_text())
        p.exit()


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Show every argument's default after its help: ``(default: 0.3)``, ``(default: off)`` for a flag.

    An argument whose default is not a plain value (None, an empty list) says what it defaults to in its
    own help text, as ``(default: ...)``.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.required or action.default is argparse.SUPPRESS:
            return text
        if action.default is None or action.default == []:
            return text
        if action.default is False and action.nargs == 0:
            return f"{text} (default: off)"
        return f"{text} (default: %(default)s)"


def _results_option(command: argparse.ArgumentParser) -> None:
    """Give a command the --results option (check, crosscheck)."""
    command.add_argument(
        "--results", metavar="FILE", help="write machine-readable results (JSON) (default: none written)"
    )


def parser(handlers: Mapping[str, Callable[[argparse.Namespace], int]]) -> argparse.ArgumentParser:
    """Return the argument parser, each command run by its handler: every argument shows its default."""
    p = argparse.ArgumentParser(
        prog="bcsignal",
        description="Curated SBML models of breast-cancer signalling.",
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "--version",
        action=_Version,
        nargs=0,
        help="show the versions of bcsignal and its simulators, and exit",
    )
    sub = p.add_subparsers(
        dest="command",
        required=True,
        metavar="COMMAND",
        help="what to do; `bcsignal COMMAND --help` lists its arguments and their defaults",
    )

    def command(
        name: str, summary: str, *, quiet: bool = True, json_help: str | None = None, models: bool = False
    ) -> Any:
        """Add a command; `models` gives it the positional model ids (default: every shipped model)."""
        made = sub.add_parser(name, help=summary, description=summary, formatter_class=HelpFormatter)
        if quiet:
            made.add_argument(
                "-q", "--quiet", action="store_true", help="print only errors and the final verdict"
            )
        if json_help:
            made.add_argument("--json", action="store_true", help=json_help)
        if models:
            made.add_argument("models", nargs="*", help="model ids (default: every shipped model)")
        made.set_defaults(func=handlers[name])
        return made

    _build_command(command)
    _validate_command(command)
    _check_command(command)
    _export_command(command)
    _crosscheck_command(command)
    _report_command(command)
    _simulate_command(command)
    _steady_state_command(command)
    _merge_map_command(command)
    _robustness_command(command)
    _models_command(command)
    return p


def _build_command(command: CommandMaker) -> None:
    """Add `bcsignal build`."""
    b = command("build", "Antimony sources -> sbml/*.xml", models=True)
    b.add_argument(
        "--check", action="store_true", help="rebuild in a temporary folder and compare with sbml/"
    )
    b.add_argument(
        "--out",
        metavar="DIR",
        help="write the SBML into DIR (default: the checkout's sbml/; required from an installed package)",
    )


def _validate_command(command: CommandMaker) -> None:
    """Add `bcsignal validate`."""
    v = command(
        "validate",
        "libsbml consistency and bcsignal's checks of SBML or Antimony files",
        json_help="print the reports as JSON on stdout",
    )
    v.add_argument("files", nargs="*", help="SBML or Antimony files (default: every shipped model)")
    v.add_argument("--strict", action="store_true", help="treat warnings as failures")
    v.add_argument(
        "--annotations", action="store_true", help="also require BioModels-grade annotations in a user's file"
    )


def _check_command(command: CommandMaker) -> None:
    """Add `bcsignal check`."""
    c = command(
        "check",
        "simulate and evaluate every claim",
        json_help="print the results as JSON on stdout (what --results writes) instead of the table",
        models=True,
    )
    c.add_argument(
        "--model",
        metavar="MODEL_OR_FILE",
        help="a model id or a user's SBML/Antimony file (default: the models named as arguments)",
    )
    c.add_argument(
        "--claims",
        metavar="FILE",
        help="a claims file to check against the model (default: a shipped model's own claims)",
    )
    c.add_argument(
        "--strict",
        action="store_true",
        help="fail unless every claim that is not a definition is certified by its mechanism "
        "(and a user's model must pass with no warning)",
    )
    _results_option(c)


def _export_command(command: CommandMaker) -> None:
    """Add `bcsignal export`."""
    e = command("export", "write build/omex/<model>.omex (SBML + SED-ML + metadata)", models=True)
    e.add_argument("--out", metavar="DIR", help="folder for the archives (default: build/omex)")


def _crosscheck_command(command: CommandMaker) -> None:
    """Add `bcsignal crosscheck`."""
    x = command(
        "crosscheck",
        "compare libroadrunner and COPASI on every claimed experiment",
        json_help="print the comparison as JSON on stdout instead of the table",
        models=True,
    )
    _results_option(x)


def _report_command(command: CommandMaker) -> None:
    """Add `bcsignal report`."""
    rep = command("report", "write the curation report, build/report/index.html", models=True)
    rep.add_argument("--out", metavar="DIR", help="folder for the site (default: build/report)")
    rep.add_argument("--no-crosscheck", action="store_true", help="leave out the COPASI comparison")


def _simulate_command(command: CommandMaker) -> None:
    """Add `bcsignal simulate`."""
    r = command("simulate", "simulate a model (id or file) with CVODE and write a CSV time course")
    r.add_argument("model", metavar="MODEL_OR_FILE", help="a model id or a user's SBML/Antimony file")
    r.add_argument("--until", required=True, metavar="T", help="end time (model time units, minutes here)")
    r.add_argument("--points", required=True, metavar="N", help=f"output points, 2 to {MAX_POINTS}")
    r.add_argument("--start", type=float, default=0.0, metavar="T0", help="start time of the output")
    r.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="ID=VALUE",
        help="set a constant parameter, a species' initial concentration or a compartment size; "
        "repeat for more (default: the model's values)",
    )
    r.add_argument(
        "--select",
        action="append",
        default=[],
        metavar="ID",
        help="a column to write: a libroadrunner selection such as time, S, [S] or a parameter; repeat "
        "for more (default: time, every species' concentration, every rule variable)",
    )
    r.add_argument("--out", required=True, metavar="FILE", help="CSV file to write")
    r.add_argument(
        "--precision", type=int, default=CSV_PRECISION, metavar="DIGITS", help="significant digits per value"
    )
    r.add_argument("--integrator", default=INTEGRATOR, help="only cvode is offered")
    r.add_argument("--strict", action="store_true", help="a user's model must pass with no warning")


def _steady_state_command(command: CommandMaker) -> None:
    """Add `bcsignal steady-state`."""
    s = command(
        "steady-state",
        "print a model's unperturbed steady state as Antimony",
        quiet=False,
        json_help="print {id: value} as JSON instead of Antimony lines",
    )
    s.add_argument("model", help="a shipped model id")


def _merge_map_command(command: CommandMaker) -> None:
    """Add `bcsignal merge-map`."""
    mm = command("merge-map", "show a composite's merge map", quiet=False)
    mm.add_argument("model", nargs="?", help="composite model id (default: the first composite)")


def _robustness_command(command: CommandMaker) -> None:
    """Add `bcsignal robustness`."""
    r = command(
        "robustness",
        "how robustly each claim holds when the kinetic parameters are sampled (local or Dask)",
        json_help="print the summary as JSON on stdout instead of the table",
    )
    r.add_argument("model", help="a shipped model id")
    r.add_argument("--samples", type=int, default=robustness.DEFAULT_SAMPLES, help="number of samples")
    r.add_argument(
        "--sigma",
        type=float,
        default=robustness.DEFAULT_SIGMA,
        help="standard deviation of each log-parameter",
    )
    r.add_argument("--seed", type=int, default=robustness.DEFAULT_SEED, help="seed of the sample generator")
    r.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="an existing Dask scheduler, tcp://host:port (default: none; a local cluster or this process)",
    )
    r.add_argument(
        "--workers",
        type=int,
        help="local worker processes (default: one per core; 0 = in this process, "
        f"the default for at most {robustness.IN_PROCESS_MAX_SAMPLES} samples)",
    )
    r.add_argument(
        "--out", metavar="DIR", help="output folder (default: build/robustness/MODEL); reused to resume"
    )
    r.add_argument(
        "--fix",
        action="append",
        default=[],
        metavar="PARAM",
        help="hold a parameter at its value; repeat for more (default: none held beyond knobs and units)",
    )
    r.add_argument("--chunk-size", type=int, help="samples per task (default: automatic)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar (it shows only on a terminal)")


def _models_command(command: CommandMaker) -> None:
    """Add `bcsignal models`."""
    command("models", "list the model ids", quiet=False, json_help="print the ids as a JSON list")
