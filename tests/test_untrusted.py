"""Untrusted input, second round (issue 22): members of the bad-input corpus that must give the right result.

Each test names the defect it covers. The corpus members that must fail with one clean error are in
tests/test_bad_inputs.py; these must load or simulate correctly whatever the working directory holds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import bcsignal
from bcsignal.errors import BcsignalError
from bcsignal.screen import stage_antimony

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
    assert course.columns == ["time", "A__Good"]
    assert course.column("A__Good")[0] == 10


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
    assert simulated.column("P")[-1] == pytest.approx(values["dosed"], rel=1e-6)
