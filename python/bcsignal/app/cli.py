"""The `bcsignal` command line: build, validate, simulate, check, exchange, report, robustness, composites."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import bcsignal
from bcsignal import api, registry
from bcsignal.analysis import robustness
from bcsignal.analysis.robustness import RunResult
from bcsignal.app import options, usermodel
from bcsignal.checks.tasks import validate_file, validate_model
from bcsignal.checks.validation import Report, Severity, read_document
from bcsignal.core.errors import BcsignalError, BcsignalWarning
from bcsignal.core.extras import require
from bcsignal.core.files import atomic_write_text
from bcsignal.core.progress import Activity
from bcsignal.core.screen import read_screened
from bcsignal.engine import certify
from bcsignal.engine.claims.results import ClaimResult
from bcsignal.engine.run import run_model
from bcsignal.engine.simulate import new_simulator, steady_state_lines
from bcsignal.engine.timecourse import parse_assignment
from bcsignal.registry import ModelEntry
from bcsignal.sbml import build, compose
from bcsignal.spec.claims import load_claims

#: Exit code when a check fails (a claim, a validation, a stale build).
EXIT_FAILED = 1
#: Exit code for bad input or a tool failure.
EXIT_ERROR = 2
#: Exit code when the user interrupts a long run (as a shell reports SIGINT).
EXIT_INTERRUPTED = 130
#: Format of the JSON `check --results` writes (3: each claim records how its experiments
#: were pre-equilibrated, `preequilibration`).
RESULTS_FORMAT = 3
#: Exit status when the reader of stdout went away (`bcsignal check --json | head`): 128 + SIGPIPE.
EXIT_BROKEN_PIPE = 141


def _models(selected: Sequence[str]) -> list[ModelEntry]:
    """Return the registry entries named on the command line (default: every model)."""
    return registry.current().entries(tuple(selected))


def cmd_build(args: argparse.Namespace) -> int:
    """Build SBML from the Antimony sources, or check that sbml/ is up to date."""
    if args.out is not None and args.check:
        raise BcsignalError("--check compares with the shipped sbml/; it takes no --out")
    if args.check:
        if args.models:
            raise BcsignalError("--check always rebuilds every model; name no model")
        problems = build.stale_files()
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
    reg = registry.current()
    if args.out is None and not reg.writable:
        raise BcsignalError(
            "bcsignal build writes the sbml/ folder of a checkout; an installed package's SBML is read-only: "
            "name an output folder with --out DIR"
        )
    folder = reg.sbml_dir if args.out is None else Path(args.out)
    output = build.build_all(_models(args.models))
    for path in build.write(output, folder):
        _say(args, f"wrote {path}")
    return 0


def _say(args: argparse.Namespace, line: str) -> None:
    """Print a line of a command's narration, unless --quiet."""
    if not getattr(args, "quiet", False):
        print(line)


def _progress(args: argparse.Namespace, message: str) -> Activity:
    """Return a progress line for a long step: shown on a terminal only, never with --quiet or --json."""
    return Activity(message, enabled=not getattr(args, "quiet", False) and not getattr(args, "json", False))


def _print_report(report: Report, strict: bool) -> None:
    status = "ok" if report.ok(strict) else "FAILED"
    print(f"{report.file}: {len(report.errors)} error(s), {len(report.warnings)} warning(s) — {status}")
    for issue in sorted(report.issues, key=lambda i: i.severity != Severity.ERROR):
        print(f"  {issue}")


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate SBML or Antimony files (default: every shipped model, with interface and provenance checks).

    A shipped SBML file gets every check of the shipped models; any other file is a user's model,
    checked in an isolated child process.
    """
    reports: list[Report] = []
    if args.files:
        for f in args.files:
            path = Path(f)
            shipped = registry.current().by_sbml(path)
            if shipped is not None:
                reports.append(validate_file(path, shipped))
            else:
                user = usermodel.ModelInput.from_file(path)
                reports.append(usermodel.validate(user, strict=args.strict, annotations=args.annotations))
    else:
        reports = [r for entry in registry.current().entries() for r in validate_model(entry)]
    if args.json:
        payload = [
            {
                "file": str(r.file),
                "ok": r.ok(args.strict),
                "errors": len(r.errors),
                "warnings": len(r.warnings),
                "issues": [{"severity": i.severity, "message": str(i)} for i in r.issues],
            }
            for r in reports
        ]
        print(json.dumps(payload, indent=2))
    else:
        for report in reports:
            if not args.quiet or not report.ok(args.strict):
                _print_report(report, args.strict)
    return 0 if all(r.ok(args.strict) for r in reports) else EXIT_FAILED


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def print_results(
    results: Sequence[ClaimResult],
    notices: Sequence[str] = (),
    robustness_fractions: dict[str, float] | None = None,
) -> None:
    """Print one block per claim: conditions, values, observed, expected, pass/fail and certificate.

    ``notices`` are printed before the first block (one line per format-1 claims file); a claim's
    robustness fraction, when given, is printed beside its certificate.
    """
    for notice in notices:
        print(notice)
    suite = None
    fractions = robustness_fractions or {}
    for res in results:
        if res.suite != suite:
            suite = res.suite
            print(f"== {res.model}: claims of {suite}" if suite != res.model else f"== {res.model}")
        tag = "PASS" if res.passed else "EXCUSED" if res.excused else "FAIL"
        kind = " (prediction)" if res.claim.prediction else ""
        kind += " (definition)" if res.claim.kind == "definition" else ""
        print(f"[{tag}] {res.test_id}{kind}: {res.claim.relation}")
        for r in res.readouts:
            values = ", ".join(f"{k}={_fmt(v)}" for k, v in r.values.items())
            print(f"    {r.readout:<12} {values}")
            print(f"    {'':<12} observed {_fmt(r.observed)}; expected {r.expected}; margin {r.margin:+.3f}")
        if res.excused:
            print(f"    excused in the composite: {res.claim.composite_exception}")
        if res.claim.sufficiency:
            print(f"    sufficient alone: {', '.join(res.claim.sufficiency['alone'])}")
        if res.certificate is not None:
            fraction = fractions.get(certify.robustness_name(res))
            robust = "" if fraction is None else f"  [robustness {fraction:.0%}]"
            print(f"    certificate: {res.certificate.summary}{robust}")
            for c in (*res.certificate.cuts, *res.certificate.independence):
                shown = f"margin {c.margin:+.3f}" if c.margin is not None else str(c.problem)
                applied = f" (as {c.applied.label})" if c.applied is not None and c.applied != c.cut else ""
                print(f"      {c.role} {c.cut.label}{applied}: {c.verdict}; {shown}")


def _robustness_fractions(entry: ModelEntry) -> dict[str, float]:
    from bcsignal.app.report import read_robustness

    try:
        summary = read_robustness(entry)
    except BcsignalError:
        return {}
    return summary.fractions() if summary is not None else {}


def _statuses(results: Sequence[ClaimResult]) -> str:
    counts: dict[str, int] = {}
    for r in results:
        status = r.certificate.status if r.certificate is not None else certify.NO_MECHANISM
        counts[status] = counts.get(status, 0) + 1
    return "; ".join(f"{counts[s]} {s}" for s in certify.STATUSES if s in counts)


def _uncertified(results: Sequence[ClaimResult]) -> list[ClaimResult]:
    """Return the claims --strict refuses: every claim not certified, except definitions and excused ones."""
    return [
        r
        for r in results
        if r.claim.kind != "definition"
        and not (r.excused and not r.passed)
        and (r.certificate is None or not r.certificate.certified)
    ]


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
    table = not args.quiet and not args.json
    if args.model is not None or args.claims is not None:
        everything = _user_check(args)
        given = load_claims(Path(args.claims)) if args.claims is not None else None
        if table:
            print_results(everything, [certify.format_notice(given)] if given and given.format == 1 else [])
    else:
        for entry in _models(args.models):
            checked = run_model(entry)
            if table:
                print_results(checked.results, checked.notices, _robustness_fractions(entry))
                for line in compose.override_lines(entry):
                    print(line)
            everything += checked.results
    passed = sum(r.passed for r in everything)
    excused = sum(r.excused and not r.passed for r in everything)
    failed = len(everything) - passed - excused
    payload = {"format": RESULTS_FORMAT, "claims": [r.to_json() for r in everything]}
    if args.json:
        print(json.dumps(payload, indent=2, sort_keys=True))
    else:
        verdict = f"{passed} passed, {failed} failed" + (f", {excused} excused" if excused else "")
        certificates = f"certificates: {_statuses(everything)}"
        print(f"{verdict}; {certificates}" if args.quiet else f"{verdict}\n{certificates}")
    if args.results:
        atomic_write_text(Path(args.results), json.dumps(payload, indent=2, sort_keys=True) + "\n")
    if failed:
        return EXIT_FAILED
    if args.strict:
        refused = _uncertified(everything)
        for r in refused:
            status = r.certificate.summary if r.certificate is not None else certify.NO_MECHANISM
            print(f"not certified: {r.test_id}: {status}", file=sys.stderr)
        if refused:
            print(f"--strict: {len(refused)} claim(s) not certified", file=sys.stderr)
            return EXIT_FAILED
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write one COMBINE/OMEX archive per model (SBML, SED-ML of every claimed experiment, metadata)."""
    from bcsignal import exchange

    folder = Path(args.out) if args.out else None
    for entry in _models(args.models):
        with _progress(args, f"exporting {entry.id}"):
            (path,) = exchange.export([entry.id], folder)
        _say(args, f"wrote {path}")
    return 0


def cmd_crosscheck(args: argparse.Namespace) -> int:
    """Simulate every claimed experiment with libroadrunner and COPASI and compare every output."""
    from bcsignal.app import crosscheck

    results = []
    for entry in _models(args.models):
        with _progress(args, f"simulating {entry.id} in libroadrunner and COPASI"):
            results += crosscheck.compare_shipped([entry])
    if args.json:
        print(json.dumps({"format": 1, "models": [r.to_json() for r in results]}, indent=2, sort_keys=True))
    else:
        if not args.quiet:
            print("\n".join(crosscheck.table(results)))
        print(crosscheck.summary(results))
    if args.results:
        payload = {"format": 1, "models": [r.to_json() for r in results]}
        atomic_write_text(Path(args.results), json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return 0 if all(r.passed for r in results) else EXIT_FAILED


def cmd_report(args: argparse.Namespace) -> int:
    """Write the curation report (an offline static site) for every model or the ones named."""
    from bcsignal.app import publish

    models = _models(args.models)
    with _progress(args, f"writing the report of {len(models)} model{'s' if len(models) > 1 else ''}"):
        index = publish.build_report(
            models, Path(args.out) if args.out else None, with_crosscheck=not args.no_crosscheck
        )
    _say(args, f"wrote {index}")
    return 0


def _points(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise BcsignalError(f"--points must be a whole number, got {text!r}") from None


#: How an API argument named at the start of an error's cause reads on the command line.
_FLAGS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^values\[(['\"])(.*?)\1\]"), r"--set \2"),
    (re.compile(r"^until\b"), "--until"),
    (re.compile(r"^points\b"), "--points"),
    (re.compile(r"^start\b"), "--start"),
    (re.compile(r"^selections\b"), "--select"),
    (re.compile(r"^precision\b"), "--precision"),
    (re.compile(r"^integrator\b"), "--integrator"),
)


def as_flags(exc: BcsignalError) -> BcsignalError:
    """Return a library error about an API argument (``values['k']``, ``until``) as the CLI's flag says it."""
    cause = exc.cause
    for pattern, flag in _FLAGS:
        cause, n = pattern.subn(flag, cause, count=1)
        if n:
            break
    if cause == exc.cause:
        return exc
    return BcsignalError(cause, file=exc.file, line=exc.line, tool=exc.tool, where=exc.where)


def cmd_simulate(args: argparse.Namespace) -> int:
    """Simulate a model (a shipped id or a user's file) and write the time course as CSV."""
    values = dict(parse_assignment(a) for a in args.set)
    target = usermodel.from_argument(args.model)
    try:
        course = api.simulate_time_course(
            target,
            args.until,
            _points(args.points),
            start=args.start,
            selections=args.select or None,
            values=values,
            strict=args.strict,
            integrator=args.integrator,
        )
        text = course.to_csv(args.precision)
    except BcsignalError as exc:
        raise as_flags(exc) from exc
    out = Path(args.out)
    atomic_write_text(out, text)
    rows, columns = course.data.shape
    _say(args, f"wrote {out} ({rows} time points x {columns} columns)")
    return 0


def cmd_steady_state(args: argparse.Namespace) -> int:
    """Print the unperturbed steady state of a model as Antimony lines to paste as initial values.

    For a composite, flattened ids ``instance__x`` are printed as Antimony's ``instance.x``.
    """
    (entry,) = _models([args.model])
    mid, source = entry.id, entry.source
    built = build.load_antimony(source)
    sim = new_simulator(build.write_sbml_string(built.flat), name=mid, origin=source)
    lines = steady_state_lines(sim)
    if built.comp is not None:
        lines = [line.replace("__", ".", 1) for line in lines]
    if args.json:
        pairs = (line.split(" = ", 1) for line in lines)
        print(json.dumps({name: float(value) for name, value in pairs}, indent=2))
    else:
        print("\n".join(lines))
    return 0


def cmd_merge_map(args: argparse.Namespace) -> int:
    """Print a composite's merge map: each submodel element replaced, shared or deleted, and why."""
    composites = [e for e in registry.current().entries() if e.is_composite]
    if args.model:
        (entry,) = _models([args.model])
    elif composites:
        entry = composites[0]
    else:
        raise BcsignalError("there is no composite model")
    comp_file = entry.comp_sbml
    if comp_file is None:
        raise BcsignalError(
            f"{entry.id} is not a composite model (its claims file has no `composite:` block)"
        )
    if not comp_file.is_file():
        raise BcsignalError("the composite is not built: run `bcsignal build`", file=comp_file)
    doc = read_document(read_screened(comp_file), str(comp_file))
    rows = compose.merge_map_rows(entry, doc)
    problems = compose.merge_map_problems(doc, entry.merge_map)
    width = max(len(r["element"]) for r in rows) if rows else 10
    for r in rows:
        print(f"{r['element']:<{width}}  {r['model']:<31} {r['action']:<8} -> {r['became']:<22} {r['why']}")
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    return EXIT_FAILED if problems else 0


def print_robustness(result: RunResult) -> None:
    """Print a robustness summary: per claim the fraction holding, its 95 % interval and top parameters."""
    summary = result.summary
    print(
        f"{summary.model}: {summary.samples} samples ({summary.failed} failed), "
        f"sigma {summary.sigma:g}, seed {summary.seed}, {len(summary.parameters)} parameters sampled"
    )
    if summary.nominal_failure:
        print(f"  the nominal parameter set itself fails: {summary.nominal_failure}")
    width = max(len("all claims"), *(len(c) for c in summary.claims))
    print(f"  {'claim':<{width}}  holds  95% interval    nominal  decisive parameters (Spearman rho)")

    def line(name: str, holds: robustness.Fraction, nominal: str, top: str) -> None:
        fraction = "  -  " if holds.fraction is None else f"{holds.fraction:.3f}"
        low, high = holds.interval95
        print(f"  {name:<{width}}  {fraction}  [{low:.3f}, {high:.3f}]  {nominal:>7}  {top}".rstrip())

    for name, entry in summary.claims.items():
        nominal = entry.nominal_margin
        shown = f"{nominal:+.3f}" if isinstance(nominal, float) else str(nominal or "")
        top = ", ".join(f"{t.parameter} {t.spearman:+.2f}" for t in entry.top_parameters[:3])
        line(name, entry.holds, shown, top + (" (excused)" if entry.excused else ""))
    line("all claims", summary.all_claims_hold, "", "")
    for failure in summary.failures[:5]:
        print(f"  failed x{failure.count}: {failure.example}")
    rate = result.evaluated / result.seconds if result.seconds > 0 else 0.0
    print(
        f"{result.evaluated} sample(s) evaluated {result.executor} in {result.seconds:.1f} s "
        f"({rate:.1f} samples/s, {rate * result.simulations_per_sample:.0f} simulations/s)"
        + (f" after {result.setup_seconds:.1f} s of cluster set-up" if result.setup_seconds >= 0.1 else "")
        + (f"; {result.resumed} resumed from an earlier run" if result.resumed else "")
    )
    print(f"wrote {result.table_path} and {result.summary_path}")


def cmd_robustness(args: argparse.Namespace) -> int:
    """Sample the kinetic parameters log-normally and report how robustly each claim holds."""
    (entry,) = _models([args.model])
    study = robustness.study_for_model(entry, sigma=args.sigma, seed=args.seed, fixed=args.fix)
    out = Path(args.out) if args.out else entry.registry.robustness_dir(entry.id)
    try:
        result = robustness.run(
            study,
            out,
            args.samples,
            scheduler=args.scheduler,
            workers=args.workers,
            chunk_size=args.chunk_size,
            progress=not args.no_progress and not args.quiet and not args.json and sys.stderr.isatty(),
        )
    except KeyboardInterrupt:
        print(
            f"bcsignal: interrupted; finished samples are kept in {out}: rerun the same command to resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if args.json:
        print(json.dumps(result.summary.to_json(), indent=2))
    elif not args.quiet:
        print_robustness(result)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    """List the model ids."""
    if args.json:
        print(json.dumps(registry.current().ids()))
    else:
        print("\n".join(registry.current().ids()))
    return 0


def _handlers() -> dict[str, Callable[[argparse.Namespace], int]]:  # read when called: a test may patch one
    return {
        "build": cmd_build,
        "validate": cmd_validate,
        "check": cmd_check,
        "export": cmd_export,
        "crosscheck": cmd_crosscheck,
        "report": cmd_report,
        "simulate": cmd_simulate,
        "steady-state": cmd_steady_state,
        "merge-map": cmd_merge_map,
        "robustness": cmd_robustness,
        "models": cmd_models,
    }


def parser() -> argparse.ArgumentParser:
    """Return the argument parser: every argument has help text that shows its default."""
    return options.parser(_handlers())


#: Modules of optional extras each command needs, checked before it starts (one line if one is missing).
COMMAND_NEEDS: dict[str, tuple[str, ...]] = {
    "export": ("libsedml",),
    "crosscheck": ("COPASI",),
    "report": ("matplotlib", "COPASI"),
    "robustness": ("tqdm",),
}


def needed_modules(args: argparse.Namespace) -> tuple[str, ...]:
    """Return the optional modules a parsed command needs (the report needs COPASI for its cross-check)."""
    needs = COMMAND_NEEDS.get(args.command, ())
    if args.command == "report" and args.no_crosscheck:
        needs = tuple(m for m in needs if m != "COPASI")
    return needs


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; errors print one paragraph on stderr and exit with 2."""
    args = parser().parse_args(argv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BcsignalWarning)
        try:
            for module in needed_modules(args):
                require(module, f"`bcsignal {args.command}`")
            code: int = args.func(args)
            sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        except BrokenPipeError:  # the reader stopped early: no traceback, no "Exception ignored"
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_BROKEN_PIPE
        except BcsignalError as exc:
            code = EXIT_ERROR
            print(f"bcsignal: error: {' '.join(str(exc).split())}", file=sys.stderr)
        except KeyboardInterrupt:  # Ctrl-C: one line, no traceback (an isolated child is stopped too)
            code = EXIT_INTERRUPTED
            print("bcsignal: interrupted", file=sys.stderr)
    for warning in caught:
        if issubclass(warning.category, BcsignalWarning):
            print(f"bcsignal: warning: {' '.join(str(warning.message).split())}", file=sys.stderr)
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
