"""libroadrunner against COPASI: clean import, same initial values, same trajectories; and the checks fail."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bcsignal.app import cli, crosscheck
from bcsignal.app.crosscheck import AGREE_RTOL, compare_simulators, worst_difference
from bcsignal.core.agreement import agree
from bcsignal.core.errors import BcsignalError
from bcsignal.engine import copasi as copasi_module
from bcsignal.engine.copasi import CopasiModel
from bcsignal.spec.claims import ClaimsFile, load_claims

from .conftest import DATA, MODEL_IDS


@pytest.fixture(scope="session")
def crosscheck_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    """The command line run once for every model, its JSON results by model."""
    out = tmp_path_factory.mktemp("crosscheck") / "crosscheck.json"
    assert cli.main(["crosscheck", "--results", str(out)]) == 0
    return {m["model"]: m for m in json.loads(out.read_text())["models"]}


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_every_experiment_agrees(model_id: str, crosscheck_results: dict[str, dict[str, object]]) -> None:
    result = crosscheck_results[model_id]
    claims = load_claims(Path(__file__).parent.parent / "models" / f"{model_id}.claims.yaml")
    used = {n for c in claims.claims for n in c.experiments()}
    experiments = result["experiments"]
    assert isinstance(experiments, list)
    assert {e["experiment"] for e in experiments} == used
    assert all(e["passed"] and e["worst_score"] <= 1 for e in experiments), experiments
    assert result["initial_mismatches"] == [] and result["passed"]


def test_crosscheck_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["crosscheck", MODEL_IDS[0]]) == 0
    out = capsys.readouterr().out
    assert "worst |a-b|/bound" in out and "PASS" in out and "1 of 1 model(s) agree" in out


@pytest.fixture
def tiny_claims() -> ClaimsFile:
    return load_claims(DATA / "tiny.claims.yaml")


def test_tiny_model_agrees(tiny_sbml: str, tiny_claims: ClaimsFile) -> None:
    result = compare_simulators("tiny", tiny_sbml, tiny_claims)
    assert result.passed and len(result.experiments) == len(tiny_claims.experiments)


def test_missing_initial_value_is_caught(tiny_sbml: str, tiny_claims: ClaimsFile) -> None:
    # COPASI fills a missing initial value with 1 where libroadrunner uses 0: the check must see it.
    start = tiny_sbml.index('<species id="S"')
    end = tiny_sbml.index(">", start)
    species = tiny_sbml[start:end]
    stripped = " ".join(part for part in species.split() if not part.startswith("initialConcentration="))
    result = compare_simulators("tiny", tiny_sbml.replace(species, stripped), tiny_claims)
    assert not result.passed
    assert any(
        m.startswith("S: COPASI 1,") or m.startswith("S: COPASI 1 ") for m in result.initial_mismatches
    )


def test_worst_difference_applies_the_bound() -> None:
    times = np.linspace(0, 10, 11)
    b = np.linspace(1, 2, 11)
    within = worst_difference("x", times, b * (1 + 0.5 * AGREE_RTOL), b)
    assert within is not None and within.score <= 1
    beyond = worst_difference("x", times, b * (1 + 2 * AGREE_RTOL), b)
    assert beyond is not None and beyond.score > 1 and beyond.time == 10


def test_a_different_trajectory_fails(
    tiny_sbml: str, tiny_claims: ClaimsFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    class SlightlyOff(CopasiModel):
        """COPASI given a stimulus 0.1 % stronger than libroadrunner's."""

        def set_values(self, values: Mapping[str, float]) -> None:
            super().set_values({k: v * 1.001 if k == "stim" else v for k, v in values.items()})

    monkeypatch.setattr(crosscheck, "CopasiModel", SlightlyOff)
    result = compare_simulators("tiny", tiny_sbml, tiny_claims)
    failed = {e.experiment for e in result.experiments if not e.passed}
    assert not result.passed and "stimulated" in failed and "rest" not in failed


class _SilentWhenStimulated(CopasiModel):
    """COPASI whose time courses fail without a message once the stimulus is on (as LSODA and RADAU5
    now and then do in a process that has run other models)."""

    silent = True

    def set_values(self, values: Mapping[str, float]) -> None:
        super().set_values(values)
        self.stimulated = getattr(self, "stimulated", False) or values.get("stim", 0.0) > 0

    def time_course(self, *args: Any, **kwargs: Any) -> dict[str, np.ndarray]:
        if getattr(self, "stimulated", False):
            raise copasi_module.CopasiRunError(
                "time course failed: COPASI returned False", silent=self.silent, tool="COPASI"
            )
        return super().time_course(*args, **kwargs)


_STIMULATED = {"stimulated", "stimulated_inhibited", "pulse_then_washout"}


def test_a_silent_copasi_failure_is_run_in_a_fresh_process(
    tiny_sbml: str, tiny_claims: ClaimsFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The failing experiments are run again in a new interpreter (the real COPASI there) and agree."""
    monkeypatch.setattr(crosscheck, "CopasiModel", _SilentWhenStimulated)
    result = compare_simulators("tiny", tiny_sbml, tiny_claims)
    assert {e.experiment for e in result.experiments if e.fresh_process} == _STIMULATED
    assert result.passed and all(e.error is None and e.worst is not None for e in result.experiments)
    lines = crosscheck.table([result])
    assert sum("(COPASI run in a fresh process)" in line for line in lines) == len(_STIMULATED)
    assert json.dumps(result.to_json())  # the JSON says which ones
    assert sum(e["fresh_process"] for e in result.to_json()["experiments"]) == len(_STIMULATED)


@pytest.mark.parametrize("silent", [True, False])
def test_a_copasi_failure_is_a_failed_row_not_an_abort(
    tiny_sbml: str, tiny_claims: ClaimsFile, monkeypatch: pytest.MonkeyPatch, silent: bool
) -> None:
    """A failure COPASI explains, or a silent one that recurs in a fresh process, fails that one only."""
    monkeypatch.setattr(_SilentWhenStimulated, "silent", silent)
    monkeypatch.setattr(crosscheck, "CopasiModel", _SilentWhenStimulated)
    fresh_runs: list[object] = []

    def fails_too(job: object, *, origin: str) -> None:
        fresh_runs.append(job)
        raise BcsignalError("time course failed: COPASI returned False", file=origin, tool="COPASI")

    monkeypatch.setattr(crosscheck, "run_isolated", fails_too)
    result = compare_simulators("tiny", tiny_sbml, tiny_claims)
    failed = {e.experiment: e for e in result.experiments if not e.passed}
    assert set(failed) == _STIMULATED and not result.passed
    assert all(e.error == "time course failed: COPASI returned False" for e in failed.values())
    assert all(e.fresh_process is silent for e in failed.values())
    assert len(fresh_runs) == (len(_STIMULATED) if silent else 0)
    assert all(e.passed and e.worst is not None for e in result.experiments if e.experiment not in failed)
    lines = crosscheck.table([result])
    assert sum("COPASI FAILED: time course failed" in line for line in lines) == len(_STIMULATED)
    assert lines[-1].endswith("FAIL")


def test_announced_value_change_is_not_lost(tiny_sbml: str) -> None:
    # COPASI restores its stored initial state on every run; set_values announces each change
    with CopasiModel(tiny_sbml, origin="tiny") as model:
        rest = model.time_course([0.0, 15.0], ["Sp"])["Sp"][-1]
    with CopasiModel(tiny_sbml, origin="tiny") as model:
        model.set_values({"stim": 1.0})
        stimulated = model.time_course([0.0, 15.0], ["Sp"])["Sp"][-1]
    assert stimulated > 2 * rest


def test_unclean_import_is_refused(tiny_sbml: str) -> None:
    # COPASI can report success while its message queue holds an error: that import is refused
    broken = tiny_sbml.replace("<ci> inh </ci>", "<ci> nosuch </ci>", 1)
    with pytest.raises(BcsignalError, match=r"\[COPASI\] SBML import was not clean: .*kinetic law"):
        CopasiModel(broken, origin="broken.xml")


@pytest.mark.parametrize(
    ("importer", "encoding"),
    [("from bcsignal.engine.copasi import _copasi; _copasi()", "UTF-8"), ("import COPASI", "ANSI_X3.4-1968")],
)
def test_importing_copasi_keeps_the_text_encoding(importer: str, encoding: str) -> None:
    """python-copasi sets every locale category to C on import; bcsignal puts the character type back."""
    code = f"{importer}; import locale; print(locale.getpreferredencoding(False))"
    env = {**os.environ, "LC_ALL": "", "LANG": "C.UTF-8", "PYTHONUTF8": "0"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == encoding


def test_a_vanishing_initial_value_does_not_stop_copasi(tiny_sbml: str) -> None:
    """From F = 1e-200 COPASI's time course fails silently; such values are run as 0."""
    runs = []
    for start in (1e-200, 0.0):
        with CopasiModel(tiny_sbml) as copasi:
            copasi.set_values({"F": start, "stim": 1.0})
            runs.append(copasi.time_course(np.linspace(0.0, 30.0, 7), ["Sp", "F"]))
    # the second run may reuse the first's data model, restored to its imported values (up to the
    # last bit of a concentration, which COPASI recomputes from the amount)
    np.testing.assert_allclose(runs[0]["Sp"], runs[1]["Sp"], rtol=1e-13, atol=0.0)


def _method_of(model: CopasiModel) -> str:
    return str(model.data_model.getTask("Time-Course").getMethod().getObjectName())


def test_a_silent_lsoda_failure_is_run_again_with_radau5(
    tiny_sbml: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From F = 1e-250, not flushed to 0, LSODA fails without a message: the block is run with RADAU5."""
    monkeypatch.setattr(copasi_module, "VANISHING", 0.0)
    attempts: list[bool] = []
    time_course = CopasiModel.time_course

    def counted(self: CopasiModel, *args: Any, **kwargs: Any) -> dict[str, np.ndarray]:
        attempts.append(bool(kwargs.get("_retried")))
        return time_course(self, *args, **kwargs)

    monkeypatch.setattr(CopasiModel, "time_course", counted)
    times = np.linspace(0.0, 30.0, 7)
    with CopasiModel(tiny_sbml) as copasi:
        copasi.set_values({"F": 0.0, "stim": 1.0})
        expected = copasi.time_course(times, ["Sp"])["Sp"]
        assert attempts == [False] and "LSODA" in _method_of(copasi)
    attempts.clear()
    with CopasiModel(tiny_sbml) as copasi:
        copasi.set_values({"F": 1e-250, "stim": 1.0})
        retried = copasi.time_course(times, ["Sp"])["Sp"]
        assert attempts == [False, True] and "RADAU5" in _method_of(copasi)
    assert agree(retried, expected)
    attempts.clear()
    with CopasiModel(tiny_sbml) as copasi:  # RADAU5 fails too from 1e-300: an error, not a third try
        copasi.set_values({"F": 1e-300, "stim": 1.0})
        with pytest.raises(BcsignalError, match=r"\[COPASI\] time course failed"):
            copasi.time_course(times, ["Sp"])
    assert attempts == [False, True]


def test_a_reused_data_model_starts_from_the_imported_state(tiny_sbml: str) -> None:
    """The second model of one SBML text reuses the first's data model, with its imported values back."""
    with CopasiModel(tiny_sbml) as first:
        imported = first.initial_values()
        used = first.data_model
        first.set_values({"stim": 1.0, "F": 0.5})
        first.time_course([0.0, 30.0], ["Sp"])  # the end state became the initial state
        assert first.initial_values() != imported
    with CopasiModel(tiny_sbml) as second:
        assert second.data_model is used
        assert second.initial_values() == imported
        again = second.time_course([0.0, 30.0], ["Sp"])["Sp"]
    with CopasiModel(tiny_sbml) as third, CopasiModel(tiny_sbml) as fourth:
        assert third.data_model is used and fourth.data_model is not used  # one model per user at a time
        np.testing.assert_array_equal(fourth.time_course([0.0, 30.0], ["Sp"])["Sp"], again)


def test_an_unknown_id_changes_no_value(tiny_sbml: str) -> None:
    with CopasiModel(tiny_sbml) as copasi:
        before = copasi.initial_values()
        with pytest.raises(BcsignalError, match=r"no species or global parameter 'nosuch'"):
            copasi.set_values({"stim": 1.0, "nosuch": 2.0})
        assert copasi.initial_values() == before
