"""Object templates of plain ``$states.input.<key>`` reads (a Map item processor's usual Output): the inline
builder answers as the expressions one by one, and its size bound holds."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from express_engine import errors
from express_engine.asl.jsonata import compile_template
from express_engine.asl.jsonata_values import plain, to_json

TEMPLATE = {"sku": "{% $states.input.sku %}", "qty": "{% $states.input.qty %}", "ok": True, "n": 3.0}

INPUTS: list[Any] = [
    {"sku": "SKU-1", "qty": 2},
    {"sku": "é", "qty": True},  # non-ASCII: no bound
    {"sku": None, "qty": 1.5},
    {"sku": 3.0, "qty": -0.0},  # integral floats are written as integers
    {"sku": 1e16, "qty": 2**70},  # beyond 64 bits: a double
    {"sku": [1.0, {"a": 2.0}], "qty": {"b": "c"}},  # containers
    [{"sku": "a", "qty": 1}, {"sku": "b"}],  # an array input: the path maps over it
    {"sku": "only"},  # a missing key: undefined
    "text",
    None,
]


def _answer(fn: Any) -> Any:
    """The value as JSON text (3 and 3.0 differ), or the error."""
    try:
        return ("value", orjson.dumps(fn()))
    except errors.StatesError as err:
        return ("error", err.error, err.cause)


def _one_by_one(states: dict[str, Any]) -> Any:
    out = {}
    for key, value in TEMPLATE.items():
        if isinstance(value, str):
            value = compile_template(value, f"Output/{key}", "/x").evaluate(states, {})
        out[key] = value
    return out


@pytest.mark.parametrize("value", INPUTS)
def test_the_inline_object_answers_as_its_expressions_one_by_one(value: Any) -> None:
    template = compile_template(TEMPLATE, "Output", "/States/S/Output")
    states = {"input": value}
    expected = _answer(lambda: _one_by_one(states))
    assert _answer(lambda: template.evaluate(states, {})) == expected
    assert _answer(lambda: template.evaluate_sized(states, {})[0]) == expected


@pytest.mark.parametrize("value", INPUTS)
def test_the_size_bound_holds(value: Any) -> None:
    template = compile_template(TEMPLATE, "Output", "/States/S/Output")
    try:
        out, bound = template.evaluate_sized({"input": value}, {})
    except errors.StatesError:
        return
    if bound >= 0:
        assert bound >= len(orjson.dumps(out))
    if isinstance(value, dict) and value.get("sku") == "é":
        assert bound == -1


def test_a_short_ascii_object_gets_a_bound() -> None:
    template = compile_template(TEMPLATE, "Output", "/States/S/Output")
    out, bound = template.evaluate_sized({"input": {"sku": "SKU-1", "qty": 2, "other": [1]}}, {})
    assert out == {"sku": "SKU-1", "qty": 2, "ok": True, "n": 3.0}
    assert len(orjson.dumps(out)) <= bound < 200


@pytest.mark.parametrize(("value", "expected"), [
    ([1e16], b"[10000000000000000]"),
    ([1e16, 2.5e+20, 1e-7, 1.5e-300, "a+b", 3.0], b'[10000000000000000,2.5e+20,1e-7,1.5e-300,"a+b",3]'),
    ({"a": -1e+17, "b": "1e+5"}, b'{"a":-100000000000000000,"b":"1e+5"}'),
    ([1e-7, "x+y", 2.5], b'[1e-7,"x+y",2.5]'),
])
def test_integral_floats_written_with_an_exponent_are_integers(value: Any, expected: bytes) -> None:
    for convert in (plain, to_json):
        assert orjson.dumps(convert(value)) == expected
