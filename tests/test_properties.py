"""Property-based tests: random mutations of valid claims files and model sources load or fail cleanly.

Every outcome must be a success or a BcsignalError; any other exception, a crash, a hang or native text
on stdout/stderr is a bug. Example counts are modest and derandomized so the suite stays fast and
repeatable; raise them locally (HYPOTHESIS_PROFILE=thorough) when hunting.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bcsignal import paths
from bcsignal.app.usermodel import ModelInput, simulate
from bcsignal.core.errors import BcsignalError
from bcsignal.engine.timecourse import Request
from bcsignal.spec.claims import ClaimsFile, parse_claims

DATA = Path(__file__).parent / "data"
CLAIMS_BASES = [(DATA / "tiny.claims.yaml").read_text()] + [
    paths.claims_path(m).read_text() for m in paths.model_ids()
]
ANTIMONY_BASES = [(DATA / "tiny.ant").read_text(), (DATA / "bad" / "blowup.ant").read_text()]
SBML_BASES = [(DATA / "decay.xml").read_text()]

settings.register_profile(
    "ci",
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile("thorough", parent=settings.get_profile("ci"), max_examples=2000, derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
#: Examples per model test: each one parses, checks and simulates in a child process.
MODEL_EXAMPLES = 40 if settings.default is None or settings.default.max_examples <= 100 else 500


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


#: Values a mutation may put anywhere: other types, edge numbers, and names that exist elsewhere.
VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(
        ["end", "increase", "transient", "ordering", "rest", "stimulated", "Sp", "stim", 0, -1, 1e308, 5e-324]
    ),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*prefix, i))
    return found


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        data = data[key]
    return data


@st.composite
def structurally_mutated_claims(draw: st.DrawFn) -> str:
    """A claims file with a few values replaced, removed, duplicated or added, dumped back to YAML."""
    data = yaml.safe_load(draw(st.sampled_from(CLAIMS_BASES)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(data)[1:]))
        parent, key = _parent(data, path), path[-1]
        operation = draw(st.sampled_from(["replace", "delete", "duplicate", "add"]))
        if operation == "replace":
            parent[key] = draw(VALUES)
        elif operation == "delete":
            del parent[key]
        elif operation == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(VALUES)
    return yaml.dump(data, Dumper=_NoAliasDumper, allow_unicode=True)


#: Characters that matter to YAML, Antimony and XML.
SPECIAL = [*"&*!|>{}[]:,#-?%@'\"\t\n ()=;<>/.+^$\\0123456789", "\x00", "é", "\ufeff"]


@st.composite
def textually_mutated(draw: st.DrawFn, bases: list[str]) -> str:
    """A text with a few characters or lines inserted, deleted, replaced or duplicated."""
    text = draw(st.sampled_from(bases))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        operation = draw(st.sampled_from(["insert", "delete", "replace", "line"]))
        if operation == "line":
            lines = text.splitlines(keepends=True)
            i = draw(st.integers(0, len(lines) - 1))
            choice = draw(st.sampled_from(["drop", "duplicate", "swap"]))
            if choice == "drop":
                del lines[i]
            elif choice == "duplicate":
                lines.insert(i, lines[i])
            else:
                j = draw(st.integers(0, len(lines) - 1))
                lines[i], lines[j] = lines[j], lines[i]
            text = "".join(lines)
            continue
        chunk = draw(st.text(alphabet=st.sampled_from(SPECIAL) | st.characters(), min_size=1, max_size=5))
        end = at + (draw(st.integers(1, 6)) if operation != "insert" else 0)
        text = text[:at] + ("" if operation == "delete" else chunk) + text[end:]
    return text


def _load_claims(text: str) -> None:
    try:
        assert isinstance(parse_claims(text, origin="mutated.claims.yaml"), ClaimsFile)
    except BcsignalError as error:
        assert error.file == "mutated.claims.yaml" and error.cause


@given(structurally_mutated_claims())
def test_structurally_mutated_claims_load_or_fail_cleanly(text: str) -> None:
    _load_claims(text)


@given(textually_mutated(CLAIMS_BASES))
def test_textually_mutated_claims_load_or_fail_cleanly(text: str) -> None:
    _load_claims(text)


@pytest.mark.filterwarnings("ignore::bcsignal.core.errors.BcsignalWarning")
@pytest.mark.parametrize(
    ("language", "bases"), [("antimony", ANTIMONY_BASES), ("sbml", SBML_BASES)], ids=["antimony", "sbml"]
)
@settings(max_examples=MODEL_EXAMPLES)
@given(data=st.data())
def test_mutated_models_load_and_simulate_or_fail_cleanly(
    language: str, bases: list[str], data: st.DataObject, capfd: pytest.CaptureFixture[str]
) -> None:
    text = data.draw(textually_mutated(bases), label="text")
    try:
        model = getattr(ModelInput, language)(text, origin=f"mutated.{language}")
        course = simulate(model, Request(until=10, points=3))
        assert course.data.shape[0] == 3
    except BcsignalError as error:
        assert error.cause
    assert capfd.readouterr() == ("", "")
