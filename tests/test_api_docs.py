"""docs/api.md is the rendered reference of exactly bcsignal.__all__, and is never stale."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import bcsignal
from bcsignal import api

from .conftest import load_script

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "api.md"


def _renderer() -> ModuleType:
    return load_script(ROOT / "docs" / "make_api.py")


def test_docs_api_md_is_what_make_docs_writes() -> None:
    assert PAGE.read_text(encoding="utf-8") == _renderer().render(), "docs/api.md is stale: run `make docs`"


def test_the_page_documents_exactly_all() -> None:
    headings = re.findall(r"^## `([^`]+)`$", PAGE.read_text(encoding="utf-8"), re.MULTILINE)
    assert headings == bcsignal.__all__


def test_the_api_module_s_public_names_are_exported() -> None:
    assert set(api.__all__) <= set(bcsignal.__all__)
    for name in api.__all__:
        assert getattr(bcsignal, name) is getattr(api, name)


def test_every_public_function_of_the_facade_is_in_all() -> None:
    from bcsignal import facade

    defined = [
        name
        for name, obj in vars(facade).items()
        if not name.startswith("_") and inspect.isfunction(obj) and obj.__module__ == "bcsignal.facade"
    ]
    assert defined and set(defined) <= set(bcsignal.__all__)


def test_every_public_name_resolves_to_what_it_names_not_a_submodule() -> None:
    # a submodule imported first must not shadow a facade function of the same name
    import bcsignal.checks.validation

    for name in bcsignal.__all__:
        assert not inspect.ismodule(getattr(bcsignal, name)), name
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        bcsignal.no_such_name  # noqa: B018


def test_importing_the_package_or_its_errors_loads_no_native_library() -> None:
    code = (
        "import sys, bcsignal, bcsignal.errors, bcsignal.core.errors\n"
        "native = ('roadrunner', 'libsbml', 'antimony', 'numpy', 'jsonschema', 'libsedml', 'COPASI')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in native))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_an_edited_docstring_makes_the_page_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api.antimony, "__doc__", "Return something else.")
    assert _renderer().render() != PAGE.read_text(encoding="utf-8")
