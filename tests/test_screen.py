"""XML screening rejects hostile input fast, before any native parser sees it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bcsignal.core.errors import BcsignalError
from bcsignal.core.screen import read_screened, screen_antimony, screen_text, screen_xml, screen_yaml
from bcsignal.engine.simulate import load_sbml_text

SECRET = "TOP-SECRET-CONTENT-4711"

HOSTILE: dict[str, tuple[bytes, str]] = {
    "deep_1e2": (b"<a>" * 300 + b"</a>" * 300, "nest deeper"),
    "deep_1e5": (b"<a>" * 100_000 + b"</a>" * 100_000, "nest deeper"),
    "billion_laughs": (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>',
        "DOCTYPE",
    ),
    "truncated": (b'<?xml version="1.0"?><sbml><model id="m">', "not well-formed"),
    "not_xml": (b"this is not xml at all", "not well-formed"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_xml_is_rejected_fast(case: str) -> None:
    data, expected = HOSTILE[case]
    start = time.perf_counter()
    with pytest.raises(BcsignalError, match=expected) as info:
        screen_xml(data, f"{case}.xml")
    assert time.perf_counter() - start < 5
    assert info.value.tool == "screen" and info.value.file == f"{case}.xml"


def test_external_entity_never_reads_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    data = f'<!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]><r>&x;</r>'.encode()
    with pytest.raises(BcsignalError) as info:
        screen_xml(data, "xxe.xml")
    assert SECRET not in str(info.value)


def test_size_limit_is_checked_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "big.xml"
    big.write_bytes(b"<a>" + b" " * 2000 + b"</a>")
    monkeypatch.setenv("BCSIGNAL_MAX_BYTES", "1000")
    with pytest.raises(BcsignalError, match="over the limit of 1000"):
        read_screened(big)
    monkeypatch.setenv("BCSIGNAL_MAX_BYTES", "100000")
    assert read_screened(big).startswith("<a>")


def test_valid_sbml_passes(tiny_sbml: str) -> None:
    screen_xml(tiny_sbml.encode(), "tiny.xml")


def test_model_text_is_never_taken_for_a_path_or_url() -> None:
    for text in ("https://example.invalid/model.xml", "/etc/passwd", "sbml/Park_BBRC2007.xml"):
        with pytest.raises(BcsignalError, match="not XML"):
            load_sbml_text(text)


def test_screening_reports_the_root_and_comp_references() -> None:
    facts = screen_xml(
        b'<sbml xmlns:comp="c">\n<comp:externalModelDefinition comp:id="a" comp:source="sub.xml"/></sbml>'
    )
    assert facts.root == "sbml" and facts.references == (("sub.xml", 2),)


def test_antimony_screening_skips_comments_and_keeps_strings() -> None:
    text = (
        '// import "commented.ant"\n/* import "block.ant"\n((((( */\n'
        'import "real.ant"\nmodel m()\n  x identity "http://x.org/((((("\n  # ((((\nend\n'
    )
    assert screen_antimony(text, limit_depth=2).imports == (("real.ant", 4),)
    with pytest.raises(BcsignalError, match="brackets nest deeper than 2") as info:
        screen_antimony("model m()\n  k = (((1)))\nend\n", limit_depth=2)
    assert info.value.line == 2


def test_yaml_screening_refuses_aliases_but_not_anchors() -> None:
    screen_yaml("a: &x 1\nb: 2\n")
    with pytest.raises(BcsignalError, match=r"YAML aliases \(\*x\)") as info:
        screen_yaml("a: &x [1, 2]\nb: *x\n")
    assert info.value.line == 2


def test_yaml_screening_limits_nodes() -> None:
    with pytest.raises(BcsignalError, match="more than 100000 nodes"):
        screen_yaml("[" + "1," * 100_001 + "1]")


def test_text_that_is_not_unicode_is_rejected() -> None:
    with pytest.raises(BcsignalError, match="not valid Unicode"):
        screen_text("<sbml>\ud800</sbml>")


# Each promised YAML limit is bcsignal's own check, made before the YAML library reads the document: a
# library that refuses with a message of its own (LibYAML's nesting limit, say) must never be reached.
DEEP_YAML = {
    "flow": "model: " + "[" * 10_000 + "]" * 10_000 + "\n",
    "compact block sequences": "model:\n" + "- " * 10_000 + "x\n",
    "indented block mappings": "".join(" " * i + f"k{i}:\n" for i in range(40)) + " " * 40 + "v: 1\n",
    "indentless sequences": "a:\n"
    + "".join(" " * (2 * i) + "- a:\n" for i in range(20))
    + " " * 40
    + "- x\n",
}


@pytest.mark.parametrize("case", sorted(DEEP_YAML))
def test_yaml_depth_is_refused_before_the_yaml_library_reads(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def library_must_not_run(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the YAML library was reached")

    monkeypatch.setattr("bcsignal.core.screen.yaml.parse", library_must_not_run)
    with pytest.raises(BcsignalError, match="YAML nests deeper than 32 levels") as info:
        screen_yaml(DEEP_YAML[case], "deep.yaml")
    assert info.value.line is not None


@pytest.mark.parametrize(
    "text",
    [
        "a:\n- b:\n  - c: [1, {d: 2}]\nz: 3\n",
        "k: |\n  [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\nz: 1\n",
        "a: 'it''s " + "[" * 34 + "'\nb: \"x " + "[" * 34 + ' \\" y"\n',
        "a: b # [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n",
        "".join(" " * i + f"k{i}:\n" for i in range(31)) + " " * 31 + "v: 1\n",
    ],
    ids=["mixed", "block scalar", "quotes", "comment", "32 levels"],
)
def test_yaml_depth_estimate_accepts_what_is_within_the_limit(text: str) -> None:
    screen_yaml(text)


def test_yaml_screening_refuses_foreign_tags_in_its_own_words() -> None:
    screen_yaml("a: !!str 1\nb: !!int '2'\n")
    with pytest.raises(
        BcsignalError, match=r"YAML tag tag:yaml.org,2002:python/name:os.system is not accepted"
    ):
        screen_yaml("ok: 1\nrun: !!python/name:os.system\n")
