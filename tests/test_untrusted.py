"""Untrusted input, second round (issue 22): members of the bad-input corpus that must give the right result.

Each test names the defect it covers. The corpus members that must fail with one clean error are in
tests/test_bad_inputs.py; these must load or simulate correctly whatever the working directory holds.
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

import bcsignal
from bcsignal import exchange, registry
from bcsignal.app import cli
from bcsignal.core.errors import BcsignalError
from bcsignal.core.files import atomic_write_text, staged_folder
from bcsignal.core.screen import stage_antimony

from .data.bad import generate

BAD = Path(__file__).parent / "data" / "bad"


def test_imports_never_resolve_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """D1: a file of the imported name in the working directory is never what Antimony reads."""
    hostile = generate.deep_parentheses(10**5).replace("model deep()", "model shadow_sub()")
    (tmp_path / "import_shadow_sub.ant").write_text(hostile)
    monkeypatch.chdir(tmp_path)
    course = bcsignal.time_course(BAD / "import_shadow.ant", 10, 3)
    assert list(course.colnames) == ["time", "A__Good"]
    assert course[0, 1] == 10


def test_an_error_in_an_imported_file_names_that_file_and_its_line() -> None:
    """D12: the imported file, and its real line (Antimony miscounts after block comments)."""
    with pytest.raises(BcsignalError, match=r"syntax error") as info:
        bcsignal.load(BAD / "import_error_in_sub.ant")
    assert info.value.file is not None and Path(info.value.file).name == "import_error_sub.ant"
    assert info.value.line == 4 and info.value.tool == "antimony"


def test_staging_keeps_lines_and_strings_and_rewrites_only_real_imports() -> None:
    text = '/* import "a.ant"\n two */ import "b.ant" // import "c.ant"\nS is "import \\"d\\"";\n'
    staged = stage_antimony(text, {"b.ant": "/x/1-b.ant"})
    assert staged.count("\n") == text.count("\n")
    assert 'import "/x/1-b.ant"' in staged and "a.ant" not in staged and "c.ant" not in staged
    assert 'S is "import \\"' in staged


def test_a_knob_set_by_preequilibration_reaches_initial_assignments() -> None:
    """D2: S = 5*dose as an initial assignment: pre-equilibration with dose = 1 starts from S = 5."""
    model = BAD / "initial_assignment_knob.ant"
    (result,) = bcsignal.check(model, BAD / "claims_initial_assignment_knob.yaml")
    values = result.readouts[0].values
    assert values["dosed"] == pytest.approx(5.0, rel=1e-6), values
    assert values["undosed"] == pytest.approx(0.0, abs=1e-9), values
    simulated = bcsignal.time_course(model, 1e5, 2, values={"dose": 1})
    assert simulated[-1, list(simulated.colnames).index("P")] == pytest.approx(values["dosed"], rel=1e-6)


# -- D10: output writes ------------------------------------------------------------------------------
def test_a_write_keeps_permissions_and_cleans_temporaries_a_killed_run_left(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    target.write_text("old\n")
    target.chmod(0o600)
    stale = tmp_path / ".results.json.999999999.k3x9.tmp"  # no process has that id
    stale.write_text("half-written\n")
    other = tmp_path / ".other.json.999999999.k3x9.tmp"  # another file's temporary: not ours to remove
    other.write_text("x\n")
    atomic_write_text(target, "new\n")
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert not stale.exists() and other.exists()


def test_a_write_through_a_symlink_replaces_the_file_it_points_at(tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    atomic_write_text(link, "new\n")
    assert link.is_symlink() and real.read_text() == "new\n"


def test_a_file_where_a_folder_should_be_is_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(BcsignalError, match=r"is a file, not a folder"):
        atomic_write_text(tmp_path / "file" / "x.csv", "a\n")


# -- D8: Ctrl-C --------------------------------------------------------------------------------------
def test_ctrl_c_gives_one_line_and_status_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(_args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_models", interrupted)
    assert cli.main(["models"]) == cli.EXIT_INTERRUPTED
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err == "bcsignal: interrupted\n"


# -- D5, D6, D8: archives ----------------------------------------------------------------------------
def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize(
    ("members", "expect"),
    [
        (
            {"a.sedml": b"<sedML/>", "bomb.xml": bytes(2 * 1024 * 1024)},
            r"compressed \d+ to 1, over the limit",
        ),
        (
            {"a.sedml": bytes(30 * 1024 * 1024)},
            r"would inflate to 31457280 bytes, over the limit of 20971520",
        ),
        ({f"m{i}.xml": b"" for i in range(300)}, r"300 members, over the limit of 256"),
    ],
    ids=["ratio", "member_size", "count"],
)
def test_archive_members_are_checked_before_anything_is_inflated(
    members: dict[str, bytes], expect: str, tmp_path: Path
) -> None:
    """D5: a zip bomb is refused from its declared sizes, by read_member and by run_with_copasi."""
    path = _zip(tmp_path / "bomb.omex", members)
    for run in (lambda: exchange.read_member(path, ".sedml"), lambda: exchange.run_with_copasi(path)):
        with pytest.raises(BcsignalError, match=expect):
            run()


def test_archive_members_are_checked_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exchange.omex, "MAX_ARCHIVE_BYTES", 1000)
    path = _zip(
        tmp_path / "big.omex", {"a.sedml": b"<sedML/>", "b.xml": os.urandom(600), "c.xml": os.urandom(600)}
    )
    with pytest.raises(BcsignalError, match=r"would inflate to 12\d\d bytes, over the limit of 1000"):
        exchange.run_with_copasi(path)


def test_sedml_that_is_not_utf8_is_our_error(tmp_path: Path) -> None:
    """D8: no bare UnicodeDecodeError from run_with_copasi."""
    path = _zip(tmp_path / "latin1.omex", {"a.sedml": "<sedML name='é'/>".encode("latin-1")})
    with pytest.raises(BcsignalError, match=r"not UTF-8 text"):
        exchange.run_with_copasi(path)


def _sedml_with_source(source: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<sedML xmlns="http://sed-ml.org/sed-ml/level1/version4" level="1" version="4">'
        f'<listOfModels><model id="m" language="urn:sedml:language:sbml" source="{source}"/></listOfModels>'
        "</sedML>\n"
    ).encode()


@pytest.mark.parametrize(
    "source", ["/etc/hosts", "../outside.xml", "https://example.org/m.xml", "absent.xml"]
)
def test_tellurium_never_follows_a_source_outside_the_archive(source: str, tmp_path: Path) -> None:
    """D6: run_with_tellurium checks every model source before tellurium sees the archive."""
    path = _zip(tmp_path / "outside.omex", {"a.sedml": _sedml_with_source(source)})
    with pytest.raises(BcsignalError, match=r"is not a member of the archive"):
        exchange.run_with_tellurium(path)


def test_tellurium_is_screened_against_entities(tmp_path: Path) -> None:
    """D6: an XXE SED-ML is refused, not run with 0 tasks."""
    xxe = (
        b'<?xml version="1.0"?>\n<!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<sedML>&x;</sedML>\n'
    )
    path = _zip(tmp_path / "xxe.omex", {"a.sedml": xxe})
    with pytest.raises(BcsignalError, match=r"DOCTYPE declarations are not accepted"):
        exchange.run_with_tellurium(path)


def test_a_folder_written_in_several_files_is_replaced_only_when_complete(tmp_path: Path) -> None:
    """D10: the report goes to a temporary sibling, moved into place when complete."""
    report = tmp_path / "report"
    report.mkdir()
    (report / "index.html").write_text("previous\n")
    (tmp_path / ".report.999999999.new").mkdir()  # left by a killed run: removed
    with pytest.raises(BcsignalError, match=r"No space left"), staged_folder(report) as staging:
        (staging / "plot.svg").write_text("<svg/>")
        raise OSError(28, "No space left on device")
    assert [p.name for p in tmp_path.iterdir()] == ["report"]
    assert [p.name for p in report.iterdir()] == ["index.html"]
    with staged_folder(report) as staging:
        (staging / "index.html").write_text("new\n")
    assert (report / "index.html").read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


# -- D9: user claims against a shipped model, and robustness requests --------------------------------
@pytest.mark.timeout(60)
def test_user_claims_against_a_shipped_model_run_within_the_time_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """D9: a user's claims file against a shipped model runs in the child, under BCSIGNAL_TIMEOUT."""
    from bcsignal import paths

    shipped = paths.claims_path("Park_BBRC2007").read_text(encoding="utf-8")
    claims = tmp_path / "many.claims.yaml"
    claims.write_text(shipped)
    monkeypatch.setenv("BCSIGNAL_TIMEOUT", "0.01")
    with pytest.raises(BcsignalError, match=r"gave no result within 0\.01 s .*BCSIGNAL_TIMEOUT"):
        bcsignal.check("Park_BBRC2007", claims)


@pytest.mark.parametrize(
    ("samples", "sigma", "expect"),
    [(10**9, 0.3, r"at most 10000000, got 1000000000"), (10, 1000.0, r"sigma must be at most 5")],
)
def test_robustness_requests_are_capped(samples: int, sigma: float, expect: str, tmp_path: Path) -> None:
    from bcsignal.analysis import robustness

    with pytest.raises(BcsignalError, match=expect):
        study = robustness.study_for_model(registry.entry("Park_BBRC2007"), sigma=sigma, seed=0, fixed=[])
        robustness.run(study, tmp_path / "out", samples, workers=0, progress=False)
