"""The curation report: every claim and plot is there, links resolve, Chromium logs no console error."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from bcsignal import certify, cli, compose, paths, report
from bcsignal.build import load_antimony
from bcsignal.claims import load_claims, papers_of
from bcsignal.files import atomic_write_bytes

from . import browser
from .conftest import DATA, MODEL_IDS

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "build" / "test-artifacts"


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
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


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_every_claim_and_plot_is_there(site: Path, model_id: str) -> None:
    page = _Page()
    page.feed(site.read_text(encoding="utf-8"))
    claims = load_claims(paths.claims_path(model_id))
    assert model_id in page.ids
    for claim in claims.claims:
        assert f"{model_id}--{claim.id}" in page.ids and f"plot-{model_id}--{claim.id}" in page.ids
        plot = site.parent / "plots" / model_id / f"{claim.id}.svg"
        assert f"plots/{model_id}/{claim.id}.svg" in page.links
        assert ET.parse(plot).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    text = site.read_text(encoding="utf-8")
    for paper in papers_of(claims):  # a composite cites its submodels' papers
        assert f"https://doi.org/{paper['doi']}" in text
    for pid in ("Parameters", "Validation", "Cross-simulator agreement", "Network"):
        assert f"<h3>{pid}</h3>" in text


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_every_claim_row_shows_its_certificate(site: Path, model_id: str) -> None:
    text = site.read_text(encoding="utf-8")
    for claim in load_claims(paths.claims_path(model_id)).claims:
        start = text.index(f'<tr id="{model_id}--{claim.id}">')
        row = text[start : text.index("</tr>", start)]
        assert any(f">{status}<" in row for status in certify.STATUSES), row
        for cut in claim.mechanism:
            assert f"{escape(cut.label)}: " in row, row


def test_every_link_resolves(site: Path) -> None:
    assert broken_links(site) == []


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
