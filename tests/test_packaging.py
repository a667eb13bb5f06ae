"""Packaging: the environment equals the lock, the core wheel works alone, archives hold allowed files."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import venv
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from .conftest import load_script

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"
LOCK_CORE = ROOT / "requirements" / "lock-core.txt"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

#: Distributions that only extras may bring: none of them may reach the core lock.
EXTRA_ONLY = {"python-copasi", "python-libsedml", "python-libcombine", "matplotlib", "jinja2", "dask"}
EXTRA_ONLY |= {"distributed", "tqdm", "tellurium", "ipython", "pandas"}


def _check_env() -> ModuleType:
    return load_script(ROOT / "requirements" / "check_env.py")


# -- the lock --------------------------------------------------------------------------------------------
def test_environment_equals_the_lock() -> None:
    check_env = _check_env()
    assert check_env.differences(check_env.locked(LOCK), check_env.installed()) == []


def test_lock_check_reports_every_kind_of_difference(tmp_path: Path) -> None:
    check_env = _check_env()
    lock = tmp_path / "lock.txt"
    lock.write_text(
        "numpy==0.0.1 \\\n    --hash=sha256:00\nnot-installed-anywhere==1.0 \\\n    --hash=sha256:11\n"
    )
    problems = check_env.differences(check_env.locked(lock), {"numpy": "2.0", "extra-one": "3"})
    assert problems == [
        "extra-one: installed 3, not in the lock",
        "not-installed-anywhere: locked 1.0, not installed",
        "numpy: locked 0.0.1, installed 2.0",
    ]
    result = subprocess.run(
        [sys.executable, str(ROOT / "requirements" / "check_env.py"), str(lock)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "numpy: locked 0.0.1" in result.stderr


def test_every_locked_package_is_hash_pinned() -> None:
    for lock in (LOCK, LOCK_CORE):
        blocks = re.split(r"\n(?=[A-Za-z0-9])", lock.read_text(encoding="utf-8").strip())
        pins = [b for b in blocks if not b.startswith("#")]
        assert pins, lock
        for block in pins:
            assert re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?==\S+", block), block.splitlines()[0]
            assert "--hash=sha256:" in block, block.splitlines()[0]


def test_core_lock_is_the_core_of_the_full_lock() -> None:
    check_env = _check_env()
    full, core = check_env.locked(LOCK), check_env.locked(LOCK_CORE)
    assert {name: full.get(name) for name in core} == core
    assert not core.keys() & EXTRA_ONLY
    declared = {
        check_env.canonical(re.split(r"[<>=\[ ;]", d)[0]) for d in PYPROJECT["project"]["dependencies"]
    }
    assert declared <= core.keys()


def test_native_tools_are_held_to_their_constraints() -> None:
    check_env = _check_env()
    constraints = check_env.locked(ROOT / "requirements" / "constraints.txt")
    full = check_env.locked(LOCK)
    assert constraints
    assert {name: full.get(name) for name in constraints} == constraints


# -- the archives ----------------------------------------------------------------------------------------
#: Everything the wheel may hold, as regular expressions of member names.
WHEEL_ALLOWED = [
    r"bcsignal/([a-z_]+/)*[a-z_]+\.py",
    r"bcsignal/py\.typed",
    r"bcsignal/schemas/[a-z_.]+\.json",
    r"bcsignal/templates/[a-z_.]+\.j2",
    r"bcsignal/_data/models/[A-Za-z0-9_]+\.(ant|claims\.yaml|merge\.yaml|parameters\.tsv)",
    r"bcsignal/_data/models/(interface|annotation)\.yaml",
    r"bcsignal/_data/CITATION\.cff",
    r"bcsignal/_data/sbml/[A-Za-z0-9_]+\.xml",
    r"bcsignal/_data/sbml/diagrams/[A-Za-z0-9_]+\.layout\.xml",
    r"bcsignal-[^/]+\.dist-info/(METADATA|WHEEL|RECORD|entry_points\.txt|licenses/LICENSE)",
]
#: Everything the sdist may hold below its top folder.
SDIST_ALLOWED = [
    r"python/bcsignal/([a-z_]+/)*[a-z_]+\.py",
    r"python/bcsignal/py\.typed",
    r"python/bcsignal/schemas/[a-z_.]+\.json",
    r"python/bcsignal/templates/[a-z_.]+\.j2",
    r"models/[A-Za-z0-9_]+(\.claims|\.merge|\.parameters)?\.(ant|yaml|tsv)",
    r"sbml/[A-Za-z0-9_]+\.xml",
    r"sbml/diagrams/[A-Za-z0-9_]+\.layout\.xml",
    r"tests/[a-z_]+\.py",
    r"tests/data/.+\.(ant|xml|yaml|tsv|txt|py|sedml|omex)",
    r"tests/data/bad/empty_no_suffix",
    r"benchmarks/([a-z_]+\.(py|c)|RESULTS\.md)",
    r"docs/[a-z_]+\.(md|png|py)",
    r"docs/curation/[A-Za-z0-9_]+\.md",
    r"requirements/[a-z_-]+\.(txt|py)",
    r"\.ci/run",
    r"(README|CHANGELOG|DEVELOPERS)\.md",
    r"(LICENSE|Makefile|pyproject\.toml|PKG-INFO|\.gitignore|CITATION\.cff)",
]


#: Dot-named members that belong in the sdist; any other name with a dot-named part is stray.
DOT_NAMES = {".gitignore", ".ci/run"}


def _allowed(name: str, patterns: list[str]) -> bool:
    hidden = name not in DOT_NAMES and any(part.startswith(".") for part in name.split("/"))
    return not hidden and any(re.fullmatch(p, name) for p in patterns)


def _source_copy(dest: Path) -> Path:
    """Copy the checkout's tracked files (or, without git, its source folders) into dest."""
    tree = dest / "src"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    if listed.returncode == 0 and listed.stdout:
        for name in listed.stdout.decode().split("\0"):
            if name and (ROOT / name).is_file():
                (tree / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, tree / name)
    else:  # pragma: no cover - a source tree without git
        ignore = shutil.ignore_patterns(".venv", "build", ".git", "*_cache", "__pycache__")
        shutil.copytree(ROOT, tree, ignore=ignore)
    return tree


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel and the sdist from a copy of the tree sprinkled with stray files."""
    base = tmp_path_factory.mktemp("dist")
    tree = _source_copy(base)
    for stray in (
        "sbml/.Park_BBRC2007.xml.x1y2.tmp",
        "models/.Park_BBRC2007.ant.tmp",
        "python/bcsignal/__pycache__/cli.cpython-312.pyc",
        "python/bcsignal/.mypy_cache/x.json",
        "tests/.hypothesis/examples/x",
        "models/Park_BBRC2007.ant~",
    ):
        (tree / stray).parent.mkdir(parents=True, exist_ok=True)
        (tree / stray).write_text("stray\n")
    out = base / "out"
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-d", str(out)],
        cwd=tree,
        check=True,
        capture_output=True,
    )
    return out


def test_wheel_holds_only_allowed_files(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "bcsignal/py.typed" in names
    assert "bcsignal/_data/sbml/Park_BBRC2007.xml" in names
    assert "bcsignal/_data/sbml/diagrams/composite.layout.xml" in names
    assert "bcsignal/templates/model.html.j2" in names
    assert [n for n in names if not _allowed(n, WHEEL_ALLOWED)] == []


def test_sdist_holds_only_allowed_files(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = [m.name.split("/", 1)[1] for m in archive.getmembers() if m.isfile()]
    assert "requirements/lock.txt" in names
    assert "python/bcsignal/py.typed" in names
    assert [n for n in names if not _allowed(n, SDIST_ALLOWED)] == []


def test_sdist_holds_every_tracked_file(dist: Path) -> None:
    """An sdist is the source: every file git tracks is in it (a test fixture or a curation note left out
    would make the sdist's tests fail or its models' provenance unreadable)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False)
    if listed.returncode != 0 or not listed.stdout:
        pytest.skip("not a git checkout")
    tracked = {n for n in listed.stdout.decode().split("\0") if n and (ROOT / n).is_file()}
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {m.name.split("/", 1)[1] for m in archive.getmembers() if m.isfile()}
    assert sorted(tracked - names) == []


def test_allow_list_refuses_stray_names() -> None:
    assert not _allowed("bcsignal/_data/sbml/.Park_BBRC2007.xml.x1y2.tmp", WHEEL_ALLOWED)
    assert not _allowed("bcsignal/__pycache__/cli.cpython-312.pyc", WHEEL_ALLOWED)
    assert not _allowed("models/Park_BBRC2007.ant~", SDIST_ALLOWED)
    assert _allowed(".ci/run", SDIST_ALLOWED)


def test_metadata_has_no_placeholders(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        meta = next(archive.read(n).decode() for n in archive.namelist() if n.endswith("METADATA"))
    assert "example.invalid" not in meta
    assert "bcsignal developers" not in meta
    version = re.search(r"^Version: (\S+)$", meta, re.MULTILINE)
    import bcsignal

    assert version is not None and version.group(1) == bcsignal.__version__


# -- the core wheel, alone, outside the repository -------------------------------------------------------
def _readme_snippet() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Using a model from Python", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None
    return match.group(1)


@pytest.fixture(scope="session")
def core_venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv outside the repository with the core lock and the wheel, and no extra."""
    where = tmp_path_factory.mktemp("core-venv") / "venv"
    venv.EnvBuilder(with_pip=True).create(where)
    python = where / "bin" / "python"
    (wheel,) = dist.glob("*.whl")
    pip = [str(python), "-m", "pip", "install", "--quiet", "--no-input", "--no-deps"]
    subprocess.run([*pip, "--require-hashes", "-r", str(LOCK_CORE)], check=True, capture_output=True)
    subprocess.run([*pip, str(wheel)], check=True, capture_output=True)
    return where


def _run(core_venv: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env, check=False, timeout=600)


def test_core_wheel_checks_a_model_and_runs_the_readme_outside_the_repo(
    core_venv: Path, tmp_path: Path
) -> None:
    bcsignal_cli = str(core_venv / "bin" / "bcsignal")
    version = _run(core_venv, [bcsignal_cli, "--version"], tmp_path)
    assert version.returncode == 0, version.stderr
    assert re.search(r"^libroadrunner \d", version.stdout, re.MULTILINE)
    assert "COPASI" not in version.stdout
    check = _run(core_venv, [bcsignal_cli, "check", "Park_BBRC2007"], tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    snippet = _run(core_venv, [str(core_venv / "bin" / "python"), "-c", _readme_snippet()], tmp_path)
    assert snippet.returncode == 0, snippet.stderr
    plain = (
        "import bcsignal, roadrunner\n"
        "r = bcsignal.load('Park_BBRC2007')\n"
        "assert type(r) is roadrunner.RoadRunner, type(r)\n"
        "assert bcsignal.time_course('Park_BBRC2007', 10, 3)['time'][-1] == 10\n"
        "try:\n"
        "    bcsignal.run_experiment('Park_BBRC2007', 'NDRG2_IGF1')\n"
        "except bcsignal.BcsignalError as exc:\n"
        "    print(exc)\n"
    )
    core_api = _run(core_venv, [str(core_venv / "bin" / "python"), "-c", plain], tmp_path)
    assert core_api.returncode == 0, core_api.stderr
    assert "pip install 'bcsignal[pandas]'" in core_api.stdout, core_api.stdout
    where = _run(
        core_venv,
        [str(core_venv / "bin" / "python"), "-c", "import bcsignal; print(bcsignal.__file__)"],
        tmp_path,
    )
    assert str(ROOT) not in where.stdout and "site-packages" in where.stdout


def test_core_wheel_never_writes_into_site_packages(core_venv: Path, tmp_path: Path) -> None:
    bcsignal_cli = str(core_venv / "bin" / "bcsignal")
    before = sorted(p.name for p in (core_venv / "lib").rglob("*"))
    refused = _run(core_venv, [bcsignal_cli, "build", "Park_BBRC2007"], tmp_path)
    assert refused.returncode == 2
    assert "--out DIR" in refused.stderr and "Traceback" not in refused.stderr
    built = _run(
        core_venv, [bcsignal_cli, "build", "Park_BBRC2007", "--out", str(tmp_path / "sbml")], tmp_path
    )
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "sbml" / "Park_BBRC2007.xml").is_file()
    assert sorted(p.name for p in (core_venv / "lib").rglob("*")) == before


@pytest.mark.parametrize(
    ("argv", "extra"),
    [
        (["export", "Park_BBRC2007"], "exchange"),
        (["crosscheck", "Park_BBRC2007"], "exchange"),
        (["report", "Park_BBRC2007", "--no-crosscheck"], "report"),
        (["robustness", "Park_BBRC2007", "--samples", "2"], "robustness"),
    ],
    ids=["export", "crosscheck", "report", "robustness"],
)
def test_core_wheel_names_the_missing_extra(
    core_venv: Path, tmp_path: Path, argv: list[str], extra: str
) -> None:
    result = _run(core_venv, [str(core_venv / "bin" / "bcsignal"), *argv], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert f"pip install 'bcsignal[{extra}]'" in result.stderr
    assert list(tmp_path.iterdir()) == []


# -- a missing extra, hidden in this environment ---------------------------------------------------------
@pytest.mark.parametrize(
    ("hidden", "code", "extra"),
    [
        ("libsedml", "import bcsignal.exchange", "exchange"),
        (
            "COPASI",
            "from bcsignal.copasi import CopasiModel; CopasiModel('<sbml/>')",
            "exchange",
        ),
        ("matplotlib", "from bcsignal.app import report; report.robustness_plot({})", "report"),
        ("tellurium", "from bcsignal import exchange; exchange.run_with_tellurium(None)", None),
        ("pandas", "bcsignal.run_experiment('Park_BBRC2007', 'NDRG2_IGF1')", "pandas"),
        ("matplotlib", "bcsignal.claim('Park_BBRC2007', 'socs1_induced').plot()", "report"),
    ],
    ids=["libsedml", "COPASI", "matplotlib", "tellurium", "pandas", "claim-plot"],
)
def test_api_names_the_missing_extra(hidden: str, code: str, extra: str | None) -> None:
    program = (
        f"import sys; sys.modules[{hidden!r}] = None\n"
        "import bcsignal\n"
        "try:\n"
        f"    {code}\n"
        "except bcsignal.BcsignalError as exc:\n"
        "    print(exc)\n"
        "else:\n"
        "    print('no error')\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    hint = f"pip install 'bcsignal[{extra}]'" if extra else "pip install tellurium"
    assert hint in result.stdout, result.stdout


@pytest.mark.parametrize(
    ("hidden", "argv"),
    [
        ("libsedml", ["export", "Park_BBRC2007"]),
        ("COPASI", ["crosscheck", "Park_BBRC2007"]),
        ("matplotlib", ["report", "Park_BBRC2007"]),
        ("tqdm", ["robustness", "Park_BBRC2007", "--samples", "2"]),
    ],
    ids=["export", "crosscheck", "report", "robustness"],
)
def test_cli_names_the_missing_extra_in_one_line(hidden: str, argv: list[str]) -> None:
    program = f"import sys; sys.modules[{hidden!r}] = None\nfrom bcsignal.app.cli import main\n"
    program += f"sys.exit(main({argv!r}))\n"
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert "pip install 'bcsignal[" in result.stderr
