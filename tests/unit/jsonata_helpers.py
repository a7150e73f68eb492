"""Helpers of the JSONata tests: one expression evaluated as a state's Output would, and the official suite's
runner (``../shared/jsonata-suite``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from express_engine import errors
from express_engine.asl.jsonata import compile_template
from express_engine.jsonutil import Json

#: the official JSONata test suite, beside the checkout (the tests using it are skipped without it)
SUITE = Path(__file__).resolve().parents[3] / "shared" / "jsonata-suite"


def ev(expression: str) -> Json:
    """The value of `expression` evaluated as a state's Output over an empty input."""
    return compile_template("{% " + expression + " %}", "Output", "/States/S/Output").evaluate({"input": {}}, {})


def threw(expression: str) -> str:
    """The part of the cause after "threw an error during evaluation"."""
    with pytest.raises(errors.QueryEvaluationError) as info:
        ev(expression)
    cause = info.value.cause or ""
    prefix = f"The JSONata expression '{expression}' specified for the field 'Output' threw an error during evaluation"
    assert cause.startswith(prefix)
    return cause[len(prefix):]


def suite_runner(module_name: str) -> Any:
    """The suite's ``run_suite.py`` (its case and dataset loaders), imported as ``module_name``."""
    spec = importlib.util.spec_from_file_location(module_name, SUITE / "run_suite.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
