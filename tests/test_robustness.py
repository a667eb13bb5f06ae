"""Robustness analysis: sampling, scoring, output, resumption, and identical results on Dask."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from distributed import LocalCluster

from bcsignal import paths, registry
from bcsignal.analysis import robustness
from bcsignal.analysis.robustness import Study, execute, make_study
from bcsignal.app import cli
from bcsignal.core.errors import BcsignalError
from bcsignal.engine.run import suite_results
from bcsignal.engine.simulate import Simulator, new_simulator
from bcsignal.sbml.build import antimony_to_sbml, write_sbml_string
from bcsignal.spec.claims import ClaimsFile, load_claims

from .conftest import MODEL_IDS

DATA = Path(__file__).parent / "data"
SAMPLES = 20


@pytest.fixture(scope="module")
def fragile() -> Study:
    """The fragile test model: about half of its samples blow up (CVODE fails), the rest hold."""
    sbml = write_sbml_string(antimony_to_sbml(DATA / "fragile.ant"))
    return make_study("fragile", sbml, [load_claims(DATA / "fragile.claims.yaml")], seed=7)


@pytest.fixture(scope="module")
def reference(fragile: Study, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run of the fragile model in this process: the reference the Dask runs must reproduce."""
    out = tmp_path_factory.mktemp("in_process")
    robustness.run(fragile, out, SAMPLES, workers=0, progress=False)
    return out


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / robustness.TABLE).open(newline="") as handle:
        return list(csv.DictReader(handle))


# -- what is sampled ------------------------------------------------------------------------
def test_knobs_and_unit_constants_are_never_sampled(fragile: Study) -> None:
    assert fragile.parameters == ("kb", "ka", "kd", "k_auto", "k_loss")
    reasons = dict(fragile.fixed)
    assert reasons["stim"] == reasons["inh"] == "interface knob"
    assert reasons["one"].startswith("unit constant")


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_model_study_samples_kinetic_parameters_only(model_id: str) -> None:
    study = robustness.study_for_model(registry.entry(model_id))
    files = list(registry.entry(model_id).suites)
    knobs = {k for f in files for k in f.knobs}
    assert study.parameters and not knobs & set(study.parameters)
    assert all(v != 0 and math.isfinite(v) for v in study.nominal)
    assert "one" not in study.parameters
    assert len(study.claims) == sum(len(f.claims) for f in files)


def test_fix_holds_a_parameter_and_rejects_unknown_ones(fragile: Study) -> None:
    files = [load_claims(DATA / "fragile.claims.yaml")]
    held = make_study("fragile", fragile.sbml, files, fixed=["kd"])
    assert "kd" not in held.parameters and dict(held.fixed)["kd"] == "fixed on request"
    with pytest.raises(BcsignalError, match="cannot fix nope"):
        make_study("fragile", fragile.sbml, files, fixed=["nope"])
    with pytest.raises(BcsignalError, match="sigma"):
        make_study("fragile", fragile.sbml, files, sigma=0)


def test_samples_are_lognormal_and_a_function_of_seed_and_index(fragile: Study) -> None:
    assert np.array_equal(fragile.values(3), fragile.values(3))
    assert not np.array_equal(fragile.values(3), fragile.values(4))
    other = make_study("fragile", fragile.sbml, [load_claims(DATA / "fragile.claims.yaml")], seed=8)
    assert not np.array_equal(fragile.values(3), other.values(3))
    logs = np.log(np.array([fragile.values(i) for i in range(4000)]) / np.array(fragile.nominal))
    assert np.abs(logs.mean(axis=0)).max() < 4 * fragile.sigma / math.sqrt(4000)
    assert np.abs(logs.std(axis=0) / fragile.sigma - 1).max() < 0.05


# -- statistics -----------------------------------------------------------------------------
def test_wilson_interval() -> None:
    low, high = robustness.wilson_interval(5, 10)
    assert (low, high) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert robustness.wilson_interval(0, 10)[0] == 0.0
    assert robustness.wilson_interval(10, 10)[1] == 1.0
    assert robustness.wilson_interval(0, 0) == (0.0, 1.0)


def _wilson_by_hand(successes: int, trials: int, z: float = robustness.Z95) -> tuple[float, float]:
    """The Wilson interval as bcsignal computed it before scipy (the reference the numbers must keep)."""
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def _spearman_by_hand(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho as bcsignal computed it before scipy: average ranks, Pearson of the ranks."""

    def ranks(a: np.ndarray) -> np.ndarray:
        out = np.empty(a.shape, dtype=float)
        for j in range(a.shape[1]):
            order = np.argsort(a[:, j], kind="stable")
            _, first, counts = np.unique(a[order, j], return_index=True, return_counts=True)
            out[order, j] = np.repeat(first + (counts + 1) / 2, counts)
        return out

    rx, ry = ranks(x), ranks(y)
    rx, ry = rx - rx.mean(axis=0), ry - ry.mean(axis=0)
    norm = np.outer(np.sqrt((rx * rx).sum(axis=0)), np.sqrt((ry * ry).sum(axis=0)))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho: np.ndarray = (rx.T @ ry) / norm
    rho[norm == 0] = np.nan
    return rho


@pytest.mark.parametrize("trials", [1, 2, 7, 10, 100, 1000])
def test_wilson_interval_numbers_unchanged(trials: int) -> None:
    for successes in sorted({0, 1, trials // 3, trials // 2, trials - 1, trials}):
        assert robustness.wilson_interval(successes, trials) == pytest.approx(
            _wilson_by_hand(successes, trials), abs=1e-12
        )


def test_spearman_matches_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((50, 3))
    y = np.column_stack([x[:, 0] ** 3, -x[:, 1] + 0.1 * rng.standard_normal(50), np.round(x[:, 2])])
    y[0, 2] = math.inf
    rho = robustness.spearman_matrix(x, y)
    for i in range(3):
        for j in range(3):
            assert rho[i, j] == pytest.approx(stats.spearmanr(x[:, i], y[:, j]).statistic, abs=1e-12)
    assert rho == pytest.approx(_spearman_by_hand(x, y), abs=1e-12)
    assert robustness.spearman_matrix(x[:, :1], y[:, :1]) == pytest.approx(
        _spearman_by_hand(x[:, :1], y[:, :1])
    )
    assert math.isnan(robustness.spearman_matrix(x, np.ones((50, 1)))[0, 0])
    assert robustness.spearman_matrix(x, np.ones((50, 1))).shape == (3, 1)


def test_summary_of_infinite_margins_is_valid_json(fragile: Study) -> None:
    inf = math.inf
    table = robustness.Table(
        index=np.arange(4),
        values=np.array([fragile.values(i) for i in range(4)]),
        margins=np.array([[inf, 1.0], [1.0, -inf], [inf, 2.0], [0.5, 0.1]]),
        ok=np.ones(4, dtype=bool),
    )
    summary = robustness.summarise(fragile, table)
    json.dumps(summary.to_json(), allow_nan=False)
    assert summary.claims["up"].holds.count == 4
    assert summary.claims["down"].holds.count == 3
    assert summary.all_claims_hold.count == 3
    assert summary.claims["up"].margin_quantiles["q95"] == "inf"
    assert robustness.Summary.from_json(summary.to_json()) == summary


# -- a run, its output and its failures ----------------------------------------------------
def test_output_schema_and_failed_samples(fragile: Study, reference: Path) -> None:
    rows = _rows(reference)
    assert [int(r["sample"]) for r in rows] == list(range(SAMPLES))
    assert list(rows[0]) == [
        "sample",
        "status",
        "reason",
        *(f"param:{p}" for p in fragile.parameters),
        "margin:up",
        "margin:down",
    ]
    failed = [r for r in rows if r["status"] == "failed"]
    ok = [r for r in rows if r["status"] == "ok"]
    assert failed and ok, "the fragile model must give both failed and evaluated samples"
    assert all("CVODE" in r["reason"] and r["margin:up"] == "" for r in failed)
    # the samples that fail are those whose autocatalysis outruns the loss at X = 10 nM
    for r in rows:
        grows = float(r["param:k_auto"]) * 10 > float(r["param:k_loss"])
        assert (r["status"] == "failed") == grows
    assert all(r["reason"] == "" and math.isfinite(float(r["margin:up"])) for r in ok)

    summary = json.loads((reference / robustness.SUMMARY).read_text())
    assert summary["samples"] == SAMPLES
    assert summary["failed"] == len(failed) and summary["succeeded"] == len(ok)
    assert sum(f["count"] for f in summary["failures"]) == len(failed)
    assert set(summary["claims"]) == {"up", "down"}
    for name, entry in summary["claims"].items():
        holds = sum(float(r[f"margin:{name}"]) >= 0 for r in ok)
        assert entry["holds"]["count"] == holds and entry["holds"]["n"] == len(ok)
        low, high = entry["holds"]["interval95"]
        assert low <= entry["holds"]["fraction"] <= high
        assert entry["nominal_margin"] > 0
        assert {t["parameter"] for t in entry["top_parameters"]} <= set(fragile.parameters)
    assert summary["all_claims_hold"]["n"] == len(ok)
    # the stimulus effect depends on the S/Sp cycle, never decisively on X's parameters
    top_up = summary["claims"]["up"]["top_parameters"][0]
    assert top_up["parameter"] in {"ka", "kb", "kd"}
    # the typed summary reads summary.json back to the same JSON
    assert robustness.Summary.from_json(summary).to_json() == summary


@pytest.fixture
def one_worker_cluster() -> Iterator[LocalCluster]:
    """An external one-worker Dask cluster on 127.0.0.1, stopped by the test."""
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as cluster:
        yield cluster


def test_dask_runs_give_identical_results(
    fragile: Study, reference: Path, tmp_path: Path, one_worker_cluster: LocalCluster
) -> None:
    one = robustness.run(
        fragile, tmp_path / "one", SAMPLES, scheduler=one_worker_cluster.scheduler_address, progress=False
    )
    assert one.executor.startswith("on the Dask scheduler tcp://127.0.0.1:")
    two = robustness.run(fragile, tmp_path / "two", SAMPLES, workers=2, chunk_size=3, progress=False)
    assert two.executor == "on a local Dask cluster of 2 worker processes"
    for out in (one.out, two.out):
        for name in (robustness.TABLE, robustness.SUMMARY):
            assert (out / name).read_bytes() == (reference / name).read_bytes(), name


def test_a_scheduler_without_workers_is_our_error(
    fragile: Study, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(execute, "WORKER_WAIT", 1.0)
    with (
        LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address="127.0.0.1:0") as empty,
        pytest.raises(BcsignalError, match="no worker") as info,
    ):
        robustness.run(fragile, tmp_path, 4, scheduler=empty.scheduler_address, progress=False)
    assert info.value.tool == "dask"


def test_a_rerun_resumes(fragile: Study, reference: Path, tmp_path: Path) -> None:
    first = robustness.run(fragile, tmp_path, 8, workers=0, progress=False)
    assert first.evaluated == 8 and first.summary.samples == 8
    again = robustness.run(fragile, tmp_path, SAMPLES, workers=0, progress=False)
    assert (again.resumed, again.evaluated) == (8, SAMPLES - 8)
    assert (tmp_path / robustness.TABLE).read_bytes() == (reference / robustness.TABLE).read_bytes()
    done = robustness.run(fragile, tmp_path, SAMPLES, workers=0, progress=False)
    assert (done.resumed, done.evaluated) == (SAMPLES, 0)


def test_an_interrupted_run_resumes(
    fragile: Study, reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = robustness.evaluate_chunk
    calls = 0

    def interrupted(study: Study, start: int, stop: int) -> list[robustness.SampleRow]:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt
        return real(study, start, stop)

    monkeypatch.setattr(execute, "evaluate_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        robustness.run(fragile, tmp_path, SAMPLES, workers=0, chunk_size=4, progress=False)
    assert not (tmp_path / robustness.TABLE).exists()
    monkeypatch.setattr(execute, "evaluate_chunk", real)
    resumed = robustness.run(fragile, tmp_path, SAMPLES, workers=0, chunk_size=4, progress=False)
    assert resumed.resumed == 8
    assert (tmp_path / robustness.TABLE).read_bytes() == (reference / robustness.TABLE).read_bytes()


def test_a_folder_of_another_study_is_refused(fragile: Study, reference: Path) -> None:
    other = make_study("fragile", fragile.sbml, [load_claims(DATA / "fragile.claims.yaml")], seed=8)
    with pytest.raises(BcsignalError, match="different seed") as info:
        robustness.run(other, reference, SAMPLES, workers=0, progress=False)
    assert info.value.file == str(reference / robustness.MANIFEST)


def test_bad_run_arguments_are_our_error(fragile: Study, tmp_path: Path) -> None:
    with pytest.raises(BcsignalError, match="a number of workers sizes a local cluster"):
        robustness.run(fragile, tmp_path, 5, scheduler="tcp://127.0.0.1:1", workers=2)
    with pytest.raises(BcsignalError, match="at least 1"):
        robustness.run(fragile, tmp_path, 0)


# -- caching gives the same results as uncached evaluation ----------------------------------
@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_cached_evaluation_equals_uncached(model_id: str) -> None:
    study = robustness.study_for_model(registry.entry(model_id))
    files = list(registry.entry(model_id).suites)
    shared = new_simulator(study.sbml, name=model_id)
    # one simulator sees the nominal set, then two samples, then the nominal set and a sample again
    order = [None, 0, 1, None, 0]
    cached = [_margins(study, shared, files, index) for index in order]
    assert shared.cache_hits > 0
    uncached_sim = new_simulator(study.sbml, name=model_id)
    uncached_sim.caching = False
    for index, got in zip(order, cached, strict=True):
        uncached = _margins(study, uncached_sim, files, index)
        assert got == pytest.approx(uncached, rel=1e-9, abs=1e-12), f"sample {index}"
    assert uncached_sim.cache_hits == 0
    assert cached[0] == cached[3] and cached[1] == cached[4]
    assert cached[0] != cached[1]


def _margins(study: Study, sim: Simulator, files: list[ClaimsFile], index: int | None) -> list[float]:
    values = {} if index is None else dict(zip(study.parameters, study.values(index).tolist(), strict=True))
    sim.set_overrides(values)
    return [r.margin for r in suite_results(study.model, files, sim)]


def test_nominal_margins_are_the_check_margins() -> None:
    model_id = MODEL_IDS[0]
    study = robustness.study_for_model(registry.entry(model_id))
    nominal = robustness.nominal_margins(study)
    sim = new_simulator(study.sbml, name=model_id)
    expected = [r.margin for r in suite_results(model_id, registry.entry(model_id).suites, sim)]
    assert isinstance(nominal, dict) and list(nominal.values()) == pytest.approx(expected, rel=1e-9)


# -- command line ---------------------------------------------------------------------------
def test_cli_robustness_prints_a_summary_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model_id = MODEL_IDS[0]
    code = cli.main(
        ["robustness", model_id, "--samples", "4", "--workers", "0", "--out", str(tmp_path), "--no-progress"]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert f"{model_id}: 4 samples" in printed and "all claims" in printed
    for claim in load_claims(paths.claims_path(model_id)).claims:
        assert f"  {claim.id} " in printed
    assert (tmp_path / robustness.TABLE).is_file() and (tmp_path / robustness.SUMMARY).is_file()


def test_cli_robustness_errors_are_one_paragraph(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["robustness", MODEL_IDS[0], "--scheduler", "tcp://127.0.0.1:1", "--workers", "2"])
    assert code == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("bcsignal: error:") and err.count("\n") == 1


def test_report_shows_robustness_per_claim(reference: Path) -> None:
    from bcsignal.app import report

    summary = robustness.Summary.from_json(json.loads((reference / robustness.SUMMARY).read_text()))
    svg = report.robustness_plot(summary).decode()
    assert svg.startswith("<?xml") and all(name in svg for name in summary.claims)
    html = report._robustness_html("fragile", summary)
    assert html.count("<tr><td>") == len(summary.claims)
    assert "plots/fragile/robustness.svg" in html and "decisive parameters" in html
    assert "No robustness run yet" in report._robustness_html("fragile", None)
