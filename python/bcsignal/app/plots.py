"""The report's plots, as deterministic SVG: each claim's readouts over time, and robustness per claim."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bcsignal.analysis.robustness.summary import Summary
from bcsignal.checks.validation import interface_vocabulary
from bcsignal.core.extras import require
from bcsignal.engine.claims.results import ClaimResult
from bcsignal.spec.claims import Claim
from bcsignal.spec.relations import relation

if TYPE_CHECKING:
    from bcsignal.engine.trajectory import Trajectory

#: Width of every plot (inches): the page's text width at 96 px per inch.
PLOT_WIDTH = 11.0
#: Font sizes (points) of the plots' legends and tick labels, and of their axis labels.
LEGEND_POINTS, LABEL_POINTS = 9.5, 10.5


def _unit(readout: str) -> str:
    unit = str(interface_vocabulary()["readouts"].get(readout, {}).get("unit", "nM"))
    return "score" if unit == "dimensionless" else unit


def claim_figure(claim: Claim, result: ClaimResult, trajectories: Mapping[str, Trajectory]) -> Any:
    """Return the matplotlib Figure of a claim: each readout over time in each of its experiments.

    It is the figure the report shows (`claim_plot` saves it as SVG); ``bcsignal.claim(...).plot()``
    returns it in a notebook.
    """
    require("matplotlib", "a claim's plot")
    import matplotlib.pyplot as plt

    how = relation(claim.relation, claim=claim.id)
    roles = how.roles(claim.spec)
    rows = len(claim.readouts)
    fig, axes = plt.subplots(
        rows, 1, figsize=(PLOT_WIDTH, 2.8 * rows + 0.9), sharex=True, squeeze=False, layout="constrained"
    )
    styles = ["-", "--", "-.", ":"]
    for ax, readout in zip(axes[:, 0], claim.readouts, strict=True):
        for i, (name, role) in enumerate(roles.items()):
            traj = trajectories[name]
            ax.plot(
                traj.times, traj.values[readout], styles[i % len(styles)], lw=1.8, label=f"{name} ({role})"
            )
        for mark in how.marks(claim.spec):
            if mark.end is None:
                ax.axvline(mark.start, color="#8c959f", lw=0.8, ls=":")
            else:
                ax.axvspan(mark.start, mark.end, color="#fff8c5", lw=0)
        ax.set_ylabel(f"{readout} ({_unit(readout)})", fontsize=LABEL_POINTS)
        ax.tick_params(labelsize=LEGEND_POINTS)
        ax.grid(True, lw=0.3, alpha=0.6)
        # the legend beside the axes: it never hides a curve, and the figure grows to hold it
        ax.legend(fontsize=LEGEND_POINTS, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    axes[-1, 0].set_xlabel("time since the first phase started (min)", fontsize=LABEL_POINTS)
    verdict = "holds" if result.passed else "FAILS"
    fig.suptitle(f"{claim.id} ({claim.relation}): {verdict}", fontsize=LABEL_POINTS + 1)
    return fig


def _svg(figure: Any) -> bytes:
    """Return a figure as deterministic SVG and close it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    # the saved box holds every artist (labels, legends outside the axes): nothing is clipped
    figure.savefig(
        buffer, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight", pad_inches=0.08
    )
    plt.close(figure)
    return buffer.getvalue()


def _svg_backend() -> None:
    """Draw off-screen, with deterministic SVG ids and text kept as text."""
    matplotlib = require("matplotlib", "the report's plots")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "bcsignal"
    plt.rcParams["svg.fonttype"] = "none"  # text stays text: smaller files, rendered by the browser


def claim_plot(claim: Claim, result: ClaimResult, trajectories: Mapping[str, Trajectory]) -> bytes:
    """Return an SVG plot of each readout of a claim over time in each of its experiments."""
    _svg_backend()
    return _svg(claim_figure(claim, result, trajectories))


def robustness_figure(summary: Summary) -> Any:
    """Return the matplotlib Figure of a robustness summary: per claim the fraction holding (95 % CI)."""
    require("matplotlib", "a robustness plot")
    import matplotlib.pyplot as plt

    names = [*summary.claims, "all claims"]
    entries = [*(c.holds for c in summary.claims.values()), summary.all_claims_hold]
    fractions = [e.fraction if e.fraction is not None else 0.0 for e in entries]
    low = [max(0.0, f - e.interval95[0]) for f, e in zip(fractions, entries, strict=True)]
    high = [max(0.0, e.interval95[1] - f) for f, e in zip(fractions, entries, strict=True)]
    fig, ax = plt.subplots(figsize=(PLOT_WIDTH, 0.26 * len(names) + 1.4), layout="constrained")
    y = list(range(len(names)))[::-1]
    ax.barh(y, fractions, xerr=[low, high], color="#54aeff", ecolor="#57606a", capsize=2, height=0.7)
    ax.set_yticks(y, names, fontsize=LEGEND_POINTS)
    ax.tick_params(axis="x", labelsize=LEGEND_POINTS)
    ax.set_xlim(0, 1)
    ax.set_xlabel(
        f"fraction of {summary.samples} parameter samples where the claim holds\n"
        f"(log-normal, sigma {summary.sigma:g}, seed {summary.seed}; bars: 95 % Wilson interval)",
        fontsize=LABEL_POINTS,
    )
    ax.grid(True, axis="x", lw=0.3, alpha=0.6)
    return fig


def robustness_plot(summary: Summary) -> bytes:
    """Return an SVG bar chart: per claim, the fraction of parameter samples where it holds (95 % CI)."""
    _svg_backend()
    return _svg(robustness_figure(summary))
