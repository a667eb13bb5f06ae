"""The curation report: every claim and plot is there, links resolve, Chromium logs no console error."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from dataclasses import replace
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from bcsignal import paths, registry
from bcsignal.app import cli, report
from bcsignal.checks.validation import read_document
from bcsignal.claims import papers_of
from bcsignal.core.files import atomic_write_bytes
from bcsignal.engine import certify
from bcsignal.sbml import compose, diagram
from bcsignal.sbml.build import load_antimony
from bcsignal.spec.claims import load_claims

from . import browser
from .conftest import DATA, MODEL_IDS

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "build" / "test-artifacts"


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.repeated: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            if str(found["id"]) in self.ids:
                self.repeated.append(str(found["id"]))
            self.ids.add(str(found["id"]))
        for name in ("href", "src"):
            if found.get(name):
                self.links.append(str(found[name]))


def broken_links(index: Path) -> list[str]:
    """Return every link of a page that does not resolve: missing file, missing anchor, malformed URL."""
    page = _Page()
    page.feed(index.read_text(encoding="utf-8"))
    problems = []
    for link in page.links:
        url = urlparse(link)
        if url.scheme in {"http", "https"}:
            if not url.netloc:
                problems.append(f"malformed: {link}")
        elif url.scheme == "data":
            continue
        elif url.scheme:
            problems.append(f"unexpected scheme: {link}")
        elif url.path:
            if not (index.parent / unquote(url.path)).is_file():
                problems.append(f"missing file: {link}")
        elif url.fragment not in page.ids:
            problems.append(f"missing anchor: {link}")
    return problems


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report for every model, rendered once through the command line."""
    folder = tmp_path_factory.mktemp("report")
    assert cli.main(["report", "--out", str(folder)]) == 0
    return folder / "index.html"


def pages(site: Path) -> list[Path]:
    """Every page of the report: the index and one per model."""
    return [site, *(site.parent / report.page_name(m) for m in MODEL_IDS)]


def _parsed(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_index_links_a_page_per_model(site: Path) -> None:
    index = _parsed(site)
    for model_id in MODEL_IDS:
        assert report.page_name(model_id) in index.links
        assert (site.parent / report.page_name(model_id)).is_file()


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_every_claim_and_plot_is_there(site: Path, model_id: str) -> None:
    path = site.parent / report.page_name(model_id)
    page = _parsed(path)
    claims = load_claims(paths.claims_path(model_id))
    assert model_id in page.ids
    for claim in claims.claims:
        assert f"{model_id}--{claim.id}" in page.ids and f"plot-{model_id}--{claim.id}" in page.ids
        plot = site.parent / "plots" / model_id / f"{claim.id}.svg"
        assert f"plots/{model_id}/{claim.id}.svg" in page.links
        assert ET.parse(plot).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    text = path.read_text(encoding="utf-8")
    for paper in papers_of(claims):  # a composite cites its submodels' papers
        assert f"https://doi.org/{paper['doi']}" in text
    for heading in ("Parameters", "Validation", "Cross-simulator agreement", "Network", "Claims"):
        assert f">{heading}</h2>" in text
    assert f"files/{model_id}{diagram.SUFFIX}" in page.links


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_every_claim_row_shows_its_certificate(site: Path, model_id: str) -> None:
    text = (site.parent / report.page_name(model_id)).read_text(encoding="utf-8")
    for claim in load_claims(paths.claims_path(model_id)).claims:
        start = text.index(f'<tr id="{model_id}--{claim.id}">')
        row = text[start : text.index("</tr>", start)]
        assert any(f">{status}<" in row for status in certify.STATUSES), row
        for cut in claim.mechanism:
            assert f"{escape(cut.label)}: " in row and "(margin " in row, row
        kind = report.source_in_words(claim)["kind"]
        assert f"<b>{kind}</b>" in row, row
        assert "95 %: [" in row or "not run" in row, row
    assert "issue spec" not in text


@pytest.mark.parametrize(
    ("source", "kind", "words"),
    [
        ("abstract", "abstract", "abstract"),
        ("issue spec", "curated", "curated expectation, not a sentence of the paper"),
        ("full text (Introduction); threshold from issue spec", "full text", "threshold set by the curators"),
        (
            "issue spec (mechanism: SOCS3 inhibits JAK)",
            "curated",
            "curated mechanism, not a sentence of the paper",
        ),
        ("composite prediction (Park 2007 x Bournazou 2013)", "prediction", "composite prediction"),
        ("figure legend", "figure", "figure legend"),
    ],
)
def test_source_in_a_curators_words(source: str, kind: str, words: str) -> None:
    claim = load_claims(paths.claims_path(MODEL_IDS[0])).claims[0]
    shown = report.source_in_words(replace(claim, source=source, prediction=False, spec={}))
    assert shown["kind"] == kind and words in (shown["detail"] or shown["kind"])
    assert "issue spec" not in shown["detail"]


def test_crosscheck_section_states_the_tolerances_it_used(site: Path) -> None:
    """The page's agreement rule is the one the cross-check applies (it once said 1e-12 for 1e-9)."""
    from bcsignal.app import crosscheck

    text = (site.parent / report.page_name(MODEL_IDS[0])).read_text(encoding="utf-8")
    rule = f"|a − b| ≤ {crosscheck.AGREE_ATOL:g} + {crosscheck.AGREE_RTOL:g}·|b|"
    assert rule in text
    relative, absolute = crosscheck.RELATIVE_TOLERANCE, crosscheck.ABSOLUTE_TOLERANCE
    assert f"relative tolerance\n{relative:g} and absolute {absolute:g}" in text


def test_ids_are_unique_in_every_page(site: Path) -> None:
    for path in pages(site):
        assert _parsed(path).repeated == [], path.name


def test_every_link_resolves(site: Path) -> None:
    for path in pages(site):
        assert broken_links(path) == [], path.name


def test_a_copied_report_keeps_its_links(site: Path, tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere" / "report"
    shutil.copytree(site.parent, copy)
    for path in pages(copy / "index.html"):
        page = _parsed(path)
        assert not [link for link in page.links if link.startswith(("..", "/", "file:"))], path.name
        assert broken_links(path) == [], path.name


def test_link_check_finds_broken_links(tmp_path: Path) -> None:
    page = tmp_path / "index.html"
    page.write_text('<a href="#nowhere">a</a><img src="gone.svg"><a href="https://">b</a><p id="x"></p>')
    assert broken_links(page) == ["missing anchor: #nowhere", "missing file: gone.svg", "malformed: https://"]


@pytest.mark.skipif(browser.chromium() is None, reason="chromium missing: `make test` installs it")
def test_page_renders_without_console_errors(site: Path) -> None:
    loaded = browser.load(browser.file_url(site))
    atomic_write_bytes(ARTIFACTS / "report.png", loaded.screenshot)
    assert loaded.errors == []
    assert loaded.screenshot.startswith(b"\x89PNG")


@pytest.mark.skipif(browser.chromium() is None, reason="chromium missing: `make test` installs it")
@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_diagram_boxes_never_overlap_and_no_text_is_clipped(site: Path, model_id: str) -> None:
    found = browser.measure(browser.file_url(site.parent / report.page_name(model_id)))
    species = len(
        diagram.read_layout(
            read_document(registry.entry(model_id).diagram.read_text(encoding="utf-8"), model_id)
        ).species
    )
    assert found["errors"] == []
    assert found["nodes"] >= species > 0 and found["texts"] >= species
    assert found["overlaps"] == []
    assert found["clipped"] == []


@pytest.mark.skipif(browser.chromium() is None, reason="chromium missing: `make test` installs it")
def test_no_chart_text_extends_past_its_viewbox(site: Path, tmp_path: Path) -> None:
    """Every chart of the report, inlined in one page so that Chromium measures each text in its SVG."""
    charts = sorted((site.parent / report.PLOTS).rglob("*.svg"))
    assert charts
    body = []
    for chart in charts:
        svg = chart.read_text(encoding="utf-8")
        svg = svg[svg.index("<svg") :].replace(
            "<svg", f'<svg data-file="{chart.relative_to(site.parent)}"', 1
        )
        body.append(f"<div>{svg}</div>")
    page = tmp_path / "charts.html"
    page.write_text(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body style='margin:0'>"
        + "".join(body)
        + "</body></html>",
        encoding="utf-8",
    )
    found = browser.measure(browser.file_url(page))
    assert found["svgs"] == len(charts) and found["texts"] > len(charts)
    assert found["clipped"] == []


@pytest.mark.skipif(browser.chromium() is None, reason="chromium missing: `make test` installs it")
def test_measure_finds_overlaps_and_clipped_text(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><svg width="100" height="50" viewBox="0 0 100 50">'
        '<rect class="node" x="0" y="0" width="40" height="20"/>'
        '<rect class="node" x="30" y="10" width="40" height="20"/>'
        '<rect class="node" x="80" y="30" width="10" height="10"/>'
        '<text x="90" y="45" font-size="12">far too long a label</text></svg>'
    )
    found = browser.measure(browser.file_url(page))
    assert len(found["overlaps"]) == 1 and len(found["clipped"]) == 1


def test_claim_plots_use_the_page_width_with_legible_legends(site: Path) -> None:
    model_id = MODEL_IDS[0]
    claim = load_claims(paths.claims_path(model_id)).claims[0]
    root = ET.parse(site.parent / "plots" / model_id / f"{claim.id}.svg").getroot()
    assert float(root.get("width", "0pt").removesuffix("pt")) >= 0.9 * report.PLOT_WIDTH * 72
    assert report.LEGEND_POINTS >= 9
    text = (site.parent / "plots" / model_id / f"{claim.id}.svg").read_text(encoding="utf-8")
    # the SVG's user unit is the point: matplotlib writes a text's size in points as "font-size: 9.5px"
    sizes = [float(size) for size in re.findall(r"font-size: ?([0-9.]+)px", text)]
    assert sizes and min(sizes) >= 9


@pytest.mark.skipif(browser.chromium() is None, reason="chromium missing: `make test` installs it")
def test_console_check_sees_errors(tmp_path: Path) -> None:
    page = tmp_path / "index.html"
    page.write_text('<!DOCTYPE html><img src="gone.png"><script>console.error("bad")</script>')
    errors = browser.load(browser.file_url(page)).errors
    assert any("bad" in e for e in errors) and any("gone.png" in e for e in errors)


def test_merge_map_renders_every_element() -> None:
    built = load_antimony(DATA / "duo.ant")
    assert built.comp is not None
    entries = compose.load_merge_map(DATA / "duo.merge.yaml")
    rows = [
        {"element": key, "model": "tiny", "action": e.action, "became": e.became or "", "why": e.why}
        for e in entries
        for key in e.elements
    ]
    html = report.merge_map_html(rows)
    assert html.count("<tr>") == 1 + len(compose.links(built.comp))
    assert "<td>b.feedback_decay</td>" in html and "<th>why</th>" in html
