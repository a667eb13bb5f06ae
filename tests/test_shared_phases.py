"""Shared phase prefixes: bit-identical to integrating each phase, hit when equal, reset by overrides."""

from __future__ import annotations

import numpy as np
import pytest

from bcsignal import paths, registry
from bcsignal.analysis import robustness
from bcsignal.engine import phases
from bcsignal.engine.claims.plan import evaluate_suite, experiment_plan, planned_readouts, simulate_plan
from bcsignal.engine.simulate import Simulator, new_simulator
from bcsignal.engine.trajectory import Trajectory, values_key
from bcsignal.spec.protocol import Phase, Protocol

from .conftest import MODEL_IDS

#: Robustness samples per model compared with sharing on and off (besides the nominal parameters).
SAMPLES = 1

_STIMULATED = Phase(duration=30, set={"stim": 1.0})
_WASHOUT = Phase(duration=210, set={"stim": 0.0})


def _simulator(model_id: str, *, share: bool) -> Simulator:
    path = paths.sbml_path(model_id)
    sim = new_simulator(path.read_text(encoding="utf-8"), name=model_id, origin=path)
    sim.share_prefixes = share
    return sim


def _repeats_a_prefix(model_id: str) -> bool:
    """Return whether two planned experiments of one of a model's claims files share their first phases."""
    for suite in registry.entry(model_id).suites:
        seen: set[object] = set()
        for plan in experiment_plan(suite):
            steps = phases.steps_of(plan.protocol, plan.observe, dense=plan.dense)
            origin = values_key(plan.protocol.preequilibration)
            keys = {(origin, tuple(steps[: n + 1])) for n in range(len(steps))}
            if seen & keys:
                return True
            seen |= keys
    return False


def _same(a: Trajectory, b: Trajectory) -> bool:
    return (
        np.array_equal(a.times, b.times)
        and a.values.keys() == b.values.keys()
        and all(np.array_equal(a.values[r], b.values[r]) for r in a.values)
        and a.preequilibration == b.preequilibration
    )


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_sharing_leaves_every_trajectory_and_margin(model_id: str) -> None:
    entry = registry.entry(model_id)
    study = robustness.study_for_model(entry)
    on, off = _simulator(model_id, share=True), _simulator(model_id, share=False)
    for index in [None, *range(SAMPLES)]:
        values = (
            {} if index is None else dict(zip(study.parameters, study.values(index).tolist(), strict=True))
        )
        for suite in entry.suites:
            excuse = suite.model != model_id
            trajs = {}
            for sim in (on, off):
                sim.set_overrides(values)
                trajs[sim.share_prefixes] = simulate_plan(suite, sim)
            assert trajs[True].keys() == trajs[False].keys()
            for name in trajs[True]:
                assert _same(trajs[True][name], trajs[False][name]), (suite.model, name, index)
            margins = {
                s: [r.margin for r in evaluate_suite(suite, t, model_id, excuse=excuse)]
                for s, t in trajs.items()
            }
            assert np.array_equal(margins[True], margins[False], equal_nan=True), (suite.model, index)
    assert off.prefix_hits == 0
    # a shared run selects only the readouts the claims read
    assert set(on.prefixes.readouts) == planned_readouts(entry.suites)
    # the comparison means something only where sharing happened
    assert (on.prefix_hits > 0) == _repeats_a_prefix(model_id)


def test_a_shared_prefix_is_hit_and_gives_the_same_numbers(tiny: Simulator, tiny_sbml: str) -> None:
    pulse = Protocol(phases=(_STIMULATED,))
    washout = Protocol(phases=(_STIMULATED, _WASHOUT))
    tiny.run(pulse, ["Sp"])
    assert tiny.prefix_hits == 0
    shared = tiny.run(washout, ["Sp", "F"])
    assert tiny.prefix_hits == 1 and tiny.prefixes.phases_skipped == 1
    alone = new_simulator(tiny_sbml, name="tiny")
    alone.share_prefixes = False
    assert _same(shared, alone.run(washout, ["Sp", "F"]))


def test_a_different_output_grid_is_not_shared(tiny: Simulator) -> None:
    pulse = Protocol(phases=(_STIMULATED,))
    tiny.run(pulse, ["Sp"], dense=False)
    tiny.run(pulse, ["Sp"], (15.0,), dense=False)
    assert tiny.prefix_hits == 0
    tiny.run(pulse, ["Sp"], (15.0,), dense=False)
    assert tiny.prefix_hits == 1


def test_changing_the_overrides_invalidates_the_prefixes(tiny: Simulator, tiny_sbml: str) -> None:
    washout = Protocol(phases=(_STIMULATED, _WASHOUT))
    nominal = tiny.run(washout, ["Sp"])
    parameter = next(p for p in tiny.settable_ids if p not in ("stim", "inh"))
    changed = {parameter: 1.5 * tiny.nominal(parameter)}
    tiny.set_overrides(changed)
    perturbed = tiny.run(washout, ["Sp"])
    assert tiny.prefix_hits == 0
    assert not _same(nominal, perturbed)
    fresh = new_simulator(tiny_sbml, name="tiny")
    fresh.share_prefixes = False
    fresh.set_overrides(changed)
    assert _same(perturbed, fresh.run(washout, ["Sp"]))
    tiny.set_overrides({})  # the nominal partition is kept
    assert _same(nominal, tiny.run(washout, ["Sp"]))
    assert tiny.prefix_hits == 1
    tiny.clear_cache()
    tiny.run(washout, ["Sp"])
    assert tiny.prefix_hits == 1


def test_no_prefix_is_shared_without_the_cache(tiny: Simulator, tiny_sbml: str) -> None:
    """`caching = False` (every experiment computes its own state) turns prefix sharing off too."""
    washout = Protocol(phases=(_STIMULATED, _WASHOUT))
    tiny.caching = False
    tiny.run(Protocol(phases=(_STIMULATED,)), ["Sp"])
    uncached = tiny.run(washout, ["Sp"])
    assert tiny.prefix_hits == 0 and len(tiny.prefixes) == 0
    alone = new_simulator(tiny_sbml, name="tiny")
    alone.share_prefixes = False
    assert _same(uncached, alone.run(washout, ["Sp"]))


def test_declared_readouts_are_all_a_shared_run_selects(tiny: Simulator, tiny_sbml: str) -> None:
    """Selecting only the declared readouts gives the numbers of selecting every readout of the model."""
    washout = Protocol(phases=(_STIMULATED, _WASHOUT))
    everything = new_simulator(tiny_sbml, name="tiny")
    full = everything.run(washout, ["Sp"])
    assert len(everything.prefixes.columns) == 1 + len(everything.readout_ids)
    phases.select_readouts(tiny, ["Sp", "not_an_id"])
    assert tiny.prefixes.columns == ["time", "[Sp]"]
    assert _same(tiny.run(washout, ["Sp"]), full)
    tiny.run(Protocol(phases=(_STIMULATED,)), ["Sp"])
    assert tiny.prefix_hits == 1
    phases.select_readouts(tiny, ["Sp"])  # already selected: the prefixes stay
    assert len(tiny.prefixes) == 2
    # reading an undeclared readout adds it and forgets the prefixes (their tables lack it)
    grown = tiny.run(washout, ["Sp", "F"])
    assert tiny.prefixes.readouts == ("F", "Sp") and tiny.prefix_hits == 1
    assert _same(grown, everything.run(washout, ["Sp", "F"]))
    assert _same(grown, tiny.run(washout, ["Sp", "F"])) and tiny.prefix_hits == 2
