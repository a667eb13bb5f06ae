"""Newton steady states against integration: the same states, the same verdicts, a fallback that works."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from bcsignal import paths, registry
from bcsignal.analysis import robustness
from bcsignal.core.errors import BcsignalError
from bcsignal.engine import newton
from bcsignal.engine.claims.results import ClaimResult
from bcsignal.engine.run import run_model, suite_results
from bcsignal.engine.simulate import INTEGRATION, NEWTON, Simulator, new_simulator
from bcsignal.engine.trajectory import ValuesKey
from bcsignal.sbml.build import antimony_to_sbml, write_sbml_string
from bcsignal.spec.claims import load_claims

from .conftest import MODEL_IDS

#: Newton and a converged integration agree on every state to this relative difference...
RTOL = 1e-6
#: ...above this absolute floor (nM, or dimensionless for scores).
ATOL = 1e-9
#: A tightly converged integration: the worst scaled residual it reaches before stopping.
TIGHT = 1e-4
#: Claim margins (log ratios) of Newton and integration pre-equilibration agree to this.
MARGIN_ATOL = 1e-4
#: Margins above this (a fold change of e^20) are saturated: a readout at 0 gives an infinite one.
SATURATED = 20.0
#: Robustness samples per paper model compared Newton against integration.
SAMPLES = 2


def _results(model_id: str, sim: Simulator) -> list[ClaimResult]:
    return run_model(registry.entry(model_id), simulator=sim, certify=False).results


def _simulator(model_id: str, method: str, target: float = 1.0) -> Simulator:
    path = paths.sbml_path(model_id)
    sim = new_simulator(path.read_text(encoding="utf-8"), name=model_id, origin=path)
    sim.steady_state_method = method
    sim.integration_target = target
    return sim


def _states(sim: Simulator, method: str) -> dict[ValuesKey, np.ndarray]:
    """Return the nominal pre-equilibrated states the simulator found with `method`."""
    out = {}
    for key, (state, how) in sim._cache[()].items():
        if how == method:
            out[key] = np.concatenate([state[1], state[2]])
    return out


def _same_margin(x: float, y: float) -> bool:
    if min(x, y) > SATURATED:
        return True
    return math.isclose(x, y, rel_tol=0.0, abs_tol=MARGIN_ATOL) or x == y


def _compare(a: list[ClaimResult], b: list[ClaimResult], *, margins: bool = True) -> None:
    assert [r.test_id for r in a] == [r.test_id for r in b]
    for x, y in zip(a, b, strict=True):
        assert x.passed == y.passed, x.test_id
        if margins:
            assert _same_margin(x.margin, y.margin), f"{x.test_id}: {x.margin} vs {y.margin}"


@pytest.fixture(scope="module")
def pairs() -> dict[str, tuple[Simulator, list[ClaimResult], Simulator, list[ClaimResult]]]:
    """Every model's claims pre-equilibrated by Newton and by a tightly converged integration."""
    out = {}
    for mid in MODEL_IDS:
        newton = _simulator(mid, NEWTON)
        integration = _simulator(mid, INTEGRATION, TIGHT)
        out[mid] = (newton, _results(mid, newton), integration, _results(mid, integration))
    return out


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_newton_states_equal_integrated_states(model_id: str, pairs: dict) -> None:  # type: ignore[type-arg]
    newton, _, integration, _ = pairs[model_id]
    got, want = _states(newton, NEWTON), _states(integration, INTEGRATION)
    assert got and got.keys() <= want.keys()
    for key in got:
        x, y = got[key], want[key]
        scale = np.maximum(np.abs(x), np.abs(y))
        worst = int(np.argmax(np.abs(x - y) - RTOL * scale))
        assert abs(x[worst] - y[worst]) <= RTOL * scale[worst] + ATOL, (
            f"{dict(key)}: {newton._state_ids[worst]} Newton {x[worst]!r}, integration {y[worst]!r}"
        )
    assert newton.newton_solves > 0, "Newton solved no pre-equilibration of this model"


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_newton_leaves_every_verdict_and_margin(model_id: str, pairs: dict) -> None:  # type: ignore[type-arg]
    _, by_newton, _, by_integration = pairs[model_id]
    _compare(by_newton, by_integration)
    # and the verdicts of integration as it stops by default (at the steady-state test, whose absolute
    # floor leaves slow scores up to ~1e-3 relative short of the steady state, so margins move a little)
    _compare(by_newton, _results(model_id, _simulator(model_id, INTEGRATION)), margins=False)
    methods = {m for r in by_newton for m in r.preequilibration.values()}
    assert methods <= {NEWTON, INTEGRATION} and NEWTON in methods


@pytest.mark.parametrize(
    "model_id", [m for m in MODEL_IDS if not load_claims(paths.claims_path(m)).composite]
)
def test_robustness_samples_agree(model_id: str) -> None:
    study = robustness.study_for_model(registry.entry(model_id))
    files = list(registry.entry(model_id).suites)
    rows = {}
    for method in (NEWTON, INTEGRATION):
        sim = _simulator(model_id, method, TIGHT if method == INTEGRATION else 1.0)
        suite_results(model_id, files, sim)  # the nominal states Newton starts from
        rows[method] = [robustness.evaluate_sample(study, sim, files, i) for i in range(SAMPLES)]
        if method == NEWTON:
            assert sim.newton_solves > 0
    for a, b in zip(rows[NEWTON], rows[INTEGRATION], strict=True):
        assert a.ok == b.ok, (a.reason, b.reason)
        if a.margins is not None and b.margins is not None:
            for name, x, y in zip(study.claims, a.margins, b.margins, strict=True):
                assert (x >= 0) == (y >= 0), name
                assert _same_margin(x, y), f"{name}: {x} vs {y}"


def test_a_failed_solve_falls_back_to_integration(monkeypatch: pytest.MonkeyPatch) -> None:
    model_id = MODEL_IDS[0]
    sim = _simulator(model_id, NEWTON)
    knobs = next(
        dict(e.protocol.preequilibration)
        for e in load_claims(paths.claims_path(model_id)).experiments.values()
        if e.protocol.preequilibration
    )
    monkeypatch.setattr(newton, "NEWTON_MAX_ITERATIONS", 0)  # Newton stays at the initial state
    sim.preequilibrate(knobs)
    assert sim.last_preequilibration == INTEGRATION
    assert sum(sim.fallbacks.values()) == 1 and sim.newton_solves == 0
    assert next(iter(sim.fallbacks)).startswith("Newton's end point fails the steady-state test")
    assert sim.residual()[0] <= 1.0
    monkeypatch.undo()
    other = _simulator(model_id, NEWTON)
    other.preequilibrate(knobs)
    assert other.last_preequilibration == NEWTON


BISTABLE = """
model bistable
  unit substance = 1e-9 mole; unit volume = litre; unit time_unit = minute; unit extent = 1e-9 mole
  unit per_min = 1 / minute; unit nM = 1e-9 mole / litre; unit nM_per_min = 1e-9 mole / (litre*minute)
  compartment cell = 1 litre
  species X in cell = 0.5 nM
  production: -> X; cell*(v0 + V*X*X/(K*K + X*X))
  decay: X -> ; cell*kd*X
  v0 = 0 nM_per_min; V = 2.5 nM_per_min; K = 1 nM; kd = 1 per_min
end
"""


def test_an_unstable_steady_state_is_refused(tmp_path: Path) -> None:
    # dX/dt = 2.5 X^2/(1 + X^2) - X is zero at X = 0, 0.5 and 2; the middle one is unstable
    source = tmp_path / "bistable.ant"
    source.write_text(BISTABLE, encoding="utf-8")
    sim = new_simulator(write_sbml_string(antimony_to_sbml(source)), name="bistable")
    sim._restore_initial({})
    assert abs(sim.residual()[0]) <= 1.0  # X = 0.5 is a steady state: 2.5*0.25/1.25 = 0.5
    assert sim.solve_steady_state() == "the solution is unstable"
    stable = Simulator(sim.rr, name="bistable")
    stable._restore_initial({})
    stable._model.setFloatingSpeciesConcentrations([2.0])
    assert stable.solve_steady_state(np.array([2.1])) is None
    assert stable._vector()[0] == pytest.approx(2.0, rel=1e-9)


def test_an_unknown_method_is_our_error() -> None:
    sim = _simulator(MODEL_IDS[0], "bisection")
    with pytest.raises(BcsignalError, match="unknown steady-state method"):
        sim.preequilibrate({})
