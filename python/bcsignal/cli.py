"""The `bcsignal` command line: build, validate, check, export, crosscheck, report, steady-state, models."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from bcsignal import build, paths
from bcsignal.claims import ClaimResult, load_claims, run_claims
from bcsignal.errors import BcsignalError
from bcsignal.files import atomic_write_text
from bcsignal.simulate import new_simulator, steady_state_lines
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
    for issue in report.issues:
        print(f"  {issue}")


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate SBML files (default: every shipped model, with interface and provenance checks)."""
    reports: list[Report] = []
    if args.files:
        by_path = {paths.sbml_path(m).resolve(): m for m in paths.model_ids()}
        for f in args.files:
            path = Path(f)
            reports.append(validate_file(path, by_path.get(path.resolve())))
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


def cmd_check(args: argparse.Namespace) -> int:
    """Simulate each model's claims and print a table; exit non-zero if any claim fails."""
    everything: list[ClaimResult] = []
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


def cmd_export(args: argparse.Namespace) -> int:
    """Write one COMBINE/OMEX archive per model (SBML, SED-ML of every claimed experiment, metadata)."""
    from bcsignal import exchange

    folder = Path(args.out) if args.out else None
    for path in exchange.export(_models(args.models), folder):
        print(f"wrote {path}")
    return 0


def cmd_crosscheck(args: argparse.Namespace) -> int:
    """Simulate every claimed experiment with libroadrunner and COPASI and compare every output."""
    from bcsignal import crosscheck

    results = crosscheck.check(_models(args.models))
    print("\n".join(crosscheck.table(results)))
    print(crosscheck.summary(results))
    if args.results:
        payload = {"format": 1, "models": [r.to_json() for r in results]}
        atomic_write_text(Path(args.results), json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return 0 if all(r.passed for r in results) else EXIT_FAILED


def cmd_report(args: argparse.Namespace) -> int:
    """Write the curation report (an offline static site) for every model or the ones named."""
    from bcsignal import report

    index = report.build_report(
        _models(args.models), Path(args.out) if args.out else None, with_crosscheck=not args.no_crosscheck
    )
    print(f"wrote {index}")
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
    v = sub.add_parser("validate", help="libsbml consistency (strict units) and bcsignal's checks")
    v.add_argument("files", nargs="*", help="SBML files (default: every shipped model)")
    v.add_argument("--strict", action="store_true", help="treat warnings as failures")
    v.set_defaults(func=cmd_validate)
    c = sub.add_parser("check", help="simulate and evaluate every claim")
    c.add_argument("models", nargs="*", help="model ids (default: all)")
    c.add_argument("--results", metavar="FILE", help="write machine-readable results (JSON)")
    c.set_defaults(func=cmd_check)
    for name, func, summary, option, option_help in (
        (
            "export",
            cmd_export,
            "write build/omex/<model>.omex (SBML + SED-ML + metadata)",
            "--out",
            "folder for the archives (default: build/omex)",
        ),
        (
            "crosscheck",
            cmd_crosscheck,
            "compare libroadrunner and COPASI on every claimed experiment",
            "--results",
            "write machine-readable results (JSON)",
        ),
        (
            "report",
            cmd_report,
            "write the curation report, build/report/index.html",
            "--out",
            "folder for the site (default: build/report)",
        ),
    ):
        command = sub.add_parser(name, help=summary)
        command.add_argument("models", nargs="*", help="model ids (default: all)")
        command.add_argument(option, metavar="FILE" if option == "--results" else "DIR", help=option_help)
        command.set_defaults(func=func)
        if name == "report":
            command.add_argument(
                "--no-crosscheck", action="store_true", help="leave out the COPASI comparison"
            )
    s = sub.add_parser("steady-state", help="print a model's unperturbed steady state as Antimony")
    s.add_argument("model")
    s.set_defaults(func=cmd_steady_state)
    m = sub.add_parser("models", help="list the model ids")
    m.set_defaults(func=cmd_models)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; errors print one paragraph on stderr and exit with 2."""
    args = parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except BcsignalError as exc:
        print(f"bcsignal: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
