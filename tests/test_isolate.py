"""Isolated native work: crashes, hangs and memory blow-ups in the child become one clean BcsignalError."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from functools import partial
from pathlib import Path

import pytest

import bcsignal
from bcsignal import ModelInput
from bcsignal.app import cli
from bcsignal.core.errors import BcsignalError
from bcsignal.core.isolate import in_child, run_isolated, stage
from bcsignal.core.limits import memory_mib, timeout_seconds

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


def _answer() -> dict[str, object]:
    return {"answer": [42], "child": in_child()}


def _noisy() -> int:
    print("python print")
    os.write(1, b"native stdout\n")
    os.write(2, b"native stderr\n")
    return 1


def _fail() -> None:
    raise BcsignalError("bad value", file="m.xml", line=7, tool="libsbml", where="species S")


def _raise_other() -> None:
    stage("antimony", "reading")
    raise RuntimeError("")  # the native bindings raise exceptions with empty messages


def _sleep_forever(pid_file: Path) -> None:
    stage("libroadrunner", "compiling the model")
    pid_file.write_text(str(os.getpid()))
    while True:
        sum(range(10**6))  # busy, like native code: only the kernel can stop it


def _blocked() -> None:
    stage("libroadrunner", "compiling the model")
    threading.Event().wait()  # what LLVM does when a helper thread died at the memory limit


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in {"Z", "X"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
@pytest.mark.timeout(60)
def test_the_child_dies_with_its_parent(how: signal.Signals, tmp_path: Path) -> None:
    """Kill the process that called run_isolated: its child must be gone within 2 s (issue 22, D4)."""
    pid_file = tmp_path / "child.pid"
    script = (
        "import sys; from pathlib import Path; from functools import partial\n"
        "from bcsignal.core.isolate import run_isolated\n"
        "from tests.test_isolate import _sleep_forever\n"
        "run_isolated(partial(_sleep_forever, Path(sys.argv[1])), origin='m.xml', timeout=50)\n"
    )
    root = Path(__file__).resolve().parent.parent
    parent = subprocess.Popen([sys.executable, "-c", script, str(pid_file)], cwd=root)
    try:
        for _ in range(400):
            if pid_file.is_file() and pid_file.read_text():
                break
            time.sleep(0.1)
        child = int(pid_file.read_text())
        assert not _gone(child)
        parent.send_signal(how)
        parent.wait()
        for _ in range(20):  # the bound the README states: 2 s
            if _gone(child):
                break
            time.sleep(0.1)
        assert _gone(child), "the isolated child outlived its parent by more than 2 s"
    finally:
        parent.kill()
        parent.wait()
        if pid_file.is_file() and not _gone(int(pid_file.read_text())):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_no_fork_from_a_threaded_host() -> None:
    """The child is a fresh interpreter: no os.fork of a process that runs threads (issue 22, D4)."""
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)
    worker.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            assert run_isolated(partial(int, "7"), origin="x") == 7
    finally:
        stop.set()
        worker.join()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.timeout(40)
def test_a_child_blocked_for_good_is_stopped_long_before_the_timeout() -> None:
    """A child that waits forever using no CPU (D7: a memory cap hit in LLVM's compile) is stopped."""
    with pytest.raises(BcsignalError, match=r"stopped while compiling the model: .*BCSIGNAL_MAX_MEMORY"):
        run_isolated(_blocked, origin="m.xml", timeout=600)


@pytest.mark.timeout(60)
def test_a_compile_over_the_memory_limit_never_hangs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compiling a model within 64 MiB ends with an error naming the memory cap, not the timeout (D7)."""
    species = "".join(f"  species S{i} in cell = 1\n  J{i}: S{i} -> ; k*S{i}*cell\n" for i in range(100))
    wide = ModelInput.antimony(f"model wide()\n  compartment cell = 1\n  k = 0.1\n{species}end\n")
    monkeypatch.setenv("BCSIGNAL_MAX_MEMORY", "64")
    with pytest.raises(BcsignalError, match=r"BCSIGNAL_MAX_MEMORY") as info:
        bcsignal.time_course(wide, 10, 11)
    assert "BCSIGNAL_TIMEOUT" not in str(info.value)


def test_a_result_comes_back_from_the_child() -> None:
    assert run_isolated(_answer, origin="x") == {
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
    assert run_isolated(_noisy, origin="x") == 1
    printed = capfd.readouterr()
    assert printed.out == "" and printed.err == ""


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BCSIGNAL_TIMEOUT", "soon"),
        ("BCSIGNAL_TIMEOUT", "-1"),
        ("BCSIGNAL_MAX_MEMORY", "inf"),
        ("BCSIGNAL_MAX_MEMORY", "5"),
    ],
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
    monkeypatch.setenv("BCSIGNAL_MAX_MEMORY", "256")
    with pytest.raises(BcsignalError, match=r"ran out of memory simulating 400000 points x 101 columns"):
        bcsignal.time_course(wide, 10, 400_000)
    printed = capfd.readouterr()
    assert printed.out == "" and printed.err == ""


def test_work_that_cannot_travel_to_the_child_is_a_clean_error() -> None:
    with pytest.raises(BcsignalError, match=r"cannot send the work to a child process"):
        run_isolated(lambda: 1, origin="x")
