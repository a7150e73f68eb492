"""Evaluate one JSONata expression as a state's Output would, for the jsonata-js fidelity tests."""

from __future__ import annotations

import pytest

from express_engine import errors
from express_engine.asl.jsonata import compile_template
from express_engine.jsonutil import Json


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
