"""The Python API in tellurium's and pandas' idioms: load, antimony, time courses, experiments, claims."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import roadrunner

import bcsignal
from bcsignal import paths
from bcsignal.app import cli
from bcsignal.core.progress import Activity
from bcsignal.engine.claims.plan import experiment_plan, simulate_experiments
from bcsignal.engine.simulate import ABSOLUTE_TOLERANCE, RELATIVE_TOLERANCE, new_simulator
from bcsignal.spec.claims import load_claims

from .conftest import MODEL_IDS

PARK = "Park_BBRC2007"
PAPERS = [m for m in MODEL_IDS if load_claims(paths.claims_path(m)).paper is not None]
COMPOSITES = [m for m in MODEL_IDS if m not in PAPERS]


def _claims(model_id: str) -> list[str]:
    return [c.id for c in load_claims(paths.claims_path(model_id)).claims]


# -- load: tellurium's ExtendedRoadRunner, or a plain RoadRunner ------------------------------------
def test_load_gives_tellurium_s_roadrunner_with_the_explicit_tolerances() -> None:
    from tellurium.roadrunner.extended_roadrunner import ExtendedRoadRunner

    r = bcsignal.load(PARK)
    assert isinstance(r, ExtendedRoadRunner)
    assert r.integrator.getName() == "cvode"
    assert r.integrator.relative_tolerance == RELATIVE_TOLERANCE
    assert r.integrator.absolute_tolerance == ABSOLUTE_TOLERANCE
    result = r.simulate(0, 120, 121, ["time", "pSTAT3"])
    assert result.colnames == ["time", "pSTAT3"] and result.shape == (121, 2)
    np.testing.assert_allclose(result["pSTAT3"], result["pSTAT3"][0], rtol=1e-6)  # at steady state
    assert "model *Park_BBRC2007()" in r.getAntimony()
    import matplotlib

    matplotlib.use("Agg")
    r.plot(show=False)


def test_without_tellurium_load_gives_a_plain_roadrunner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "tellurium.roadrunner.extended_roadrunner", None)
    r = bcsignal.load(PARK)
    assert type(r) is roadrunner.RoadRunner
    assert r.integrator.relative_tolerance == RELATIVE_TOLERANCE


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_antimony_is_the_source_the_sbml_is_built_from(model_id: str) -> None:
    text = bcsignal.antimony(model_id)
    assert text == paths.ant_path(model_id).read_text(encoding="utf-8")
    assert re.search(rf"^model \*?{model_id}\(", text, re.MULTILINE)


def test_antimony_names_a_bad_id() -> None:
    with pytest.raises(bcsignal.BcsignalError, match="unknown model id 'Nope'"):
        bcsignal.antimony("Nope")


# -- time_course: start, selections, a NamedArray ---------------------------------------------------
def test_time_course_has_start_and_selections_like_roadrunner() -> None:
    course = bcsignal.time_course(
        PARK, 130, 13, start=10, selections=["time", "pSTAT3", "[SOCS1]"], values={"IGF1_dose": 13}
    )
    assert course.colnames == ["time", "pSTAT3", "[SOCS1]"]
    np.testing.assert_allclose(course["time"], np.linspace(10, 130, 13))
    r = bcsignal.load(PARK)
    r["IGF1_dose"] = 13
    r.reset()
    expected = r.simulate(10, 130, 13, ["time", "pSTAT3", "[SOCS1]"])
    np.testing.assert_allclose(np.asarray(course), np.asarray(expected), rtol=1e-9)
    assert course["pSTAT3"][-1] > 1.5 * course["pSTAT3"][0]  # IGF-1 raises pSTAT3 from rest


def test_time_course_default_columns_are_ids() -> None:
    course = bcsignal.time_course(PARK, 10, 3)
    assert course.colnames[0] == "time" and "pSTAT3" in course.colnames
    frame = pd.DataFrame(course, columns=course.colnames)
    assert list(frame.columns) == course.colnames and len(frame) == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"selections": ["time", "nope"]}, r"selections: 'nope' is not a selection of the model"),
        ({"selections": "pSTAT3"}, r"selections must be a list of ids"),
        ({"start": 20}, r"^until must be after start \(20\)"),
        ({"values": {"nope": 1}}, r"values\['nope'\]: not a species"),
    ],
    ids=["unknown-selection", "selection-string", "start-after-end", "unknown-value"],
)
def test_time_course_errors_name_the_api_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(bcsignal.BcsignalError, match=message) as info:
        bcsignal.time_course(PARK, 10, 3, **kwargs)  # type: ignore[arg-type]
    assert "--" not in str(info.value)


# -- paper experiments -----------------------------------------------------------------------------
@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_experiments_lists_every_experiment_with_its_description(model_id: str) -> None:
    claims = load_claims(paths.claims_path(model_id))
    listed = bcsignal.experiments(model_id)
    own = {k: v for k, v in listed.items() if "::" not in k}
    assert own == {name: e.description for name, e in claims.experiments.items()}
    papers = (claims.composite or {}).get("submodels", [])
    for paper in papers:
        theirs = load_claims(paths.claims_path(paper)).experiments
        assert {f"{paper}::{n}" for n in theirs} <= set(listed)
    if not papers:
        assert listed == own


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_run_experiment_is_the_claims_engine_s_run(model_id: str) -> None:
    claims = load_claims(paths.claims_path(model_id))
    path = paths.sbml_path(model_id)
    reference = simulate_experiments(
        claims, new_simulator(path.read_text(encoding="utf-8"), name=model_id, origin=path)
    )
    name = next(iter(reference))
    frame = bcsignal.run_experiment(model_id, name)
    assert isinstance(frame, pd.DataFrame) and frame.index.name == "time"
    assert frame.index[0] == 0 and frame.index[-1] == pytest.approx(
        claims.experiments[name].protocol.duration
    )
    assert list(frame.columns) == list(claims.readouts)
    np.testing.assert_array_equal(frame.index.to_numpy(), reference[name].times)
    for readout in reference[name].values:
        np.testing.assert_allclose(frame[readout].to_numpy(), reference[name].values[readout], rtol=1e-12)
    assert (
        frame.attrs["experiment"] == name
        and frame.attrs["description"] == claims.experiments[name].description
    )


def test_run_experiment_reproduces_a_claim_s_numbers() -> None:
    result = bcsignal.claim(PARK, "socs1_induced").result
    readout = result.readouts[0]
    for experiment, value in readout.values.items():
        frame = bcsignal.run_experiment(PARK, experiment, selections=[readout.readout])
        assert list(frame.columns) == [readout.readout]
        assert frame[readout.readout].iloc[-1] == pytest.approx(value, rel=1e-6)


@pytest.mark.parametrize("composite", COMPOSITES)
def test_a_paper_s_experiment_runs_on_the_composite(composite: str) -> None:
    frame = bcsignal.run_experiment(composite, "Park_BBRC2007::NDRG2_IGF1", selections=["pSTAT3", "[SOCS1]"])
    assert list(frame.columns) == ["pSTAT3", "SOCS1"]
    assert frame.attrs["model"] == composite


@pytest.mark.parametrize(
    ("model_id", "experiment", "selections", "message"),
    [
        (
            PARK,
            "nope",
            None,
            r"experiment 'nope' is not an experiment of Park_BBRC2007; its experiments: mock_rest",
        ),
        (PARK, "Huber_JCI2004::x", None, r"'Huber_JCI2004' is not a paper of Park_BBRC2007"),
        (PARK, "NDRG2_IGF1", ["nope"], r"selections: 'nope' is not a species or global parameter"),
        (PARK, "NDRG2_IGF1", "pSTAT3", r"selections must be a list"),
        (Path("x.xml"), "NDRG2_IGF1", None, r"model_id must be a shipped model id"),
    ],
    ids=["unknown", "not-a-paper", "bad-selection", "selection-string", "a-path"],
)
def test_run_experiment_errors(model_id: object, experiment: str, selections: object, message: str) -> None:
    with pytest.raises(bcsignal.BcsignalError, match=message):
        bcsignal.run_experiment(model_id, experiment, selections)  # type: ignore[arg-type]


# -- claims ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("model_id", PAPERS)
def test_claim_is_what_check_gives(model_id: str) -> None:
    checked = {r.claim.id: r for r in bcsignal.check(model_id)}
    for claim_id in _claims(model_id):
        found = bcsignal.claim(model_id, claim_id)
        assert found.id == claim_id and found.statement == checked[claim_id].claim.statement
        assert found.passed == checked[claim_id].passed
        assert found.margin == checked[claim_id].margin
        assert found.certificate == getattr(checked[claim_id], "certificate", None)
        assert str(found).startswith(f"{model_id}::{claim_id} ")


@pytest.mark.parametrize("composite", COMPOSITES)
def test_a_paper_s_claim_on_the_composite(composite: str) -> None:
    found = bcsignal.claim(composite, "Park_BBRC2007::socs1_induced")
    assert found.id == "Park_BBRC2007::socs1_induced" and found.passed
    assert all(e.startswith("Park_BBRC2007::") for e in found.experiments)
    frames = found.trajectories()
    assert set(frames) == set(found.experiments)


def test_claim_names_unknown_ids() -> None:
    with pytest.raises(bcsignal.BcsignalError, match=r"'nope' is not a claim of Park_BBRC2007; its claims: "):
        bcsignal.claim(PARK, "nope")


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_claim_plot_draws_the_report_s_figure(model_id: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    claim_id = _claims(model_id)[0]
    found = bcsignal.claim(model_id, claim_id)
    figure = found.plot()
    axes = figure.get_axes()
    assert len(axes) == len(found.claim.readouts)
    assert figure.texts[0].get_text().startswith(f"{claim_id} ({found.claim.relation}): ")
    frames = found.trajectories()
    for ax, readout in zip(axes, found.claim.readouts, strict=True):
        assert ax.get_ylabel().startswith(readout)
        for line, (name, frame) in zip(ax.get_lines(), frames.items(), strict=False):
            assert line.get_label().startswith(f"{name} (")
            np.testing.assert_allclose(line.get_ydata(), frame[readout].to_numpy())
    plt.close(figure)


# -- robustness and exchange from Python ------------------------------------------------------------
def test_robustness_study_and_its_plot(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    result = bcsignal.robustness_study(PARK, 4, out=tmp_path, seed=3)
    assert result.summary.samples == 4 and result.summary.seed == 3
    assert result.table_path.is_file()
    figure = bcsignal.plot_robustness(result.summary)
    (ax,) = figure.get_axes()
    labels = {t.get_text() for t in ax.get_yticklabels()}
    assert labels == {*result.summary.claims, "all claims"}
    (from_json,) = bcsignal.plot_robustness(result.summary.to_json()).get_axes()
    assert [t.get_text() for t in from_json.get_yticklabels()] == [t.get_text() for t in ax.get_yticklabels()]


def test_export_omex_writes_the_archive(tmp_path: Path) -> None:
    path = bcsignal.export_omex(PARK, tmp_path)
    assert path == tmp_path / f"{PARK}.omex" and path.stat().st_size > 0


# -- __all__ -------------------------------------------------------------------------------------------
def test_every_public_name_is_documented() -> None:
    assert sorted(bcsignal.__all__) == bcsignal.__all__
    for name in bcsignal.__all__:
        obj = getattr(bcsignal, name)
        if name != "Model":
            assert (obj.__doc__ or "").strip(), f"{name} has no docstring"


# -- the command line ---------------------------------------------------------------------------------
def _subcommands() -> dict[str, object]:
    parser = cli.parser()
    (sub,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    choices = sub.choices
    assert isinstance(choices, dict)
    return dict(choices)


@pytest.mark.parametrize("command", ["bcsignal", *sorted(_subcommands())])
def test_every_cli_argument_has_help_and_shows_its_default(command: str) -> None:
    sub = cli.parser() if command == "bcsignal" else _subcommands()[command]
    formatter = sub._get_formatter()  # type: ignore[attr-defined]
    for action in sub._actions:  # type: ignore[attr-defined]
        if action.dest in ("help", "version"):
            continue
        assert action.help, f"{command} {action.dest} has no help"
        shown = formatter._expand_help(action) if action.help else ""
        positional_required = not action.option_strings and action.nargs not in ("?", "*")
        needs_default = not action.required and not positional_required
        if needs_default:
            assert "default" in shown, f"{command} {action.option_strings or action.dest}: {shown!r}"


def test_simulate_writes_ten_significant_digits_by_default(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    assert cli.main(["simulate", PARK, "--until", "10", "--points", "3", "--out", str(out), "-q"]) == 0
    values = out.read_text(encoding="utf-8").splitlines()[1].split(",")
    digits = [len(re.sub(r"e.*$", "", v).replace(".", "").replace("-", "").lstrip("0")) for v in values]
    assert max(digits) <= 10 and max(digits) == 10
    precise = tmp_path / "p.csv"
    cli.main(["simulate", PARK, "--until", "10", "--points", "3", "--out", str(precise), "--precision", "17"])
    assert len(precise.read_text(encoding="utf-8")) > len(out.read_text(encoding="utf-8"))


def test_simulate_start_and_select(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.csv"
    argv = ["simulate", PARK, "--until", "30", "--start", "10", "--points", "3", "--out", str(out)]
    assert cli.main([*argv, "--select", "time", "--select", "[pSTAT3]"]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "time,[pSTAT3]" and lines[1].startswith("10,")
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--set", "nope=1"], r"error: .*--set nope: not a species"),
        (["--start", "50"], r"error: --until must be after start \(50\)"),
        (["--select", "nope"], r"error: .*--select: 'nope' is not a selection"),
        (["--precision", "40"], r"error: --precision must be a whole number from 1 to 17"),
    ],
    ids=["set", "start", "select", "precision"],
)
def test_simulate_errors_speak_in_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    argv = ["simulate", PARK, "--until", "30", "--points", "3", "--out", str(tmp_path / "r.csv"), *extra]
    assert cli.main(argv) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert "values[" not in err


def test_as_flags_translates_only_a_leading_api_argument() -> None:
    translated = cli.as_flags(
        bcsignal.BcsignalError("values['k']: not a species", file="m.xml", tool="bcsignal", where="here")
    )
    assert (translated.cause, translated.file, translated.tool, translated.where) == (
        "--set k: not a species",
        "m.xml",
        "bcsignal",
        "here",
    )
    other = bcsignal.BcsignalError("CVODE failed; values['k'] too large", tool="libroadrunner")
    assert cli.as_flags(other) is other


def test_models_and_check_print_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["models", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == MODEL_IDS
    assert cli.main(["check", PARK, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert {c["id"] for c in payload["claims"]} == set(_claims(PARK))


def test_check_quiet_prints_only_the_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", PARK, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and re.match(r"\d+ passed, 0 failed; certificates: \d+ certified", out)


def test_steady_state_json_matches_the_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["steady-state", PARK]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert cli.main(["steady-state", PARK, "--json"]) == 0
    values = json.loads(capsys.readouterr().out)
    assert [f"{k} = {v:.10g}" for k, v in values.items()] == lines


# -- progress only on a terminal ----------------------------------------------------------------------
class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_shown_on_a_terminal_only() -> None:
    pipe = io.StringIO()
    with Activity("writing the report", stream=pipe, interval=0.01):
        pass
    assert pipe.getvalue() == ""
    terminal = _Terminal()
    with Activity("writing the report", stream=terminal, interval=0.01):
        pass
    assert "writing the report …" in terminal.getvalue()
    assert terminal.getvalue().endswith("s\n") and "done in" in terminal.getvalue()
    quiet = _Terminal()
    with Activity("writing the report", stream=quiet, enabled=False):
        pass
    assert quiet.getvalue() == ""


def test_a_failed_step_clears_its_progress_line() -> None:
    terminal = _Terminal()
    with pytest.raises(RuntimeError), Activity("exporting", stream=terminal, interval=0.01):
        raise RuntimeError("boom")
    assert "done in" not in terminal.getvalue()


def test_plans_cover_the_claims_observation_times() -> None:
    claims = load_claims(paths.claims_path(PARK))
    plan = {p.name: p for p in experiment_plan(claims)}
    for name in plan:
        frame = bcsignal.run_experiment(PARK, name)
        for t in plan[name].observe:
            assert np.isclose(frame.index.to_numpy(), t).any()


def test_export_narrates_unless_quiet_and_shows_no_progress_off_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["export", PARK, "--out", str(tmp_path / "a")]) == 0
    printed = capsys.readouterr()
    assert printed.out == f"wrote {tmp_path / 'a' / (PARK + '.omex')}\n" and printed.err == ""
    assert cli.main(["export", PARK, "--out", str(tmp_path / "b"), "--quiet"]) == 0
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err == ""
    assert (tmp_path / "b" / f"{PARK}.omex").read_bytes() == (tmp_path / "a" / f"{PARK}.omex").read_bytes()
