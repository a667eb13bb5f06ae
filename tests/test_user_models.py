"""Users' own models through the API and the CLI: what works, what warns; text is never a path or a URL."""

from __future__ import annotations

import csv
import io
import math
import os
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

import bcsignal
from bcsignal import ModelInput, paths
from bcsignal.app import cli
from bcsignal.core.errors import BcsignalError, BcsignalWarning
from bcsignal.core.files import atomic_write_text
from bcsignal.engine.simulate import load_sbml_text

from .conftest import MODEL_IDS, run_cli

DATA = Path(__file__).parent / "data"
DECAY = DATA / "decay.xml"
TINY = DATA / "tiny.ant"
TINY_CLAIMS = DATA / "tiny.claims.yaml"
COMP = """<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core"
      xmlns:comp="http://www.sbml.org/sbml/level3/version1/comp/version1"
      level="3" version="2" comp:required="true">
  <comp:listOfExternalModelDefinitions>
    <comp:externalModelDefinition comp:id="sub" comp:source="{source}" comp:modelRef="decay"/>
  </comp:listOfExternalModelDefinitions>
  <model id="top">
    <comp:listOfSubmodels><comp:submodel comp:id="A" comp:modelRef="sub"/></comp:listOfSubmodels>
  </model>
</sbml>
"""


def _decay(t: np.ndarray, s0: float = 10.0, k: float = 0.1) -> np.ndarray:
    return s0 * np.exp(-k * t)


def _csv(path: Path) -> tuple[list[str], np.ndarray]:
    rows = list(csv.reader(io.StringIO(path.read_text())))
    return rows[0], np.array(rows[1:], dtype=float)


# -- simulate -------------------------------------------------------------------------------------
def test_simulate_a_user_sbml_file_matches_the_exact_solution() -> None:
    course = bcsignal.time_course(DECAY, 20, 41)
    assert course.colnames == ["time", "S"]
    times = course["time"]
    assert times[0] == 0 and times[-1] == pytest.approx(20) and len(times) == 41
    np.testing.assert_allclose(course["S"], _decay(times), rtol=1e-6)


def test_set_changes_parameters_and_initial_concentrations() -> None:
    course = bcsignal.time_course(DECAY, 10, 11, values={"k": 0.2, "S": 5})
    np.testing.assert_allclose(course["S"], _decay(course["time"], 5, 0.2), rtol=1e-6)


def test_set_reevaluates_initial_assignments() -> None:
    text = "model m()\n  compartment cell = 1\n  p = 1\n  species S in cell = 2*p\n  k = 0.1\n"
    text += "  J: S -> ; k*S*cell\nend\n"
    with pytest.warns(BcsignalWarning):
        course = bcsignal.time_course(ModelInput.antimony(text), 1, 2, values={"p": 3})
    assert course["S"][0] == pytest.approx(6)


def test_simulate_sbml_and_antimony_text() -> None:
    sbml = bcsignal.time_course(ModelInput.sbml(DECAY.read_text()), 5, 3)
    np.testing.assert_allclose(sbml["S"], _decay(sbml["time"]), rtol=1e-6)
    ant = bcsignal.time_course(ModelInput.antimony(TINY.read_text(), origin="tiny.ant"), 60, 4)
    assert ant.colnames == ["time", "S", "Sp", "F"]


def test_a_shipped_model_by_id_starts_at_its_steady_state() -> None:
    course = bcsignal.time_course(MODEL_IDS[0], 60, 7)
    species = np.asarray(course)[:, 1:]
    np.testing.assert_allclose(species[-1], species[0], rtol=1e-5, atol=1e-9)


def test_cli_simulate_writes_the_csv(tmp_path: Path) -> None:
    code, out, err = run_cli(
        ["simulate", str(DECAY), "--until", "10", "--points", "6", "--set", "S=4", "--out", "out/r.csv"],
        cwd=tmp_path,
        timeout=30,
    )
    assert code == 0 and err == "", err
    assert "wrote out/r.csv (6 time points x 2 columns)" in out
    header, data = _csv(tmp_path / "out" / "r.csv")
    assert header == ["time", "S"]
    np.testing.assert_allclose(data[:, 1], _decay(data[:, 0], 4), rtol=1e-6)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["r.csv"]


def test_cli_simulate_a_shipped_model_by_id(tmp_path: Path) -> None:
    code, _, err = run_cli(
        ["simulate", MODEL_IDS[0], "--until", "30", "--points", "4", "--out", "r.csv"],
        cwd=tmp_path,
        timeout=30,
    )
    assert code == 0, err
    header, data = _csv(tmp_path / "r.csv")
    assert header[0] == "time" and data.shape == (4, len(header))


# -- warnings and --strict --------------------------------------------------------------------------
def test_unit_warnings_are_reported_and_fatal_only_when_strict(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    bad_units = DATA / "bad" / "unit_mismatch.xml"
    with pytest.warns(BcsignalWarning, match=r"1 warning\(s\) \(units\)"):
        bcsignal.load(bad_units)
    with pytest.raises(BcsignalError, match="fatal under strict checking"):
        bcsignal.load(bad_units, strict=True)
    assert capfd.readouterr() == ("", "")
    code, _, err = run_cli(
        ["simulate", str(bad_units), "--until", "1", "--points", "2", "--out", "r.csv"],
        cwd=tmp_path,
        timeout=30,
    )
    assert code == 0 and err.startswith("bcsignal: warning: ") and err.count("\n") == 1, err
    assert (tmp_path / "r.csv").is_file()


def test_validate_strict_passes_clean_user_files_and_fails_warnings(tmp_path: Path) -> None:
    code, out, err = run_cli(["validate", "--strict", str(DECAY), str(TINY)], cwd=tmp_path, timeout=30)
    assert code == 0 and out.count("0 error(s), 0 warning(s) — ok") == 2, err
    bad_units = str(DATA / "bad" / "unit_mismatch.xml")
    assert run_cli(["validate", bad_units], cwd=tmp_path, timeout=30)[0] == 0
    code, out, _ = run_cli(["validate", "--strict", bad_units], cwd=tmp_path, timeout=30)
    assert code == cli.EXIT_FAILED and "warning [units 10541]" in out


def test_annotation_checks_are_opt_in_for_user_files() -> None:
    assert all(r.ok(strict=True) for r in bcsignal.validate(TINY))
    (report,) = bcsignal.validate(TINY, annotations=True)
    assert any(i.category == "annotation" for i in report.errors)


# -- claims against a user's model ------------------------------------------------------------------
def test_check_a_claims_file_against_a_user_model(tmp_path: Path) -> None:
    results = bcsignal.check(TINY, TINY_CLAIMS)
    assert results and all(r.passed for r in results)
    code, out, _ = run_cli(
        ["check", "--model", str(TINY), "--claims", str(TINY_CLAIMS), "--results", "r.json"],
        cwd=tmp_path,
        timeout=60,
    )
    assert code == 0 and f"{len(results)} passed, 0 failed" in out
    assert (tmp_path / "r.json").is_file()


def test_a_failing_claim_against_a_user_model_exits_1(tmp_path: Path) -> None:
    edited = tmp_path / "edited.claims.yaml"
    edited.write_text(TINY_CLAIMS.read_text().replace("fraction: 0.2,", "fraction: 0.01,"))
    code, out, _ = run_cli(["check", "--model", str(TINY), "--claims", str(edited)], cwd=tmp_path, timeout=60)
    assert code == cli.EXIT_FAILED and "[FAIL] tiny::small" in out


def test_user_claims_against_a_shipped_model() -> None:
    own = {r.claim.id: r.margin for r in bcsignal.check(MODEL_IDS[0])}
    again = {r.claim.id: r.margin for r in bcsignal.check(MODEL_IDS[0], paths.claims_path(MODEL_IDS[0]))}
    assert again == pytest.approx(own)
    with pytest.raises(
        BcsignalError, match=r"field interface\.knobs: 'stim' is not a constant global parameter"
    ):
        bcsignal.check(MODEL_IDS[0], TINY_CLAIMS)


def test_a_user_model_needs_claims(tmp_path: Path) -> None:
    with pytest.raises(BcsignalError, match="needs a claims file"):
        bcsignal.check(TINY)
    code, _, err = run_cli(["check", "--model", str(TINY)], cwd=tmp_path, timeout=30)
    assert code == cli.EXIT_ERROR and "add --claims FILE" in err


# -- references: comp external definitions and Antimony imports, next to the model -----------------
def test_a_comp_model_with_a_local_external_file_is_flattened(tmp_path: Path) -> None:
    shutil.copy(DECAY, tmp_path / "decay.xml")
    top = tmp_path / "top.xml"
    top.write_text(COMP.format(source="decay.xml"))
    with pytest.warns(BcsignalWarning, match="units"):  # the top model declares no units
        course = bcsignal.time_course(top, 10, 3)
    assert course.colnames == ["time", "A__S"]
    np.testing.assert_allclose(course["A__S"], _decay(course["time"]), rtol=1e-6)


def test_an_antimony_import_of_a_local_file_works(tmp_path: Path) -> None:
    (tmp_path / "sub.ant").write_text("model sub()\n  compartment cell = 1\n  species S in cell = 10\nend\n")
    main = tmp_path / "main.ant"
    main.write_text(
        'import "sub.ant"\nmodel main()\n  A: sub()\n  k = 0.1\n  J: A.S -> ; k*A.S*A.cell\nend\n'
    )
    with pytest.warns(BcsignalWarning):
        course = bcsignal.time_course(main, 10, 3)
    np.testing.assert_allclose(course["A_S"], _decay(course["time"]), rtol=1e-6)


# -- text is never a path or a URL -------------------------------------------------------------------
@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP socket on 127.0.0.1 that counts connection attempts; closed by the test."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    yield sock
    sock.close()


def _connections(sock: socket.socket) -> int:
    count = 0
    while True:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


def test_paths_and_urls_given_as_model_text_are_never_read_or_fetched(
    listener: socket.socket, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/model.xml"
    local = tmp_path / "model.xml"  # a valid model: reading it would make the call succeed
    shutil.copy(DECAY, local)
    comp_with_url = tmp_path / "comp.xml"
    comp_with_url.write_text(COMP.format(source=url))
    calls: list[Callable[[], object]] = [
        lambda: bcsignal.load(ModelInput.sbml(url)),
        lambda: bcsignal.load(ModelInput.sbml(str(local))),
        lambda: bcsignal.load(ModelInput.antimony(url)),
        lambda: bcsignal.load(ModelInput.antimony(str(local))),
        lambda: bcsignal.load(ModelInput.antimony(f'import "{local}"\nmodel m()\nend\n')),
        lambda: bcsignal.load(ModelInput.antimony(f'import "{url}"\nmodel m()\nend\n')),
        lambda: bcsignal.load(ModelInput.antimony('import "model.xml"\nmodel m()\nend\n')),
        lambda: bcsignal.load(ModelInput.sbml(COMP.format(source=url))),
        lambda: bcsignal.load(ModelInput.sbml(COMP.format(source=str(local)))),
        lambda: bcsignal.load(comp_with_url),
        lambda: bcsignal.load(str(local)),  # a str is a model id, never a file name
        lambda: bcsignal.load(url),
        lambda: bcsignal.time_course(str(local), 1, 2),
        lambda: bcsignal.check(str(local), TINY_CLAIMS),
        lambda: bcsignal.check(TINY, str(TINY_CLAIMS)),  # type: ignore[arg-type]
        lambda: ModelInput.from_file(url),
        lambda: ModelInput.sbml(local),  # type: ignore[arg-type]
        lambda: load_sbml_text(url),
        lambda: load_sbml_text(str(local)),
    ]
    for call in calls:
        with pytest.raises(BcsignalError):
            call()
    code, _, err = run_cli(
        ["simulate", url, "--until", "1", "--points", "2", "--out", "r.csv"], cwd=tmp_path, timeout=30
    )
    assert code == cli.EXIT_ERROR and "never fetches" in err
    assert _connections(listener) == 0
    assert capfd.readouterr() == ("", "")


def test_text_errors_say_how_to_pass_a_file() -> None:
    with pytest.raises(BcsignalError, match=r"ModelInput.from_file"):
        ModelInput.antimony("models/Park_BBRC2007.ant")
    with pytest.raises(BcsignalError, match=r"pathlib.Path"):
        bcsignal.load("my_model.xml")


# -- no partial output ------------------------------------------------------------------------------
@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    failure: BaseException, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "result.csv"
    target.write_text("old\n")

    def fail(_fd: int) -> None:
        raise failure

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(BcsignalError if isinstance(failure, OSError) else KeyboardInterrupt):
        atomic_write_text(target, "new\n" * 1000)
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["result.csv"]


def test_a_rerun_replaces_the_result_whole(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    for until in ("10", "20"):
        code, _, err = run_cli(
            ["simulate", str(DECAY), "--until", until, "--points", "3", "--out", str(out)],
            cwd=tmp_path,
            timeout=30,
        )
        assert code == 0, err
    _, data = _csv(out)
    assert data[-1, 0] == 20 and math.isclose(data[-1, 1], 10 * math.exp(-2), rel_tol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]
