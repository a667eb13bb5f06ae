"""The curation report: an offline static HTML site showing what each model does and why to trust it."""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import libsbml
import numpy as np

from bcsignal import __version__, certify, compose, paths
from bcsignal.annotate import Provenance, citation_text, read_provenance
from bcsignal.claims import (
    Claim,
    ClaimResult,
    ClaimsFile,
    check_suites,
    evaluate,
    load_claims,
    papers_of,
    simulate_experiments,
    suites,
    title_of,
)
from bcsignal.crosscheck import ModelCheck, check_model
from bcsignal.errors import BcsignalError
from bcsignal.extras import require
from bcsignal.files import atomic_write_bytes, atomic_write_text, staged_folder
from bcsignal.screen import read_screened
from bcsignal.simulate import Trajectory, new_simulator
from bcsignal.validation import Report, interface_vocabulary, read_document, validate_model

#: Size of the network diagram (SVG user units).
NETWORK_WIDTH, NETWORK_HEIGHT = 960, 640
#: Iterations of the force-directed layout.
LAYOUT_ITERATIONS = 400
#: Where plots go inside the report folder.
PLOTS = "plots"
#: Where copies of the SBML go inside the report folder.
FILES = "files"

_CSS = "\n".join(
    [
        "body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;",
        "color:#1d2733;background:#fafbfc}",
        "main{max-width:1180px;margin:0 auto;padding:1.5rem}",
        "h1{font-size:1.7rem;margin:.2rem 0 1rem}",
        "h2{border-bottom:2px solid #d0d7de;padding-bottom:.3rem;margin-top:2.5rem}",
        "h3{margin-top:1.6rem}",
        "table{border-collapse:collapse;width:100%;margin:.5rem 0;font-size:.88rem;background:#fff}",
        "th,td{border:1px solid #d0d7de;padding:.3rem .45rem;vertical-align:top;text-align:left}",
        "th{background:#eef1f4}",
        "td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}",
        ".pass{color:#116329;font-weight:600}",
        ".fail{color:#b3261e;font-weight:700}",
        ".badge{display:inline-block;border-radius:.6rem;padding:0 .45rem;font-size:.75rem;",
        "background:#ddf4ff;color:#0550ae}",
        "figure{margin:1rem 0;background:#fff;border:1px solid #d0d7de;padding:.5rem}",
        "figure img{max-width:100%;height:auto}",
        "figcaption{font-size:.85rem;color:#57606a}",
        ".network{width:100%;height:auto;background:#fff;border:1px solid #d0d7de}",
        "nav ul{columns:2}",
        "code{font-size:.85em}",
        ".small{font-size:.8rem;color:#57606a}",
    ]
)


@dataclass
class ModelSection:
    """Everything the report shows for one model."""

    model_id: str
    claims: ClaimsFile
    results: list[ClaimResult]
    trajectories: dict[str, Trajectory]
    provenance: dict[str, Provenance]
    validation: list[Report]
    crosscheck: ModelCheck | None
    sbml: str
    robustness: dict[str, Any] | None = None
    #: A composite's results for its papers' claims (run against it), apart from its own claims.
    paper_results: list[ClaimResult] = field(default_factory=list)


def read_robustness(model_id: str) -> dict[str, Any] | None:
    """Return the summary of the model's last default robustness run, if there is one."""
    path = robustness_summary_path(model_id)
    if not path.is_file():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BcsignalError(f"cannot read the robustness summary: {exc}", file=path) from exc
    if data.get("model") != model_id or not isinstance(data.get("claims"), dict):
        raise BcsignalError(f"not a robustness summary of {model_id}", file=path)
    return data


def collect(model_id: str, *, with_crosscheck: bool = True) -> ModelSection:
    """Simulate, validate and cross-check one shipped model for the report."""
    path = paths.sbml_path(model_id)
    sbml = path.read_text(encoding="utf-8")
    claims = load_claims(paths.claims_path(model_id))
    sim = new_simulator(sbml, name=model_id, origin=path)
    trajectories = simulate_experiments(claims, sim)
    results = [evaluate(c, trajectories, model_id) for c in claims.claims]
    papers = [suite for suite in suites(claims) if suite is not claims]
    paper_results = check_suites(model_id, papers, sim) if papers else []
    certify.certify(
        model_id,
        [*papers, claims],
        [*paper_results, *results],
        sbml,
        origin=path,
        comp=certify.composite_document(model_id),
    )
    return ModelSection(
        model_id=model_id,
        claims=claims,
        results=results,
        trajectories=trajectories,
        provenance=read_provenance(paths.parameters_path(model_id)),
        validation=validate_model(model_id),
        crosscheck=check_model(model_id, sbml, claims, origin=path) if with_crosscheck else None,
        sbml=sbml,
        robustness=read_robustness(model_id),
        paper_results=paper_results,
    )


# ---------------------------------------------------------------------------
# Network diagram
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Network:
    """Species and reactions of a model as a bipartite graph."""

    species: list[tuple[str, str]]  # id, display name
    reactions: list[tuple[str, str, str]]  # id, display name, rate law
    edges: list[tuple[str, str, str]]  # from, to, kind: reactant | product | modifier


def network(sbml: str) -> Network:
    """Read the species, reactions, reactants, products and modifiers of an SBML model."""
    doc = libsbml.readSBMLFromString(sbml)
    model = doc.getModel()
    if model is None:
        raise BcsignalError("the SBML has no model", tool="libsbml")
    species = [(s.getId(), s.getName() or s.getId()) for s in model.getListOfSpecies()]
    reactions = []
    edges = []
    for r in model.getListOfReactions():
        law = r.getKineticLaw()
        formula = libsbml.formulaToL3String(law.getMath()) if law is not None and law.isSetMath() else ""
        reactions.append((r.getId(), r.getName() or r.getId(), formula))
        edges += [(s.getSpecies(), r.getId(), "reactant") for s in r.getListOfReactants()]
        edges += [(r.getId(), s.getSpecies(), "product") for s in r.getListOfProducts()]
        edges += [(m.getSpecies(), r.getId(), "modifier") for m in r.getListOfModifiers()]
    return Network(species, reactions, edges)


def layout(nodes: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, tuple[float, float]]:
    """Place nodes with a deterministic force-directed layout (Fruchterman-Reingold) in the unit square."""
    n = len(nodes)
    if n == 0:
        return {}
    index = {node: i for i, node in enumerate(nodes)}
    angle = 2 * np.pi * np.arange(n) / n
    pos = 0.5 + 0.45 * np.column_stack([np.cos(angle), np.sin(angle)])
    links = np.array([(index[a], index[b]) for a, b in edges if a in index and b in index], dtype=int)
    k = math.sqrt(1.0 / n)
    for step in range(LAYOUT_ITERATIONS):
        delta = pos[:, None, :] - pos[None, :, :]
        dist = np.maximum(np.linalg.norm(delta, axis=2), 1e-3)
        force = (delta / dist[..., None] * (k * k / dist)[..., None]).sum(axis=1)
        if links.size:
            d = pos[links[:, 0]] - pos[links[:, 1]]
            length = np.maximum(np.linalg.norm(d, axis=1), 1e-3)
            pull = d / length[:, None] * (length * length / k)[:, None]
            np.add.at(force, links[:, 0], -pull)
            np.add.at(force, links[:, 1], pull)
        force += (0.5 - pos) * 0.5 * k  # gentle gravity keeps unconnected parts on the page
        temperature = 0.1 * (1 - step / LAYOUT_ITERATIONS) + 0.002
        norm = np.maximum(np.linalg.norm(force, axis=1), 1e-9)
        pos += force / norm[:, None] * np.minimum(norm, temperature)[:, None]
    low, high = pos.min(axis=0), pos.max(axis=0)
    span = np.where(high - low > 1e-9, high - low, 1.0)
    pos = (pos - low) / span
    return {node: (float(pos[i, 0]), float(pos[i, 1])) for node, i in index.items()}


def network_svg(net: Network) -> str:
    """Return an SVG diagram: species as labelled boxes, reactions as squares, modifiers dashed."""
    nodes = [s for s, _ in net.species] + [r for r, _, _ in net.reactions]
    where = layout(nodes, [(a, b) for a, b, _ in net.edges])
    margin_x, margin_y = 70, 30

    def xy(node: str) -> tuple[float, float]:
        x, y = where[node]
        return margin_x + x * (NETWORK_WIDTH - 2 * margin_x), margin_y + y * (NETWORK_HEIGHT - 2 * margin_y)

    out = [
        '<svg class="network" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {NETWORK_WIDTH} {NETWORK_HEIGHT}" role="img" aria-label="reaction network">',
        "<defs>"
        '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#57606a"/></marker>'
        '<marker id="dot" viewBox="0 0 10 10" refX="5" refY="5" markerWidth="5" markerHeight="5">'
        '<circle cx="5" cy="5" r="4" fill="#8250df"/></marker></defs>',
    ]
    for a, b, kind in net.edges:
        (x1, y1), (x2, y2) = xy(a), xy(b)
        if kind == "modifier":
            style = 'stroke="#8250df" stroke-dasharray="4 3" marker-end="url(#dot)"'
        elif kind == "product":
            style = 'stroke="#57606a" marker-end="url(#arrow)"'
        else:
            style = 'stroke="#57606a"'
        out.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke-width="1.2" {style}/>'
        )
    for rid, name, formula in net.reactions:
        x, y = xy(rid)
        out.append(
            f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="#fff" stroke="#24292f">'
            f"<title>{escape(name)}: {escape(formula)}</title></rect>"
        )
    for sid, name in net.species:
        x, y = xy(sid)
        width = 7.2 * len(sid) + 10
        out.append(
            f'<g><rect x="{x - width / 2:.1f}" y="{y - 10:.1f}" width="{width:.1f}" height="20" rx="6" '
            f'fill="#ddf4ff" stroke="#0969da"><title>{escape(name)}</title></rect>'
            f'<text x="{x:.1f}" y="{y + 4:.1f}" font-size="12" text-anchor="middle" '
            f'font-family="monospace">{escape(sid)}</text></g>'
        )
    out.append("</svg>")
    return "\n".join(out)


# ---------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------
def _roles(claim: Claim) -> dict[str, str]:
    spec = claim.spec
    if "conditions" in spec:
        return {n: f"condition {i + 1}" for i, n in enumerate(spec["conditions"])}
    if "condition" in spec:
        return {spec["condition"]: "condition"}
    return {spec["control"]: "control", spec["perturbed"]: "perturbed"}


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

    roles = _roles(claim)
    rows = len(claim.readouts)
    fig, axes = plt.subplots(rows, 1, figsize=(7.0, 2.6 * rows + 0.6), sharex=True, squeeze=False)
    styles = ["-", "--", "-.", ":"]
    for ax, readout in zip(axes[:, 0], claim.readouts, strict=True):
        for i, (name, role) in enumerate(roles.items()):
            traj = trajectories[name]
            ax.plot(
                traj.times, traj.values[readout], styles[i % len(styles)], lw=1.8, label=f"{name} ({role})"
            )
        at = claim.spec.get("at", "end")
        if at != "end":
            ax.axvline(float(at), color="#8c959f", lw=0.8, ls=":")
        if "after" in claim.spec:
            ax.axvline(float(claim.spec["after"]), color="#8c959f", lw=0.8, ls=":")
        if "peak_window" in claim.spec:
            t1, t2 = claim.spec["peak_window"]
            ax.axvspan(float(t1), float(t2), color="#fff8c5", lw=0)
        ax.set_ylabel(f"{readout} ({_unit(readout)})")
        ax.grid(True, lw=0.3, alpha=0.6)
        ax.legend(fontsize=7, loc="best")
    axes[-1, 0].set_xlabel("time since the first phase started (min)")
    verdict = "holds" if result.passed else "FAILS"
    fig.suptitle(f"{claim.id} ({claim.relation}): {verdict}", fontsize=10)
    fig.subplots_adjust(
        left=0.12, right=0.97, top=1 - 0.45 / fig.get_figheight(), bottom=0.55 / fig.get_figheight()
    )
    return fig


def _svg(figure: Any) -> bytes:
    """Return a figure as deterministic SVG and close it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
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


def robustness_summary_path(model_id: str) -> Path:
    """Return where `bcsignal robustness MODEL` writes its summary by default."""
    return paths.build_dir() / "robustness" / model_id / "summary.json"


def robustness_figure(summary: Mapping[str, Any]) -> Any:
    """Return the matplotlib Figure of a robustness summary: per claim the fraction holding (95 % CI)."""
    require("matplotlib", "a robustness plot")
    import matplotlib.pyplot as plt

    names = [*summary["claims"], "all claims"]
    entries = [*(summary["claims"][n]["holds"] for n in summary["claims"]), summary["all_claims_hold"]]
    fractions = [e["fraction"] if e["fraction"] is not None else 0.0 for e in entries]
    low = [max(0.0, f - e["interval95"][0]) for f, e in zip(fractions, entries, strict=True)]
    high = [max(0.0, e["interval95"][1] - f) for f, e in zip(fractions, entries, strict=True)]
    fig, ax = plt.subplots(figsize=(7.0, 0.22 * len(names) + 1.0))
    y = list(range(len(names)))[::-1]
    ax.barh(y, fractions, xerr=[low, high], color="#54aeff", ecolor="#57606a", capsize=2, height=0.7)
    ax.set_yticks(y, names, fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_xlabel(
        f"fraction of {summary['samples']} parameter samples where the claim holds "
        f"(log-normal, sigma {summary['sigma']:g}, seed {summary['seed']}; bars: 95 % interval)",
        fontsize=8,
    )
    ax.grid(True, axis="x", lw=0.3, alpha=0.6)
    fig.tight_layout()
    return fig


def robustness_plot(summary: Mapping[str, Any]) -> bytes:
    """Return an SVG bar chart: per claim, the fraction of parameter samples where it holds (95 % CI)."""
    _svg_backend()
    return _svg(robustness_figure(summary))


def _robustness_html(model_id: str, summary: Mapping[str, Any] | None) -> str:
    if summary is None:
        return (
            f"<p class=small>No robustness run yet: <code>bcsignal robustness {escape(model_id)}</code> "
            "writes one, and the next report shows it.</p>"
        )
    rows = [
        "<table><thead><tr><th>claim</th><th>holds</th><th>95 % interval</th>"
        "<th>decisive parameters (Spearman rho)</th></tr></thead><tbody>"
    ]
    for name, entry in summary["claims"].items():
        holds = entry["holds"]
        fraction = "-" if holds["fraction"] is None else f"{holds['fraction']:.3f}"
        low, high = holds["interval95"]
        top = ", ".join(f"{t['parameter']} {t['spearman']:+.2f}" for t in entry["top_parameters"][:3])
        rows.append(
            f"<tr><td>{escape(name)}</td><td class=num>{fraction}</td>"
            f"<td class=num>[{low:.3f}, {high:.3f}]</td><td>{escape(top)}</td></tr>"
        )
    rows.append("</tbody></table>")
    plot = f'<p><img src="{PLOTS}/{escape(model_id)}/robustness.svg" alt="robustness of each claim"></p>'
    return plot + "".join(rows)


# ---------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------
def _fmt(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) else str(x)


def _reference_link(reference: str) -> str:
    if reference.startswith("doi:"):
        return f'<a href="https://doi.org/{escape(reference[4:])}">{escape(reference)}</a>'
    if reference.startswith("pubmed:"):
        return f'<a href="https://pubmed.ncbi.nlm.nih.gov/{escape(reference[7:])}/">{escape(reference)}</a>'
    if reference.startswith("BIOMD"):
        return f'<a href="https://www.ebi.ac.uk/biomodels/{escape(reference)}">{escape(reference)}</a>'
    return escape(reference)


def _status(ok: bool, yes: str = "pass", no: str = "FAIL") -> str:
    return f'<span class="pass">{yes}</span>' if ok else f'<span class="fail">{no}</span>'


def _paper_html(section: ModelSection) -> str:
    html: list[str] = []
    for paper in papers_of(section.claims):
        doi, pubmed = str(paper["doi"]), str(paper["pubmed"])
        links = [
            f'<a href="https://doi.org/{escape(doi)}">doi:{escape(doi)}</a>',
            f'<a href="https://pubmed.ncbi.nlm.nih.gov/{escape(pubmed)}/">PubMed {escape(pubmed)}</a>',
        ]
        html += [f"<p>{escape(citation_text(paper))}</p>", f"<p>{' · '.join(links)}</p>"]
        if paper.get("comment"):
            html.append(f'<p class="small">{escape(str(paper["comment"]))}</p>')
        related = paper.get("related", [])
        if related:
            html.append("<p>Related sources:</p><ul>")
            for rel in related:
                ref = f' (<a href="https://doi.org/{escape(rel["doi"])}">doi</a>)' if rel.get("doi") else ""
                html.append(f"<li>{escape(rel.get('role', ''))}: {escape(rel['citation'])}{ref}</li>")
            html.append("</ul>")
    return "\n".join(html)


def _certificate_html(result: ClaimResult, fractions: Mapping[str, float]) -> str:
    """Return a claim's certificate: its status, each cut's verdict and margin, its robustness."""
    certificate = result.certificate
    if certificate is None:
        return ""
    good = certificate.status in (certify.CERTIFIED, certify.DEFINITION)
    parts = [_status(good, escape(certificate.status), escape(certificate.status))]
    for cut in certificate.cuts:
        shown = _fmt(cut.margin) if cut.margin is not None else escape(str(cut.problem))
        parts.append(f"<br><span class=small>{escape(cut.cut.label)}: {escape(cut.verdict)} ({shown})</span>")
    if result.claim.mechanism_note:
        parts.append(f"<br><span class=small>mechanism: “{escape(result.claim.mechanism_note)}”</span>")
    if result.claim.sufficiency:
        alone = ", ".join(result.claim.sufficiency["alone"])
        parts.append(f"<br><span class=small>sufficient alone: {escape(alone)}</span>")
    fraction = fractions.get(certify.robustness_name(result))
    if fraction is not None:
        parts.append(f"<br><span class=small>robustness: holds in {fraction:.0%} of samples</span>")
    return "".join(parts)


def _claims_html(section: ModelSection) -> str:
    mid = section.model_id
    passed = sum(r.passed for r in section.results)
    fractions = certify.robustness_fractions(section.robustness)
    statuses = [r.certificate.status for r in [*section.results, *section.paper_results] if r.certificate]
    counted = "; ".join(f"{statuses.count(s)} {s}" for s in certify.STATUSES if s in statuses)
    rows = [
        f"<p>{passed} of {len(section.results)} claims hold. Certificates: {escape(counted)}.</p>",
        "<table><thead><tr><th>claim</th><th>statement</th><th>source</th><th>expected</th>"
        "<th>observed</th><th>margin</th><th>result</th><th>certificate</th></tr></thead><tbody>",
    ]
    for result in section.results:
        claim = result.claim
        badge = ' <span class="badge">prediction</span>' if claim.prediction else ""
        source = escape(claim.source) + (
            f", {escape(str(claim.spec['figure']))}" if "figure" in claim.spec else ""
        )
        observed = "<br>".join(
            f"<code>{escape(r.readout)}</code>: "
            + ", ".join(f"{escape(k)} = {_fmt(v)}" for k, v in r.values.items())
            + f" → {_fmt(r.observed)}"
            for r in result.readouts
        )
        expected = "<br>".join(f"{escape(claim.relation)}: {escape(r.expected)}" for r in result.readouts)
        anchor = f"{escape(mid)}--{escape(claim.id)}"
        rows.append(
            f'<tr id="{anchor}"><td><a href="#plot-{anchor}">'
            f"{escape(claim.id)}</a>{badge}</td><td>{escape(claim.statement)}</td><td>{source}</td>"
            f'<td>{expected}</td><td>{observed}</td><td class="num">{_fmt(result.margin)}</td>'
            f"<td>{_status(result.passed)}</td><td>{_certificate_html(result, fractions)}</td></tr>"
        )
    rows.append("</tbody></table>")
    if section.paper_results:
        held = sum(r.ok for r in section.paper_results)
        rows += [
            f"<p>The papers' own claims, run against this composite: {held} of "
            f"{len(section.paper_results)} hold (or are excused with a reason).</p>",
            "<table><thead><tr><th>claim</th><th>statement</th><th>margin</th><th>result</th>"
            "<th>certificate</th></tr></thead><tbody>",
        ]
        for result in section.paper_results:
            verdict = _status(result.passed) if not result.excused else _status(False, no="excused")
            rows.append(
                f"<tr><td>{escape(result.test_id)}</td><td>{escape(result.claim.statement)}</td>"
                f'<td class="num">{_fmt(result.margin)}</td><td>{verdict}</td>'
                f"<td>{_certificate_html(result, fractions)}</td></tr>"
            )
        rows.append("</tbody></table>")
    return "\n".join(rows)


def _plots_html(section: ModelSection) -> str:
    mid = section.model_id
    out = []
    for result in section.results:
        claim = result.claim
        out.append(
            f'<figure id="plot-{escape(mid)}--{escape(claim.id)}">'
            f'<img src="{PLOTS}/{escape(mid)}/{escape(claim.id)}.svg" alt="{escape(claim.id)}: '
            f'{", ".join(claim.readouts)} over time" width="700">'
            f"<figcaption><b>{escape(claim.id)}</b>: {escape(claim.statement)} "
            f'<a href="#{escape(mid)}--{escape(claim.id)}">back to the table</a></figcaption></figure>'
        )
    return "\n".join(out)


def _parameters_html(section: ModelSection) -> str:
    rows = [
        "<table><thead><tr><th>parameter</th><th>value</th><th>unit</th><th>SBO</th><th>source</th>"
        "<th>reference</th><th>note</th></tr></thead><tbody>"
    ]
    for row in section.provenance.values():
        rows.append(
            f"<tr><td><code>{escape(row.id)}</code></td><td class=num>{row.value:.6g}</td>"
            f"<td>{escape(row.unit)}</td><td>{escape(row.sbo)}</td><td>{escape(row.source)}</td>"
            f"<td>{_reference_link(row.reference)}</td><td>{escape(row.note)}</td></tr>"
        )
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _validation_html(report: Report) -> str:
    verdict = _status(report.ok(strict=True), "valid", "INVALID")
    html = [
        f"<p>{verdict}: {len(report.errors)} error(s), {len(report.warnings)} warning(s) over every libsbml "
        "consistency category with strict units, plus bcsignal's checks (finite values, interface, "
        "parameter provenance, steady initial state, annotations).</p>"
    ]
    if report.issues:
        html.append("<ul>")
        html += [f"<li>{escape(str(issue))}</li>" for issue in report.issues]
        html.append("</ul>")
    return "\n".join(html)


def _crosscheck_html(check: ModelCheck | None) -> str:
    if check is None:
        return "<p>Not run.</p>"
    html = [
        f"<p>{_status(check.passed, 'agree', 'DIFFER')}: every readout of every claimed experiment at every "
        "output time, libroadrunner (CVODE) against COPASI (LSODA), both at relative tolerance 1e-10 and "
        "absolute 1e-14; agreement means |a − b| ≤ 1e-12 + 1e-4·|b|. COPASI imported the SBML with no "
        f"error ({check.import_warnings} warning(s), e.g. MIRIAM resources it does not know).</p>"
    ]
    if check.initial_mismatches:
        html.append("<p class=fail>Initial values differ:</p><ul>")
        html += [f"<li>{escape(m)}</li>" for m in check.initial_mismatches]
        html.append("</ul>")
    html.append(
        "<table><thead><tr><th>experiment</th><th>readouts</th><th>output times</th>"
        "<th>worst |a − b| / bound</th><th>result</th></tr></thead><tbody>"
    )
    for e in check.experiments:
        score = e.worst.score if e.worst else 0.0
        html.append(
            f"<tr><td>{escape(e.experiment)}</td><td>{escape(', '.join(e.readouts))}</td>"
            f'<td class="num">{e.points}</td><td class="num">{score:.3g}</td>'
            f"<td>{_status(e.passed)}</td></tr>"
        )
    html.append("</tbody></table>")
    return "\n".join(html)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


MERGE_COLUMNS = ("element", "model", "action", "became", "why")


def merge_map_html(rows: Sequence[Mapping[str, str]]) -> str:
    """Render merge-map rows (compose.merge_map_rows) as a table."""
    return _table(MERGE_COLUMNS, [[row[c] for c in MERGE_COLUMNS] for row in rows])


def _merge_map_section(model_id: str) -> list[str]:
    comp_file = paths.sbml_dir() / f"{model_id}_comp.xml"
    if not (comp_file.is_file() and compose.merge_map_path(model_id).is_file()):
        return []
    doc = read_document(read_screened(comp_file), str(comp_file))
    rows = compose.merge_map_rows(model_id, doc)
    return [
        f"<h3>Merge map</h3><p class=small>{len(rows)} submodel elements replaced, shared or deleted "
        f"({escape(compose.merge_map_path(model_id).name)}).</p>",
        merge_map_html(rows),
    ]


def _model_html(section: ModelSection, omex: Path | None) -> str:
    mid = section.model_id
    net = network(section.sbml)
    files = [f'<a href="{FILES}/{escape(mid)}.xml">SBML</a>']
    if omex is not None:
        files.append(f'<a href="{escape(omex.as_posix())}">COMBINE/OMEX archive</a>')
    return "\n".join(
        [
            f'<section id="{escape(mid)}"><h2>{escape(mid)}</h2>',
            f"<p><b>{escape(title_of(section.claims))}</b> — {' · '.join(files)}</p>",
            "<h3>Paper</h3>",
            _paper_html(section),
            f"<h3>Network</h3><p class=small>{len(net.species)} species (boxes) and {len(net.reactions)} "
            "reactions (squares); arrows point to products, dashed lines are modifiers. Hover for names "
            "and rate laws.</p>",
            network_svg(net),
            "<h3>Claims</h3>",
            _claims_html(section),
            "<h3>Plots</h3>",
            _plots_html(section),
            "<h3>Parameters</h3>",
            _parameters_html(section),
            "<h3>Validation</h3>",
            *(_validation_html(report) for report in section.validation),
            "<h3>Cross-simulator agreement</h3>",
            _crosscheck_html(section.crosscheck),
            "<h3>Robustness under parameter uncertainty</h3>",
            _robustness_html(mid, section.robustness),
            *_merge_map_section(mid),
            "</section>",
        ]
    )


def render(sections: Sequence[ModelSection], folder: Path, *, omex_folder: Path | None = None) -> Path:
    """Write the site (index.html, plots, SBML copies) into a folder; return the index path."""
    summary = [
        "<table><thead><tr><th>model</th><th>paper</th><th>claims</th><th>validation</th>"
        "<th>libroadrunner vs COPASI</th></tr></thead><tbody>"
    ]
    bodies = []
    for section in sections:
        mid = section.model_id
        for result in section.results:
            plot = claim_plot(result.claim, result, section.trajectories)
            atomic_write_bytes(folder / PLOTS / mid / f"{result.claim.id}.svg", plot)
        atomic_write_text(folder / FILES / f"{mid}.xml", section.sbml)
        if section.robustness is not None:
            atomic_write_bytes(folder / PLOTS / mid / "robustness.svg", robustness_plot(section.robustness))
        omex = None
        if omex_folder is not None and (omex_folder / f"{mid}.omex").is_file():
            omex = Path(_relative(omex_folder / f"{mid}.omex", folder))
        bodies.append(_model_html(section, omex))
        every = [*section.results, *section.paper_results]
        passed = sum(r.ok for r in every)
        count = f"{passed}/{len(every)}"
        papers = papers_of(section.claims)
        first = papers[0] if papers else {"authors": section.model_id, "year": ""}
        cited = f"{str(first['authors']).split(',')[0]} et al. {first['year']}"
        if len(papers) > 1:
            cited = f"{len(papers)} papers"
        cross = (
            "not run" if section.crosscheck is None else _status(section.crosscheck.passed, "agree", "DIFFER")
        )
        summary.append(
            f'<tr><td><a href="#{escape(mid)}">{escape(mid)}</a></td>'
            f"<td>{escape(cited)}</td>"
            f"<td>{_status(passed == len(every), count, count)}</td>"
            f"<td>{_status(all(r.ok(strict=True) for r in section.validation), 'valid', 'INVALID')}</td>"
            f"<td>{cross}</td></tr>"
        )
    summary.append("</tbody></table>")
    page = "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<link rel="icon" href="data:,">',
            "<title>bcsignal curation report</title>",
            f"<style>{_CSS}</style></head><body><main>",
            "<h1>bcsignal curation report</h1>",
            f"<p>Curated SBML models of breast-cancer signalling (bcsignal {escape(__version__)}). For each "
            "model: the paper, the reaction network, every claim with its numbers and a plot, the parameters "
            "with their provenance, the validation and the cross-simulator check.</p>",
            *summary,
            *bodies,
            "</main></body></html>",
        ]
    )
    index = folder / "index.html"
    atomic_write_text(index, page + "\n")
    return index


def _relative(target: Path, folder: Path) -> str:
    return Path(os.path.relpath(target.resolve(), folder.resolve())).as_posix()


def report_dir() -> Path:
    """Return the default report folder."""
    return paths.build_dir() / "report"


def build_report(
    model_ids: Sequence[str], folder: Path | None = None, *, with_crosscheck: bool = True
) -> Path:
    """Collect every model and write the report; return the index path."""
    from bcsignal.exchange import omex_dir

    folder = folder or report_dir()
    sections = [collect(mid, with_crosscheck=with_crosscheck) for mid in model_ids]
    with staged_folder(folder) as staging:  # an interrupted run leaves the previous complete report
        index = render(sections, staging, omex_folder=omex_dir())
    return folder / index.relative_to(staging)
