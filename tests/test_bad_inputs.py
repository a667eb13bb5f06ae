"""The bad-input corpus: each case fails with one BcsignalError, through the API and the CLI, harming nothing.

Each case runs through the Python API (in-process, with fd-level capture) and through the `bcsignal`
console script (a subprocess killed after 10 s). Both must raise or print exactly one error of
bcsignal's class whose message names the cause, with no crash, no native text on stdout/stderr, no
secret file content in any output and the output folder left exactly as it was.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import bcsignal
from bcsignal.app import cli
from bcsignal.core.errors import MAX_MESSAGE, BcsignalError

from .conftest import run_cli
from .data.bad import generate

DATA = Path(__file__).parent / "data"
BAD = DATA / "bad"
TINY = DATA / "tiny.ant"
DECAY = DATA / "decay.xml"
BCSIGNAL = str(Path(sys.executable).parent / "bcsignal")
SECRET_MARK = "BCSIGNAL-SECRET-7f3a9c"
#: Seconds a case may take through the CLI or the API (a hang fails the test).
LIMIT = 10


@dataclass(frozen=True)
class Case:
    """One bad input: how to run it and what the error must say."""

    name: str
    kind: str  # "model", "strict", "claims" or "request"
    expect: str  # regular expression the message must match
    tool: str | None = None  # the tool the error must name
    generated: bool = False  # written at test time by generate.py (too large to commit)
    request: dict[str, Any] = field(default_factory=dict)  # until, points, values, integrator, model
    cli_expect: str | None = None  # what the command line says instead (its flags for the API's arguments)


def model(name: str, expect: str, tool: str | None, generated: bool = False) -> Case:
    return Case(name, "model", expect, tool, generated)


def claims(name: str, expect: str, generated: bool = False) -> Case:
    return Case(name, "claims", expect, None, generated)


def request(name: str, expect: str, tool: str | None = None, cli: str | None = None, **req: Any) -> Case:
    return Case(
        name,
        "request",
        expect,
        tool,
        request={"model": DECAY, "until": 10, "points": 11, **req},
        cli_expect=cli,
    )


NEST = r"elements nest deeper than 100 levels"
CORPUS: list[Case] = [
    # -- screening: nesting, entities, size, well-formedness, references ----------------------------
    model("deep_1e2.xml", NEST, "screen"),
    model("deep_1e3.xml", NEST, "screen", generated=True),
    model("deep_1e4.xml", NEST, "screen", generated=True),
    model("deep_1e5.xml", NEST, "screen", generated=True),
    model("deep_parentheses_1e4.ant", r"brackets nest deeper than 100 levels", "screen", generated=True),
    model("billion_laughs.xml", r"DOCTYPE declarations are not accepted", "screen"),
    model("xxe_external_entity.xml", r"DOCTYPE declarations are not accepted", "screen"),
    model("xxe_parameter_entity.xml", r"DOCTYPE declarations are not accepted", "screen"),
    model("xxe_absolute.xml", r"DOCTYPE declarations are not accepted", "screen", generated=True),
    model("random_50MiB.xml", r"52428800 bytes, over the limit of 20971520", "screen", generated=True),
    model("truncated.xml", r"not well-formed XML", "screen"),
    model("empty.xml", r"not well-formed XML: no element found", "screen"),
    model("not_xml.xml", r"not UTF-8 text", "screen"),
    model("not_utf8.xml", r"not UTF-8 text", "screen"),
    model("not_sbml.xml", r"not an SBML document: the root element is <html>", "screen"),
    model("comp_missing_external.xml", r"'missing_submodel\.xml': not found", "screen"),
    model("comp_url_external.xml", r"is a URL; bcsignal reads local files only", "screen"),
    model("comp_outside_external.xml", r"is outside the model's folder", "screen"),
    model("import_missing.ant", r"'missing_module\.ant': not found", "screen"),
    model("import_outside.ant", r"is an absolute path", "screen"),
    # -- SBML that parses but must not be simulated --------------------------------------------------
    model("duplicate_ids.xml", r"\[identifier 10301\].*must be unique", "libsbml"),
    model("undefined_symbol.xml", r"\[mathml 10215\]", "libsbml"),
    model("nan_parameter.xml", r"parameter k has value nan", "bcsignal"),
    model("inf_parameter.xml", r"parameter k has value inf", "bcsignal"),
    model("negative_species.xml", r"species S starts at -1", "bcsignal"),
    model("zero_compartment.xml", r"compartment cell has size 0", "bcsignal"),
    model("missing_initial_value.xml", r"S has no value and no rule or initial assignment", "bcsignal"),
    model("nan_initial_assignment.xml", r"parameter k is nan at t = 0", "libroadrunner"),
    Case("unit_mismatch.xml", "strict", r"fatal under strict checking.*\[units 10541\]", "libsbml"),
    # -- Antimony ------------------------------------------------------------------------------------
    model("syntax_error.ant", r"syntax_error\.ant:5: \[antimony\].*syntax error", "antimony"),
    # -- issue 22: empty models, names Antimony cannot read, errors in imported files ----------------
    model("empty.ant", r"the Antimony text is empty", "screen"),
    model("empty_no_suffix", r"the Antimony text is empty", "screen"),
    model("comments_only.ant", r"the Antimony text is empty", "screen"),
    model("empty_model.xml", r"the model is empty: no species, reactions, rules or events", "bcsignal"),
    model(
        "unary_minus_5e4.ant",
        r"unary_minus_5e4\.ant:5: \[antimony\] syntax error",
        "antimony",
        generated=True,
    ),
    model("non_ascii_name.ant", r"non_ascii_name\.ant:5: \[screen\] character 'β' \(U\+03B2\)", "screen"),
    model(
        "undefined_symbol.ant", r"never declared in typo \(Antimony would invent them\): k_typo", "antimony"
    ),
    model("undefined_compartment.ant", r"symbols without a value .*: nucleus", "antimony"),
    model("missing_initial.ant", r"symbols without a value .*: S$", "antimony"),
    model("duplicate_ids.ant", r"reaction 'S' contains a reference to itself", "antimony"),
    model("nan_parameter.ant", r"parameter k has value nan", "bcsignal"),
    model("inf_initial_assignment.ant", r"parameter k is inf at t = 0", "libroadrunner"),
    model("negative_species.ant", r"species S starts at -5", "bcsignal"),
    model("zero_compartment.ant", r"compartment cell has size 0", "bcsignal"),
    # -- simulation requests ---------------------------------------------------------------------------
    request("blowup.ant", r"CVODE Error: CV_CONV_FAILURE", "libroadrunner", model=BAD / "blowup.ant"),
    request(
        "species_named_time.xml",
        r"a species or variable named 'time', which would clash with the time column",
        model=BAD / "species_named_time.xml",
    ),
    request(
        "huge_output_request",
        r"^points must be between 2 and 1000000",
        cli=r"error: --points must be between 2 and 1000000",
        points=10**9,
    ),
    request(
        "infinite_end_time",
        r"^until \(end time\) must be finite",
        cli=r"error: --until \(end time\) must be finite",
        until=float("inf"),
    ),
    request(
        "negative_end_time",
        r"^until must be after start \(0\)",
        cli=r"error: --until must be after start \(0\)",
        until=-5,
    ),
    request("rk4_integrator", r"CVODE only", integrator="rk4"),
    request(
        "unknown_set_id",
        r"values\['nope'\]: not a species, compartment or constant parameter",
        cli=r"--set nope: not a species, compartment or constant parameter",
        values={"nope": 1},
    ),
    request(
        "nan_set_value",
        r"^values\['k'\] must be finite",
        cli=r"error: --set k must be finite",
        values={"k": float("nan")},
    ),
    request(
        "negative_set_concentration",
        r"values\['S'\]: a concentration must be >= 0",
        cli=r"--set S: a concentration must be >= 0",
        values={"S": -1},
    ),
    # -- claims files (against the tiny model) ---------------------------------------------------------
    claims("claims_alias_bomb.yaml", r"YAML aliases \(\*a\) are not accepted"),
    claims("claims_huge.yaml", r"2097\d+ bytes, over the limit of 1048576", generated=True),
    claims("claims_deep.yaml", r"YAML nests deeper than 32 levels", generated=True),
    claims("claims_not_yaml.yaml", r"not valid YAML"),
    claims("claims_python_tag.yaml", r"YAML tag tag:yaml.org,2002:python/object/apply:os.system is not"),
    claims("claims_not_a_mapping.yaml", r"is not of type 'object'"),
    claims("claims_unknown_kind.yaml", r"claim up, field relation: 'skyrockets' is not one of"),
    claims("claims_wrong_type.yaml", r"claim up, field fold: 'two' is not of type 'number'"),
    claims("claims_nan_fold.yaml", r"claim up, field fold: not a finite number"),
    claims(
        "claims_infinite_duration.yaml", r"experiment rest, field phases\.0\.duration: not a finite number"
    ),
    claims("claims_impossible_threshold.yaml", r"claim small: field fraction: .*needs a fraction below 1"),
    claims("claims_after_the_end.yaml", r"claim up: field at: 10000 min is after the end"),
    claims(
        "claims_unknown_experiment.yaml", r"claim up, field perturbed: unknown experiment 'stimulated_twice'"
    ),
    claims("claims_unknown_readout.yaml", r"field interface\.readouts: 'pSTAT3' is not a species"),
    claims(
        "claims_unknown_knob.yaml", r"field interface\.knobs: 'IGF1_dose' is not a constant global parameter"
    ),
    # -- issue 22: no file content echoed, YAML 1.1 numbers, ids with a line break -------------------
    claims("claims_passwd.yaml", r"document: a text of 134 characters is not of type 'object'$"),
    claims(
        "claims_symlink.yaml", r"document: a text of 134 characters is not of type 'object'$", generated=True
    ),
    claims("claims_yaml11_float.yaml", r"'1\.0e9' is not of type 'number' \(YAML 1\.1 reads 1\.0e9 as text"),
    claims("claims_id_newline.yaml", r"field interface\.readouts\.0: 'Sp\\n' does not match"),
]
#: Members of the corpus that must give a right result, not an error (tests/test_untrusted.py).
RESULT_FILES = {
    "import_shadow.ant",
    "import_shadow_sub.ant",
    "import_error_in_sub.ant",
    "import_error_sub.ant",
    "initial_assignment_knob.ant",
    "claims_initial_assignment_knob.yaml",
}
IDS = [c.name for c in CORPUS]


def test_corpus_is_large_and_covers_every_committed_file() -> None:
    assert len(CORPUS) >= 30 and len(set(IDS)) == len(IDS)
    committed = {p.name for p in BAD.iterdir() if p.is_file() and p.suffix in {".xml", ".ant", ".yaml", ""}}
    named = {c.name for c in CORPUS if not c.generated and c.kind != "request"}
    named |= {"blowup.ant", "species_named_time.xml"}
    named |= RESULT_FILES
    assert committed == named


def test_committed_deep_file_matches_the_generator() -> None:
    assert (BAD / "deep_1e2.xml").read_text() == generate.deep_mathml(100)


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The large members of the corpus, written once per session into a temporary folder."""
    return generate.write(tmp_path_factory.mktemp("bad-generated"))


def _path(case: Case, generated: dict[str, Path]) -> Path:
    return generated[case.name] if case.generated else BAD / case.name


def _api(case: Case, path: Path) -> Callable[[], object]:
    if case.kind == "model":
        return lambda: bcsignal.load(path)
    if case.kind == "strict":
        return lambda: bcsignal.load(path, strict=True)
    if case.kind == "claims":
        return lambda: bcsignal.check(TINY, path)
    req = case.request
    return lambda: bcsignal.time_course(
        req["model"],
        req["until"],
        req["points"],
        values=req.get("values"),
        integrator=req.get("integrator", "cvode"),
    )


def _cli(case: Case, path: Path) -> list[str]:
    if case.kind in {"model", "strict"}:
        strict = ["--strict"] if case.kind == "strict" else []
        return ["simulate", str(path), "--until", "10", "--points", "11", "--out", "result.csv", *strict]
    if case.kind == "claims":
        return ["check", "--model", str(TINY), "--claims", str(path), "--results", "results.json"]
    req = case.request
    args = ["simulate", str(req["model"]), "--until", str(req["until"]), "--points", str(req["points"])]
    args += [f"--set={k}={v}" for k, v in req.get("values", {}).items()]
    args += ["--integrator", req.get("integrator", "cvode"), "--out", "result.csv"]
    return args


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _output_folder(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    (out / "result.csv").write_text("time,S\nprevious result\n")
    (out / "results.json").write_text('{"previous": true}\n')
    return out


@pytest.mark.timeout(LIMIT)
@pytest.mark.parametrize("case", CORPUS, ids=IDS)
def test_api_raises_one_clean_error(
    case: Case,
    generated: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    path = _path(case, generated)
    out = _output_folder(tmp_path)
    monkeypatch.chdir(out)
    before = _snapshot(out)
    with pytest.raises(BcsignalError) as info:
        _api(case, path)()
    error = info.value
    message = str(error)
    assert re.search(case.expect, message), message
    assert error.tool == case.tool or case.tool is None, message
    if case.kind != "request":
        assert error.file is not None and Path(error.file).name == path.name, message
    assert SECRET_MARK not in message
    assert len(message) <= MAX_MESSAGE, len(message)
    printed = capfd.readouterr()
    assert printed.out == "" and printed.err == "", "native text leaked from the Python API"
    assert _snapshot(out) == before


def _check_cli_failure(case: Case, returncode: int, stdout: str, stderr: str) -> None:
    assert returncode == cli.EXIT_ERROR, (returncode, stderr)  # a crash would be negative (signal)
    assert stdout == ""
    assert stderr.startswith("bcsignal: error: ") and stderr.count("\n") == 1, stderr
    assert re.search(case.cli_expect or case.expect, stderr), stderr
    if case.tool is not None:
        assert f"[{case.tool}]" in stderr
    assert SECRET_MARK not in stdout + stderr


@pytest.mark.parametrize("case", CORPUS, ids=IDS)
def test_cli_prints_one_paragraph_and_exits_2(case: Case, generated: dict[str, Path], tmp_path: Path) -> None:
    """The command line (`cli.main` in a forked process: real exit status and file descriptors)."""
    path = _path(case, generated)
    out = _output_folder(tmp_path)
    before = _snapshot(out)
    _check_cli_failure(case, *run_cli(_cli(case, path), cwd=out, timeout=LIMIT))
    assert _snapshot(out) == before


#: One case of each kind also runs through the installed console script, as a user would run it.
SCRIPT_CASES = ["billion_laughs.xml", "nan_parameter.ant", "huge_output_request", "claims_alias_bomb.yaml"]


@pytest.mark.parametrize("name", SCRIPT_CASES)
def test_console_script_fails_cleanly(name: str, generated: dict[str, Path], tmp_path: Path) -> None:
    case = next(c for c in CORPUS if c.name == name)
    out = _output_folder(tmp_path)
    before = _snapshot(out)
    args = [BCSIGNAL, *_cli(case, _path(case, generated))]
    # two interpreters start here (the script, then the isolated child): a hang guard, not a timing
    done = subprocess.run(args, cwd=out, capture_output=True, text=True, timeout=3 * LIMIT)
    _check_cli_failure(case, done.returncode, done.stdout, done.stderr)
    assert _snapshot(out) == before


MODEL_CASES = [c for c in CORPUS if c.kind in {"model", "strict"}]


@pytest.mark.timeout(LIMIT)
@pytest.mark.parametrize("case", MODEL_CASES, ids=[c.name for c in MODEL_CASES])
def test_validate_reports_or_raises(
    case: Case, generated: dict[str, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    """`validate` lists findings of a model that parses (not ok) and raises for one that does not."""
    path = _path(case, generated)
    try:
        (report,) = bcsignal.validate(path, strict=True)
    except BcsignalError as error:
        assert re.search(case.expect, str(error)), str(error)
    else:
        assert not report.ok(strict=True)
        assert any(re.search(case.expect, f"[{i.category} {i.code}] {i.message}") for i in report.issues) or (
            case.kind == "strict"
        ), [str(i) for i in report.issues]
    printed = capfd.readouterr()
    assert printed.out == "" and printed.err == ""
