"""The `bcsignal` command line: build, validate, check, simulate, steady-state and models."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import bcsignal
from bcsignal import build, paths, usermodel
from bcsignal.claims import ClaimResult, load_claims, run_claims
from bcsignal.errors import BcsignalError, BcsignalWarning
from bcsignal.files import atomic_write_text
from bcsignal.limits import MAX_POINTS
from bcsignal.simulate import new_simulator, steady_state_lines
from bcsignal.timecourse import INTEGRATOR, Request, number, parse_assignment
from bcsignal.validate import Report, validate_file, validate_model

#: Exit code when a check fails (a claim, a validation, a stale build).
EXIT_FAILED = 1
#: Exit code for bad input or a tool failure.
EXIT_ERROR = 2


def _models(selected: Sequence[str]) -> list[str]:
    known = paths.model_ids()
    for mid in selected:
        if mid not in known:
            raise BcsignalError(f"unknown model id {mid!r}; known models: {', '.join(known)}")
    return list(selected) or known


def cmd_build(args: argparse.Namespace) -> int:
    """Build SBML from the Antimony sources, or check that sbml/ is up to date."""
    if args.check:
        if args.models:
            raise BcsignalError("--check always rebuilds every model; name no model")
        problems = build.check()
        for line in problems:
            print(line)
        if problems:
            print(
                f"sbml/ is out of date ({len(problems)} file(s)); run `bcsignal build`",
                file=sys.stderr,
            )
            return EXIT_FAILED
        print("sbml/ is up to date")
        return 0
    output = build.build_all(_models(args.models))
    for path in build.write(output, paths.sbml_dir()):
        print(f"wrote {path}")
    return 0


def _print_report(report: Report, strict: bool) -> None:
    status = "ok" if report.ok(strict) else "FAILED"
    print(f"{report.file}: {len(report.errors)} error(s), {len(report.warnings)} warning(s) — {status}")
    for issue in sorted(report.issues, key=lambda i: i.severity != "error"):
        print(f"  {issue}")


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate SBML or Antimony files (default: every shipped model, with interface and provenance checks).

    A shipped SBML file gets every check of the shipped models; any other file is a user's model,
    checked in an isolated child process.
    """
    reports: list[Report] = []
    if args.files:
        by_path = {paths.sbml_path(m).resolve(): m for m in paths.model_ids()}
        for f in args.files:
            path = Path(f)
            shipped = by_path.get(path.resolve())
            if shipped is not None:
                reports.append(validate_file(path, shipped))
            else:
                user = usermodel.ModelInput.from_file(path)
                reports.append(usermodel.validate(user, strict=args.strict, annotations=args.annotations))
    else:
        reports = [validate_model(m) for m in paths.model_ids()]
    for report in reports:
        _print_report(report, args.strict)
    return 0 if all(r.ok(args.strict) for r in reports) else EXIT_FAILED


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def print_results(results: Sequence[ClaimResult]) -> None:
    """Print one block per claim: conditions, values, observed, expected and pass/fail."""
    for res in results:
        tag = "PASS" if res.passed else "FAIL"
        kind = " (prediction)" if res.claim.prediction else ""
        print(f"[{tag}] {res.test_id}{kind}: {res.claim.relation}")
        for r in res.readouts:
            values = ", ".join(f"{k}={_fmt(v)}" for k, v in r.values.items())
            print(f"    {r.readout:<12} {values}")
            print(f"    {'':<12} observed {_fmt(r.observed)}; expected {r.expected}; margin {r.margin:+.3f}")


def _user_check(args: argparse.Namespace) -> list[ClaimResult]:
    """Check a claims file against one model: --model (an id or a file), or one model id."""
    if args.model is not None and args.models:
        raise BcsignalError("name the model either with --model or as an argument, not both")
    if args.model is None and len(args.models) != 1:
        raise BcsignalError("--claims needs one model: --model FILE_OR_ID")
    target = usermodel.from_argument(args.model if args.model is not None else args.models[0])
    if args.claims is None:
        if isinstance(target, str):
            return bcsignal.check(target)
        raise BcsignalError("a user's model needs a claims file: add --claims FILE", file=target.origin)
    return bcsignal.check(target, Path(args.claims), strict=args.strict)


def cmd_check(args: argparse.Namespace) -> int:
    """Simulate each model's claims and print a table; exit non-zero if any claim fails."""
    everything: list[ClaimResult] = []
    if args.model is not None or args.claims is not None:
        everything = _user_check(args)
        print_results(everything)
    else:
        for mid in _models(args.models):
            sbml = paths.sbml_path(mid)
            sim = new_simulator(sbml.read_text(encoding="utf-8"), name=mid, origin=sbml)
            results = run_claims(load_claims(paths.claims_path(mid)), sim, model=mid)
            print_results(results)
            everything += results
    passed = sum(r.passed for r in everything)
    print(f"{passed} passed, {len(everything) - passed} failed")
    if args.results:
        payload = {"format": 1, "claims": [r.to_json() for r in everything]}
        atomic_write_text(Path(args.results), json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return 0 if passed == len(everything) else EXIT_FAILED


def _points(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise BcsignalError(f"--points must be a whole number, got {text!r}") from None


def cmd_simulate(args: argparse.Namespace) -> int:
    """Simulate a model (a shipped id or a user's file) and write the time course as CSV."""
    values = dict(parse_assignment(a) for a in args.set)
    request = Request(
        until=number(args.until, "--until (end time)"),
        points=_points(args.points),
        values=values,
        integrator=args.integrator,
    ).checked()
    target = usermodel.from_argument(args.model)
    course = bcsignal.simulate(
        target, request.until, request.points, values=request.values, strict=args.strict
    )
    out = Path(args.out)
    atomic_write_text(out, course.to_csv())
    rows, columns = course.data.shape
    print(f"wrote {out} ({rows} time points x {columns} columns)")
    return 0


def cmd_steady_state(args: argparse.Namespace) -> int:
    """Print the unperturbed steady state of a model as Antimony lines to paste as initial values."""
    (mid,) = _models([args.model])
    source = paths.ant_path(mid)
    doc = build.antimony_to_sbml(source)
    sim = new_simulator(build.write_sbml_string(doc), name=mid, origin=source)
    print("\n".join(steady_state_lines(sim)))
    return 0


def cmd_models(_: argparse.Namespace) -> int:
    """List the model ids."""
    print("\n".join(paths.model_ids()))
    return 0


def parser() -> argparse.ArgumentParser:
    """Return the argument parser."""
    p = argparse.ArgumentParser(
        prog="bcsignal", description="Curated SBML models of breast-cancer signalling."
    )
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="Antimony sources -> sbml/*.xml")
    b.add_argument("models", nargs="*", help="model ids (default: all)")
    b.add_argument(
        "--check", action="store_true", help="rebuild in a temporary folder and compare with sbml/"
    )
    b.set_defaults(func=cmd_build)
    v = sub.add_parser("validate", help="libsbml consistency and bcsignal's checks of SBML or Antimony files")
    v.add_argument("files", nargs="*", help="SBML or Antimony files (default: every shipped model)")
    v.add_argument("--strict", action="store_true", help="treat warnings as failures")
    v.add_argument(
        "--annotations", action="store_true", help="also require BioModels-grade annotations in a user's file"
    )
    v.set_defaults(func=cmd_validate)
    c = sub.add_parser("check", help="simulate and evaluate every claim")
    c.add_argument("models", nargs="*", help="model ids (default: all)")
    c.add_argument("--model", metavar="MODEL_OR_FILE", help="a model id or a user's SBML/Antimony file")
    c.add_argument("--claims", metavar="FILE", help="a claims file to check against the model")
    c.add_argument("--strict", action="store_true", help="a user's model must pass with no warning")
    c.add_argument("--results", metavar="FILE", help="write machine-readable results (JSON)")
    c.set_defaults(func=cmd_check)
    r = sub.add_parser(
        "simulate", help="simulate a model (id or file) with CVODE and write a CSV time course"
    )
    r.add_argument("model", metavar="MODEL_OR_FILE", help="a model id or a user's SBML/Antimony file")
    r.add_argument("--until", required=True, metavar="T", help="end time (model time units, minutes here)")
    r.add_argument("--points", required=True, metavar="N", help=f"output points, 2 to {MAX_POINTS}")
    r.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="ID=VALUE",
        help="set a constant parameter, a species' initial concentration or a compartment size",
    )
    r.add_argument("--out", required=True, metavar="FILE", help="CSV file to write")
    r.add_argument("--integrator", default=INTEGRATOR, help="only cvode is offered")
    r.add_argument("--strict", action="store_true", help="a user's model must pass with no warning")
    r.set_defaults(func=cmd_simulate)
    s = sub.add_parser("steady-state", help="print a model's unperturbed steady state as Antimony")
    s.add_argument("model")
    s.set_defaults(func=cmd_steady_state)
    m = sub.add_parser("models", help="list the model ids")
    m.set_defaults(func=cmd_models)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; errors print one paragraph on stderr and exit with 2."""
    args = parser().parse_args(argv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BcsignalWarning)
        try:
            code: int = args.func(args)
        except BcsignalError as exc:
            code = EXIT_ERROR
            print(f"bcsignal: error: {' '.join(str(exc).split())}", file=sys.stderr)
    for warning in caught:
        if issubclass(warning.category, BcsignalWarning):
            print(f"bcsignal: warning: {' '.join(str(warning.message).split())}", file=sys.stderr)
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
