"""Isolated native work: crashes, hangs and memory blow-ups in the child become one clean BcsignalError."""

from __future__ import annotations

import ctypes
import os
import time
from pathlib import Path

import pytest

import bcsignal
from bcsignal import ModelInput, cli
from bcsignal.errors import BcsignalError
from bcsignal.isolate import in_child, run_isolated, stage
from bcsignal.limits import memory_mib, timeout_seconds

from .conftest import run_cli
from .data.bad import generate

DATA = Path(__file__).parent / "data"


def _segfault() -> None:
    stage("libsbml", "parsing the document")
    os.write(2, b"\x1b[35mError: native complaint\x1b[0m\n")
    ctypes.string_at(0)  # reads address 0: SIGSEGV


def _hang() -> None:
    stage("antimony", "loading the model")
    time.sleep(60)


def _allocate() -> int:
    stage("libroadrunner", "simulating")
    return len(bytearray(2 * 1024**3))


def _fail() -> None:
    raise BcsignalError("bad value", file="m.xml", line=7, tool="libsbml", where="species S")


def _raise_other() -> None:
    stage("antimony", "reading")
    raise RuntimeError("")  # the native bindings raise exceptions with empty messages


def test_a_result_comes_back_from_the_child() -> None:
    assert run_isolated(lambda: {"answer": [42], "child": in_child()}, origin="x") == {
        "answer": [42],
        "child": True,
    }
    assert not in_child()


def test_our_error_keeps_every_field() -> None:
    with pytest.raises(BcsignalError) as info:
        run_isolated(_fail, origin="other.xml")
    error = info.value
    assert (error.cause, error.file, error.line, error.tool, error.where) == (
        "bad value",
        "m.xml",
        7,
        "libsbml",
        "species S",
    )


def test_other_exceptions_become_our_error_naming_the_tool() -> None:
    with pytest.raises(BcsignalError, match=r"failed while reading: RuntimeError") as info:
        run_isolated(_raise_other, origin="m.ant")
    assert info.value.tool == "antimony" and info.value.file == "m.ant"


def test_a_segfault_becomes_a_clean_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BcsignalError, match=r"crashed with SIGSEGV while parsing the document") as info:
        run_isolated(_segfault, origin="m.xml")
    assert info.value.tool == "libsbml" and info.value.file == "m.xml"
    assert "native complaint" in str(info.value) and "\x1b" not in str(info.value)
    printed = capfd.readouterr()
    assert printed.out == "" and printed.err == ""
    assert list(tmp_path.iterdir()) == []  # no core file


def test_a_hang_is_stopped() -> None:
    with pytest.raises(BcsignalError, match=r"gave no result within 0\.5 s while loading the model") as info:
        run_isolated(_hang, origin="m.ant", timeout=0.5)
    assert info.value.tool == "antimony"


def test_memory_is_limited() -> None:
    with pytest.raises(BcsignalError, match=r"ran out of memory while simulating \(limit: 64 MiB"):
        run_isolated(_allocate, origin="m.xml", memory=64)


def test_native_output_in_the_child_never_reaches_the_parent(capfd: pytest.CaptureFixture[str]) -> None:
    def noisy() -> int:
        print("python print")
        os.write(1, b"native stdout\n")
        os.write(2, b"native stderr\n")
        return 1

    assert run_isolated(noisy, origin="x") == 1
    printed = capfd.readouterr()
    assert printed.out == "" and printed.err == ""


@pytest.mark.parametrize(
    ("name", "value"),
    [("BCSIGNAL_TIMEOUT", "soon"), ("BCSIGNAL_TIMEOUT", "-1"), ("BCSIGNAL_MAX_MEMORY", "inf")],
)
def test_limits_from_the_environment_are_checked(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(BcsignalError, match=name):
        timeout_seconds() if name == "BCSIGNAL_TIMEOUT" else memory_mib()


# -- the real native libraries, with the screening limits raised so that they see the hostile input ------
@pytest.fixture(scope="module")
def deep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("deep")
    for levels in (10**3, 10**5):
        (folder / f"deep_{levels}.xml").write_text(generate.deep_mathml(levels))
    return folder


@pytest.mark.timeout(30)
def test_libsbml_crash_on_deep_mathml_is_contained(
    deep: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BCSIGNAL_MAX_DEPTH", str(10**6))
    monkeypatch.setenv("BCSIGNAL_TIMEOUT", "20")
    with pytest.raises(BcsignalError, match=r"crashed with SIG\w+|gave no result within") as info:
        bcsignal.validate(deep / "deep_100000.xml")
    assert info.value.tool == "libsbml"
    printed = capfd.readouterr()
    assert printed.out == "" and printed.err == ""


@pytest.mark.timeout(30)
def test_libsbml_hang_on_deep_mathml_is_stopped(deep: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BCSIGNAL_MAX_DEPTH", str(10**6))
    monkeypatch.setenv("BCSIGNAL_TIMEOUT", "1")
    with pytest.raises(BcsignalError, match=r"gave no result within 1 s while checking SBML consistency"):
        bcsignal.validate(deep / "deep_1000.xml")


@pytest.mark.timeout(30)
def test_the_cli_survives_a_native_crash(deep: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BCSIGNAL_MAX_DEPTH", str(10**6))
    monkeypatch.setenv("BCSIGNAL_TIMEOUT", "20")
    code, out, err = run_cli(["validate", str(deep / "deep_100000.xml")], cwd=tmp_path, timeout=25)
    assert code == cli.EXIT_ERROR and out == ""
    assert err.startswith("bcsignal: error: ") and err.count("\n") == 1 and "[libsbml]" in err
    assert list(tmp_path.iterdir()) == []


def test_a_simulation_over_the_memory_limit_is_a_clean_error(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    species = "".join(f"  species S{i} in cell = 1\n  J{i}: S{i} -> ; k*S{i}*cell\n" for i in range(100))
    wide = ModelInput.antimony(f"model wide()\n  compartment cell = 1\n  k = 0.1\n{species}end\n")
    monkeypatch.setenv("BCSIGNAL_MAX_MEMORY", "64")
    with pytest.raises(BcsignalError, match=r"ran out of memory simulating 400000 points x 101 columns"):
        bcsignal.time_course(wide, 10, 400_000)
    printed = capfd.readouterr()
    assert printed.out == "" and printed.err == ""
