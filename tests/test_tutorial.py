"""docs/tutorial.md runs end to end: every example is executed as a doctest and its files are written."""

from __future__ import annotations

import doctest
import io
import zipfile
from contextlib import redirect_stdout
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "docs" / "tutorial.md"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _run(path: Path) -> tuple[doctest.TestResults, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        results = doctest.testfile(
            str(path), module_relative=False, optionflags=FLAGS, globs={}, report=True, verbose=False
        )
    return results, out.getvalue()


@pytest.mark.slow
def test_the_tutorial_runs_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib

    matplotlib.use("Agg")  # headless: the figures are saved, not shown
    monkeypatch.chdir(tmp_path)
    results, printed = _run(TUTORIAL)
    assert results.failed == 0, printed
    assert results.attempted >= 40, results
    for name in ("socs1_induced.png", "ndrg2_lowers_il6_pstat3.png", "robustness-park.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG"), name
    assert (tmp_path / "robustness-park" / "samples.csv").read_text().count("\n") == 51
    with zipfile.ZipFile(tmp_path / "Park_BBRC2007.omex") as archive:
        assert archive.testzip() is None


def test_a_wrong_tutorial_line_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    broken = tmp_path / "broken.md"
    broken.write_text("```python\n>>> import bcsignal\n>>> bcsignal.models()[0]\n'Nope_1999'\n\n```\n")
    results, printed = _run(broken)
    assert results == doctest.TestResults(failed=1, attempted=2)
    assert "Nope_1999" in printed


def test_the_tutorial_installs_nothing_and_is_linked_from_the_readme() -> None:
    text = TUTORIAL.read_text(encoding="utf-8")
    executed = "\n".join(line for line in text.splitlines() if line.startswith((">>> ", "... ")))
    assert "pip" not in executed and "subprocess" not in executed and "!" not in executed
    assert "docs/tutorial.md" in (ROOT / "README.md").read_text(encoding="utf-8")
