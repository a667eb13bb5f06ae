"""XML screening rejects hostile input fast, before any native parser sees it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bcsignal.errors import BcsignalError
from bcsignal.screen import read_screened, screen_xml
from bcsignal.simulate import load_sbml_text

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
