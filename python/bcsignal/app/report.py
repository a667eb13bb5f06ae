"""The curation report: an offline static HTML site showing what each model does and why to trust it."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import libsbml

from bcsignal import __version__, registry
from bcsignal.analysis.robustness.summary import Summary
from bcsignal.app.plots import LABEL_POINTS as LABEL_POINTS
from bcsignal.app.plots import LEGEND_POINTS as LEGEND_POINTS
from bcsignal.app.plots import PLOT_WIDTH as PLOT_WIDTH
from bcsignal.app.plots import claim_figure as claim_figure
from bcsignal.app.plots import claim_plot as claim_plot
from bcsignal.app.plots import robustness_figure as robustness_figure
from bcsignal.app.plots import robustness_plot as robustness_plot
from bcsignal.checks.validation import Report, read_document
from bcsignal.core.errors import BcsignalError
from bcsignal.core.extras import require
from bcsignal.core.files import atomic_write_bytes, atomic_write_text, staged_folder
from bcsignal.core.screen import read_screened
from bcsignal.engine import certify
from bcsignal.engine.claims.results import ClaimResult
from bcsignal.registry import ModelEntry
from bcsignal.sbml import compose, diagram
from bcsignal.sbml.annotate import citation_text
from bcsignal.spec.claims import Claim, ClaimsFile
from bcsignal.spec.provenance import Provenance

if TYPE_CHECKING:
    from bcsignal.app.crosscheck import ModelCheck
    from bcsignal.engine.run import ModelRun
    from bcsignal.engine.trajectory import Trajectory

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
        "figure img{width:100%;height:auto}",
        "figcaption{font-size:.85rem;color:#57606a}",
        ".diagram{overflow:auto;max-height:56rem;background:#fff;border:1px solid #d0d7de}",
        ".network{display:block}",
        ".legend svg{vertical-align:middle;margin:0 .2rem 0 .8rem}",
        ".cert{font-size:.8rem;color:#57606a;margin:.15rem 0 0;padding-left:1rem}",
        "nav ul{columns:2}",
        "code{font-size:.85em}",
        ".small{font-size:.8rem;color:#57606a}",
    ]
)


@dataclass
class ModelSection:
    """Everything the report shows for one model: its run (dense), validation, cross-check and robustness."""

    run: ModelRun
    validation: list[Report]
    crosscheck: ModelCheck | None
    robustness: Summary | None = None

    @property
    def entry(self) -> ModelEntry:
        """Return the model's registry entry."""
        return self.run.entry

    @property
    def model_id(self) -> str:
        """Return the model id."""
        return self.run.entry.id

    @property
    def claims(self) -> ClaimsFile:
        """Return the model's own claims file."""
        return self.run.own.claims

    @property
    def results(self) -> list[ClaimResult]:
        """Return the results of the model's own claims."""
        return self.run.own.results

    @property
    def paper_results(self) -> list[ClaimResult]:
        """Return a composite's results for its papers' claims (run against it)."""
        return self.run.paper_results

    @property
    def trajectories(self) -> dict[str, Trajectory]:
        """Return the dense trajectories of the model's own experiments."""
        return self.run.own.trajectories

    @property
    def provenance(self) -> dict[str, Provenance]:
        """Return the model's parameter provenance table."""
        return self.run.entry.provenance

    @property
    def sbml(self) -> str:
        """Return the model's flat SBML text."""
        return self.run.entry.sbml_text()


def read_robustness(entry: ModelEntry) -> Summary | None:
    """Return the summary of the model's last default robustness run, if there is one."""
    path = robustness_summary_path(entry)
    if not path.is_file():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BcsignalError(f"cannot read the robustness summary: {exc}", file=path) from exc
    if data.get("model") != entry.id or not isinstance(data.get("claims"), dict):
        raise BcsignalError(f"not a robustness summary of {entry.id}", file=path)
    return Summary.from_json(data, origin=str(path))


# ---------------------------------------------------------------------------
# Robustness runs
# ---------------------------------------------------------------------------
def robustness_summary_path(entry: ModelEntry) -> Path:
    """Return where `bcsignal robustness MODEL` writes its summary by default."""
    return robustness_dir(entry) / "summary.json"


def robustness_dir(entry: ModelEntry) -> Path:
    """Return where `bcsignal robustness MODEL` writes its run by default (build/robustness/<id>)."""
    return entry.registry.robustness_dir(entry.id)


# ---------------------------------------------------------------------------
# Network diagram (drawn from the shipped SBML layout)
# ---------------------------------------------------------------------------
#: Colour of each arc class in the drawing.
ARC_COLOURS = {
    "consumption": "#57606a",
    "production": "#57606a",
    "stimulation": "#1a7f37",
    "necessary stimulation": "#0550ae",
    "inhibition": "#cf222e",
    "catalysis": "#8250df",
    "modulation": "#9a6700",
}


def read_diagram(entry: ModelEntry) -> diagram.Diagram:
    """Read the laid-out diagram of a built model (SBML Layout + Render, written by `bcsignal build`)."""
    path = entry.diagram
    if not path.is_file():
        raise BcsignalError("no process diagram: run `bcsignal build`", file=path)
    return diagram.read_layout(read_document(read_screened(path), str(path)))


def _slug(kind: str) -> str:
    return kind.replace(" ", "-")


def network_view(model_id: str, drawing: diagram.Diagram, sbml: str) -> dict[str, Any]:
    """Return what the network template draws: boxes, arcs with their ends, band titles, the legend."""
    doc = libsbml.readSBMLFromString(sbml)
    model = doc.getModel()
    if model is None:
        raise BcsignalError("the SBML has no model", tool="libsbml")
    names = {s.getId(): s.getName() or s.getId() for s in model.getListOfSpecies()}
    laws = {}
    for r in model.getListOfReactions():
        law = r.getKineticLaw()
        formula = libsbml.formulaToL3String(law.getMath()) if law is not None and law.isSetMath() else ""
        laws[r.getId()] = f"{r.getName() or r.getId()}: {formula}"
    used = sorted({a.kind for a in drawing.arcs}, key=diagram.ARC_CLASSES.index)
    return {
        "id": f"net-{model_id}",
        "marker": lambda kind: f"{model_id}-end-{_slug(kind)}",
        "width": round(drawing.width, 1),
        "height": round(drawing.height, 1),
        "species": [
            {"id": sid, "box": box, "label": drawing.labels[sid], "title": names.get(sid, sid)}
            for sid, box in drawing.species.items()
        ],
        "reactions": [
            {"id": rid, "box": box, "title": laws.get(rid, rid)} for rid, box in drawing.reactions.items()
        ],
        "arcs": [
            {
                "kind": a.kind,
                "slug": _slug(a.kind),
                "start": a.start,
                "end": a.end,
                "colour": ARC_COLOURS[a.kind],
            }
            for a in drawing.arcs
            if a.start is not None and a.end is not None
        ],
        "bands": drawing.bands,
        "classes": [{"kind": k, "slug": _slug(k), "colour": ARC_COLOURS[k]} for k in used],
        "all_classes": [{"kind": k, "slug": _slug(k), "colour": ARC_COLOURS[k]} for k in diagram.ARC_CLASSES],
    }


# ---------------------------------------------------------------------------
# HTML (Jinja2 templates in bcsignal/templates)
# ---------------------------------------------------------------------------
def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.4g}" if math.isfinite(x) else str(x)


def _reference_url(reference: str) -> str | None:
    if reference.startswith("doi:"):
        return f"https://doi.org/{reference[4:]}"
    if reference.startswith("pubmed:"):
        return f"https://pubmed.ncbi.nlm.nih.gov/{reference[7:]}/"
    if reference.startswith("BIOMD"):
        return f"https://www.ebi.ac.uk/biomodels/{reference}"
    return None


#: How the curators' shorthand in a claims file's ``source`` reads in the report.
_SOURCE_WORDS = (
    (re.compile(r"^issue spec \(mechanism: (.*)\)$"), r"curated mechanism, not a sentence of the paper: \1"),
    (re.compile(r"^thresholds? from issue spec$"), "threshold set by the curators"),
    (re.compile(r"^issue spec$"), "curated expectation, not a sentence of the paper"),
)
#: The kind of evidence a source names, by its first words.
_SOURCE_KINDS = (
    ("abstract", "abstract"),
    ("full text", "full text"),
    ("figure", "figure"),
    ("fig.", "figure"),
    ("companion paper", "companion paper"),
    ("related paper", "related paper"),
    ("published model", "published model"),
    ("model prediction", "prediction"),
    ("composite prediction", "prediction"),
)


def source_in_words(claim: Claim) -> dict[str, Any]:
    """Return a claim's source as a curator reads it: the kind of evidence and the detail.

    The kind is abstract, full text, figure, companion or related paper, published model, or prediction;
    the claims files' shorthand for a curated choice (``issue spec``) is spelled out. ``prediction``
    says the claim is the model's prediction from that source.
    """
    parts = []
    for part in (p.strip() for p in claim.source.split(";")):
        for pattern, words in _SOURCE_WORDS:
            part = pattern.sub(words, part)
        parts.append(part)
    first = claim.source.strip().lower()
    kind = next((k for start, k in _SOURCE_KINDS if first.startswith(start)), "curated")
    detail = "; ".join(parts)
    if "figure" in claim.spec:
        detail += f"; {claim.spec['figure']}"
    prediction = claim.prediction and kind != "prediction"
    return {"kind": kind, "detail": "" if detail == kind else detail, "prediction": prediction}


def _robustness_entry(summary: Summary | None, name: str) -> dict[str, Any] | None:
    entry = summary.claims.get(name) if summary is not None else None
    if entry is None:
        return None
    fraction = entry.holds.fraction
    low, high = entry.holds.interval95
    return {
        "fraction": "-" if fraction is None else f"{fraction:.0%}",
        "interval": f"[{low:.0%}, {high:.0%}]",
        "ok": fraction is not None and fraction >= ROBUST_FRACTION,
    }


#: The fraction of parameter samples a claim must hold in to count as robust (docs/modelling.md).
ROBUST_FRACTION = 0.8


def _certificate_view(result: ClaimResult) -> dict[str, Any] | None:
    if (certificate := result.certificate) is None:
        return None
    return {
        "status": certificate.status,
        "good": certificate.status in (certify.CERTIFIED, certify.DEFINITION),
        "cuts": [
            {
                "label": cut.cut.label,
                "verdict": cut.verdict,
                "margin": _fmt(cut.margin) if cut.margin is not None else str(cut.problem),
                "survive": cut.survive,
            }
            for cut in (*certificate.cuts, *certificate.independence)
        ],
        "note": result.claim.mechanism_note,
        "independence_note": result.claim.independent_of_note,
        "alone": ", ".join(result.claim.sufficiency["alone"]) if result.claim.sufficiency else None,
    }


def _claim_rows(section: ModelSection) -> list[dict[str, Any]]:
    rows = []
    for result in section.results:
        claim = result.claim
        rows.append(
            {
                "id": claim.id,
                "anchor": f"{section.model_id}--{claim.id}",
                "statement": claim.statement,
                "definition": claim.kind == "definition",
                "source": source_in_words(claim),
                "expected": [f"{claim.relation}: {r.expected}" for r in result.readouts],
                "observed": [
                    {
                        "readout": r.readout,
                        "numbers": ", ".join(f"{k} = {_fmt(v)}" for k, v in r.values.items()),
                        "observed": _fmt(r.observed),
                    }
                    for r in result.readouts
                ],
                "margin": _fmt(result.margin),
                "passed": result.passed,
                "certificate": _certificate_view(result),
                "robustness": _robustness_entry(section.robustness, certify.robustness_name(result)),
                "plot": f"{PLOTS}/{section.model_id}/{claim.id}.svg",
                "readouts": ", ".join(claim.readouts),
            }
        )
    return rows


def _paper_rows(section: ModelSection) -> list[dict[str, Any]]:
    return [
        {
            "id": result.test_id,
            "statement": result.claim.statement,
            "source": source_in_words(result.claim),
            "margin": _fmt(result.margin),
            "passed": result.passed,
            "excused": bool(result.excused),
            "certificate": _certificate_view(result),
            "robustness": _robustness_entry(section.robustness, certify.robustness_name(result)),
        }
        for result in section.paper_results
    ]


def _papers(section: ModelSection) -> list[dict[str, Any]]:
    return [
        {
            "citation": citation_text(paper),
            "doi": str(paper["doi"]),
            "pubmed": str(paper["pubmed"]),
            "comment": paper.get("comment"),
            "related": paper.get("related", []),
        }
        for paper in section.entry.papers
    ]


MERGE_COLUMNS = ("element", "model", "action", "became", "why")


def _environment() -> Any:
    jinja2 = require("jinja2", "the report's pages")
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bcsignal", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["fmt"] = _fmt
    env.globals.update(
        css=_CSS, version=__version__, reference_url=_reference_url, merge_columns=MERGE_COLUMNS
    )
    return env


def _template(name: str) -> Any:
    return _environment().get_template(name)


def merge_map_html(rows: Sequence[Mapping[str, str]]) -> str:
    """Render merge-map rows (compose.merge_map_rows) as a table."""
    return str(_template("merge_map.html.j2").render(rows=rows))


def _robustness_html(model_id: str, summary: Summary | None) -> str:
    """Render the robustness part of a model's page."""
    rows = []
    for name, entry in (summary.claims if summary is not None else {}).items():
        holds = entry.holds
        low, high = holds.interval95
        rows.append(
            {
                "name": name,
                "fraction": "-" if holds.fraction is None else f"{holds.fraction:.3f}",
                "interval": f"[{low:.3f}, {high:.3f}]",
                "top": ", ".join(f"{t.parameter} {t.spearman:+.2f}" for t in entry.top_parameters[:3]),
            }
        )
    return str(
        _template("robustness.html.j2").render(
            model_id=model_id, summary=summary, rows=rows, plot=f"{PLOTS}/{model_id}/robustness.svg"
        )
    )


def _merge_rows(entry: ModelEntry) -> list[dict[str, str]]:
    comp_file, merge_file = entry.comp_sbml, entry.merge_map_file
    if comp_file is None or merge_file is None or not (comp_file.is_file() and merge_file.is_file()):
        return []
    doc = read_document(read_screened(comp_file), str(comp_file))
    return compose.merge_map_rows(entry, doc)


def _merge_file_name(entry: ModelEntry) -> str:
    return entry.merge_map_file.name if entry.merge_map_file is not None else ""


def page_name(model_id: str) -> str:
    """Return the file name of a model's page inside the report folder."""
    return f"{model_id}.html"


def _cited(section: ModelSection) -> str:
    papers = section.entry.papers
    if len(papers) > 1:
        return f"{len(papers)} papers"
    first = papers[0] if papers else {"authors": section.model_id, "year": ""}
    return f"{str(first['authors']).split(',')[0]} et al. {first['year']}"


def _model_page(section: ModelSection, files: Mapping[str, str]) -> str:
    mid = section.model_id
    drawing = read_diagram(section.entry)
    statuses = [r.certificate.status for r in [*section.results, *section.paper_results] if r.certificate]
    merge_rows = _merge_rows(section.entry)
    return str(
        _template("model.html.j2").render(
            model_id=mid,
            title=section.entry.title,
            files=files,
            papers=_papers(section),
            network=network_view(mid, drawing, section.sbml),
            composite=bool(drawing.bands),
            held=sum(r.passed for r in section.results),
            claims=_claim_rows(section),
            certificates="; ".join(f"{statuses.count(s)} {s}" for s in certify.STATUSES if s in statuses),
            paper_claims=_paper_rows(section),
            paper_held=sum(r.ok for r in section.paper_results),
            parameters=list(section.provenance.values()),
            validation=[
                {
                    "ok": r.ok(strict=True),
                    "errors": len(r.errors),
                    "warnings": len(r.warnings),
                    "issues": r.issues,
                }
                for r in section.validation
            ],
            crosscheck=section.crosscheck,
            robustness=_robustness_html(mid, section.robustness),
            merge_rows=merge_rows,
            merge_file=_merge_file_name(section.entry) if merge_rows else "",
        )
    )


def render(sections: Sequence[ModelSection], folder: Path, *, omex_folder: Path | None = None) -> Path:
    """Write the site into a folder: index.html, a page per model, plots, and the files they link to.

    Every link is relative inside the folder (the SBML, its diagram and the COMBINE archive are copied
    in), so a copied report folder keeps working.
    """
    summary = []
    for section in sections:
        mid = section.model_id
        for result in section.results:
            plot = claim_plot(result.claim, result, section.trajectories)
            atomic_write_bytes(folder / PLOTS / mid / f"{result.claim.id}.svg", plot)
        if section.robustness is not None:
            atomic_write_bytes(folder / PLOTS / mid / "robustness.svg", robustness_plot(section.robustness))
        files = {"SBML": f"{FILES}/{mid}.xml"}
        atomic_write_text(folder / files["SBML"], section.sbml)
        files["process diagram (SBML Layout + Render)"] = f"{FILES}/{mid}{diagram.SUFFIX}"
        atomic_write_bytes(
            folder / files["process diagram (SBML Layout + Render)"], section.entry.diagram.read_bytes()
        )
        omex = omex_folder / f"{mid}.omex" if omex_folder is not None else None
        if omex is not None and omex.is_file():
            files["COMBINE/OMEX archive"] = f"{FILES}/{mid}.omex"
            atomic_write_bytes(folder / files["COMBINE/OMEX archive"], omex.read_bytes())
        atomic_write_text(folder / page_name(mid), _model_page(section, files))
        every = [*section.results, *section.paper_results]
        statuses = [r.certificate.status for r in every if r.certificate]
        summary.append(
            {
                "id": mid,
                "page": page_name(mid),
                "title": section.entry.title,
                "cited": _cited(section),
                "passed": sum(r.ok for r in every),
                "total": len(every),
                "certified": statuses.count(certify.CERTIFIED),
                "definitions": statuses.count(certify.DEFINITION),
                "valid": all(r.ok(strict=True) for r in section.validation),
                "crosscheck": None if section.crosscheck is None else section.crosscheck.passed,
            }
        )
    index = folder / "index.html"
    atomic_write_text(index, _template("index.html.j2").render(models=summary))
    return index


def report_dir() -> Path:
    """Return the default report folder of the registry in use (build/report)."""
    return registry.current().report_dir


def write_report(sections: Sequence[ModelSection], folder: Path | None = None) -> Path:
    """Write the report of collected sections (staged: an interrupted run leaves the previous one)."""
    folder = folder or report_dir()
    omex = registry.current().omex_dir
    with staged_folder(folder) as staging:
        index = render(sections, staging, omex_folder=omex)
    return folder / index.relative_to(staging)
