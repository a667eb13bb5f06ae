"""benchmarks/RESULTS.md is written section by section: each benchmark replaces only its marked block."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcsignal.core.files import marked_blocks, write_marked

from .conftest import load_script

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
START, END = "<!-- x:start -->", "<!-- x:end -->"


def test_a_marked_block_is_replaced_and_the_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text(f"# head\n\n{START}\nold\n{END}\n\ntail\n", encoding="utf-8")
    write_marked(path, START, END, "new\nlines\n")
    assert path.read_text(encoding="utf-8") == f"# head\n\n{START}\nnew\nlines\n{END}\n\ntail\n"


def test_a_missing_block_is_appended_and_a_missing_file_created(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    write_marked(path, START, END, "first")
    assert path.read_text(encoding="utf-8") == f"{START}\nfirst\n{END}\n"
    path.write_text("# head\n", encoding="utf-8")
    write_marked(path, START, END, "body")
    assert path.read_text(encoding="utf-8") == f"# head\n\n{START}\nbody\n{END}\n"


def test_an_end_marker_before_the_start_is_not_a_block(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text(f"{END}\n{START}\n", encoding="utf-8")
    write_marked(path, START, END, "body")
    assert path.read_text(encoding="utf-8").endswith(f"{START}\n\n{START}\nbody\n{END}\n")
    assert marked_blocks(f"{END} {START}", [(START, END)]) == ""


def test_blocks_are_returned_in_the_order_asked() -> None:
    a, b = ("<!-- a:start -->", "<!-- a:end -->"), ("<!-- b:start -->", "<!-- b:end -->")
    text = f"{b[0]}\nB\n{b[1]}\nmiddle\n{a[0]}\nA\n{a[1]}\n"
    assert marked_blocks(text, [a, b]) == f"{a[0]}\nA\n{a[1]}\n\n{b[0]}\nB\n{b[1]}"


@pytest.mark.parametrize("script", ["newton_bench.py", "check_wall.py", "basico_bench.py", "solver_bound.py"])
def test_bench_keeps_every_later_section_in_its_order(script: str) -> None:
    """bench.py rewrites sections 1-4 and keeps the others; each script's markers are among them, in order."""
    bench = load_script(BENCHMARKS / "bench.py")
    module = load_script(BENCHMARKS / script)
    assert (module.START, module.END) in bench.LATER_SECTIONS
    results = (BENCHMARKS / "RESULTS.md").read_text(encoding="utf-8")
    kept = marked_blocks(results, bench.LATER_SECTIONS)
    assert module.START in kept and module.END in kept
    order = [kept.index(start) for start, _ in bench.LATER_SECTIONS]
    assert order == sorted(order)
    assert [results.index(start) for start, _ in bench.LATER_SECTIONS] == sorted(
        results.index(start) for start, _ in bench.LATER_SECTIONS
    )


def test_newton_agreement_names_the_claim_of_the_largest_margin_difference() -> None:
    """Section 5 names where Newton and integration differ most; a flipped verdict is counted."""
    from bcsignal.analysis.robustness.store import SampleRow

    bench = load_script(BENCHMARKS / "newton_bench.py")
    newton = [SampleRow(0, (1.0,), (0.5, 64.3)), SampleRow(1, (1.0,), (0.2, 1.0)), SampleRow(2, (1.0,), None)]
    integration = [
        SampleRow(0, (1.0,), (0.5, 33.4)),
        SampleRow(1, (1.0,), (-0.1, 1.0)),
        SampleRow(2, (1.0,), (1.0, 1.0)),
    ]
    compared, flips, worst, where = bench.agreement(newton, integration, ("a", "ko_removes_mirna"))
    assert (compared, flips) == (2, 1)
    assert worst == pytest.approx(30.9)
    assert where == "ko_removes_mirna: Newton +64.3, integration +33.4"
