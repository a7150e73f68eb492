"""The shared conformance cases (recorded against AWS), run in process through the Engine.

The shared runner (``../shared/conformance/run.py``) scores the CLI, one process per case; this test
runs the same cases through :class:`Engine` in one process, judged by that runner's own ``check``: one test per case,
named by its id. Cases we knowingly fail are strict xfails with the reason.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from express_engine import Engine
from express_engine.service_errors import InvalidDefinition, ServiceError

CONFORMANCE = Path(__file__).resolve().parents[3] / "shared" / "conformance"
CASES = CONFORMANCE / "cases" / "public"

#: id -> why we differ from the recording.
KNOWN_FAILURES = {
    "base/test_base::TestSnfBase::test_query_context_object_values":
        "recorded on STANDARD: expects $$.Execution.RedriveCount, which AWS omits for sync Express runs",
    "context_object/test_context_object::TestSnfBase::test_input_path[$$]": "same RedriveCount difference",
    "context_object/test_context_object::TestSnfBase::test_output_path[$$]": "same RedriveCount difference",
}

pytestmark = pytest.mark.skipif(not CASES.is_dir(), reason="../shared/conformance is not beside the checkout")


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _cases() -> list[dict[str, Any]]:
    if not CASES.is_dir():
        return []
    out = []
    for path in sorted(CASES.glob("*.json")):
        case = json.loads(path.read_text())
        if isinstance(case, dict) and "expected" in case:
            out.append(case)
    return out


async def _run_case(case: dict[str, Any], handlers: Any) -> dict[str, Any]:
    engine = Engine(time_scale=0)
    for function, kind in (case.get("handlers") or {}).items():
        engine.register_handler(function, handlers.get(kind))
    definition = case.get("definition_text")
    if definition is None:
        definition = json.dumps(case["definition"])
    input_text = case.get("input_text")
    if input_text is None:
        input_text = json.dumps(case.get("input", {}))
    try:
        record = engine.create_state_machine("conformance", definition)
    except InvalidDefinition as exc:
        return {"status": "INVALID_DEFINITION", "error": exc.code, "cause": exc.message}
    try:
        return await engine.start_sync_execution(record, input_text)
    except ServiceError as exc:
        return {"status": "INVALID_INPUT", "error": exc.code, "cause": exc.message}


_CASES = _cases()


def test_the_public_cases_are_all_here() -> None:
    assert len(_CASES) > 400
    assert set(KNOWN_FAILURES) <= {case["id"] for case in _CASES}


@pytest.fixture(scope="module")
def conformance() -> tuple[Any, Any]:
    """The shared runner (its ``check``) and the shared Lambda handlers."""
    return _load("conformance_run", CONFORMANCE / "run.py"), _load("conformance_handlers", CONFORMANCE / "handlers.py")


@pytest.mark.parametrize("case", [
    pytest.param(case, id=case["id"], marks=[pytest.mark.xfail(reason=KNOWN_FAILURES[case["id"]], strict=True)]
                 if case["id"] in KNOWN_FAILURES else [])
    for case in _CASES
])
async def test_public_conformance_case(case: dict[str, Any], conformance: tuple[Any, Any]) -> None:
    runner, handlers = conformance
    ok, why = runner.check(case, await _run_case(case, handlers))
    assert ok, why
