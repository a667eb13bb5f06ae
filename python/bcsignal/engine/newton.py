"""The damped Newton steady state of a model's conservation-reduced system, and its acceptance tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: A state is steady when every |dx/dt| <= STEADY_RTOL*|x| + STEADY_ATOL (per minute).
STEADY_RTOL = 1e-7
#: Absolute floor of the steady-state test (nM per minute).
STEADY_ATOL = 1e-9
#: Newton iterations before pre-equilibration gives up and integrates instead.
NEWTON_MAX_ITERATIONS = 15
#: Newton stops when this many iterations in a row do not lower its best residual norm (rounding).
NEWTON_STALL = 3
#: Newton stops when every scaled residual (see `Simulator.residual`) is at most this.
NEWTON_RESIDUAL = 1e-6
#: ...or when no step changes any state by more than this relative amount (plus NEWTON_STEP_ATOL).
NEWTON_STEP_RTOL = 1e-12
#: Absolute floor of that step test (nM, or dimensionless for scores).
NEWTON_STEP_ATOL = 1e-15
#: A Newton steady state is accepted only if it is stable: every eigenvalue of the Jacobian on the
#: stoichiometric subspace has a real part below this (per minute). A slower growth would not show
#: within the longest integration horizon either (1/1e7 min), so the test only rejects real instability.
STABILITY_LIMIT = 1e-7
#: States of a Newton solution smaller than this in magnitude (nM) are rounding residue of 0 and set to 0.
NEWTON_ZERO = 1e-20
#: Concentrations down to minus this (nM) count as zero in a Newton solution (CVODE's absolute tolerance);
#: anything more negative rejects the solution.
NEGATIVE_FLOOR = 1e-12

#: The model's rates at a state, and its Jacobian there (given the rates).
Rates = Callable[[np.ndarray], np.ndarray]
Jacobian = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Reduced:
    """What Newton solves: a model's rates and Jacobian, and its conservation laws."""

    rates: Rates
    jacobian: Jacobian
    #: The conservation laws: `weights` @ x equals `totals`, to within `total_scale`.
    weights: np.ndarray
    totals: np.ndarray
    total_scale: np.ndarray
    #: Q, a basis of the conservation-reduced space, and the least-norm lift of a change of the totals.
    basis: np.ndarray
    lift: np.ndarray

    def merit(self, x: np.ndarray, f: np.ndarray) -> tuple[float, np.ndarray]:
        """Return the norm of x's scaled residual (rates `f`) and drift from the totals, and the residual."""
        scaled = np.abs(f) / (STEADY_RTOL * np.abs(x) + STEADY_ATOL)
        drift = (self.weights @ x - self.totals) / self.total_scale
        return float(np.sqrt((scaled * scaled).sum() + (drift * drift).sum())), scaled


def iterate(system: Reduced, x: np.ndarray, f: np.ndarray) -> np.ndarray | str:
    """Return the end point of damped Newton from `x` (rates `f`), or why it stopped early.

    The step is Q dz + p: p restores the conserved totals (`weights` @ x = `totals`, through `lift`), dz
    solves the system reduced to the conservation `basis` Q.
    """
    best, scaled = system.merit(x, f)
    stalled = 0
    for _ in range(NEWTON_MAX_ITERATIONS):
        drift = np.abs(system.weights @ x - system.totals) / system.total_scale
        if scaled.max() <= NEWTON_RESIDUAL and drift.max(initial=0.0) <= 1.0:
            break
        # the step = Q dz + p: p restores the conserved totals, dz solves the reduced system
        jac = system.jacobian(x, f)
        correction = system.lift @ (system.totals - system.weights @ x)
        try:
            dz = np.linalg.solve(
                system.basis.T @ jac @ system.basis, -(system.basis.T @ (f + jac @ correction))
            )
        except np.linalg.LinAlgError:
            return "the reduced Jacobian is singular"
        step = system.basis @ dz + correction
        if not np.isfinite(step).all():
            return "the Newton step is not finite"
        # damp the step (at most 1/16) to keep positive states positive, then project onto x >= 0;
        # the acceptance tests below, not the line search, decide whether the solution is used
        damping = 1.0
        held = x > STEADY_ATOL  # states near 0 are projected, not damped for (they would stall)
        while damping > 1 / 16 and (x + damping * step < 0)[held].any():
            damping /= 2
        trial = np.maximum(x + damping * step, 0.0)
        f = system.rates(trial)
        if not np.isfinite(f).all():
            return "non-finite rates on the way"
        tiny = np.abs(trial - x) <= NEWTON_STEP_RTOL * np.abs(trial) + NEWTON_STEP_ATOL
        x = trial
        norm, scaled = system.merit(x, f)
        if norm < best:
            best, stalled = norm, 0
        else:
            stalled += 1
            if stalled >= NEWTON_STALL:
                break  # converged as far as rounding allows, or stuck: the tests below tell
        if tiny.all():
            break
    return x


def accept(system: Reduced, x: np.ndarray) -> np.ndarray | str:
    """Return Newton's end point `x` as the steady state (rounding residue of 0 set to 0), or why it is not.

    Accepted: no concentration below -NEGATIVE_FLOOR, the steady-state test passed, the conserved totals
    kept and every eigenvalue of the reduced Jacobian's real part below STABILITY_LIMIT.
    """
    if (x < -NEGATIVE_FLOOR).any():
        return "the solution has a negative concentration"
    # rounding leaves ~1e-30 nM where a state is exactly 0 (a knockout): that is 0, as integration has it
    x = np.where(np.abs(x) < NEWTON_ZERO, 0.0, np.maximum(x, 0.0))
    f = system.rates(x)
    if not np.isfinite(f).all():
        return "non-finite rates at the solution"
    _, scaled = system.merit(x, f)
    if not scaled.max() <= 1.0:
        return f"Newton's end point fails the steady-state test ({scaled.max():.3g}x the tolerance)"
    if not (np.abs(system.weights @ x - system.totals) <= system.total_scale).all():
        return "the solution breaks a conservation law"
    jac = system.jacobian(x, f)
    reduced = system.basis.T @ jac @ system.basis
    if reduced.size and np.linalg.eigvals(reduced).real.max() >= STABILITY_LIMIT:
        return "the solution is unstable"
    return x
