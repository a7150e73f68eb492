"""Execution inputs checked without being kept as values (what clients put on the stream)."""

from __future__ import annotations

import orjson
import pytest

from express_engine import service_errors as api
from express_engine.jsonutil import MAX_PAYLOAD_BYTES
from express_engine.runtime.inputs import TEXT_GROWTH, checked_input, parse_input


def test_valid_text_is_passed_on_as_given() -> None:
    assert checked_input(' {"a": [1, 2.5e3]}\n') == b' {"a": [1, 2.5e3]}\n'
    assert checked_input('"\u00e9"') == '"\u00e9"'.encode()
    assert checked_input(None) == b"{}"


@pytest.mark.parametrize("bad", ["{", "", "[1,]", "NaN", '"\\ud800"', "\ud800", "\ufeff{}", "{}\x00", 12, b"{}"])
def test_invalid_inputs_get_the_errors_parsing_gives(bad: object) -> None:
    with pytest.raises(api.ServiceError) as parsed:
        parse_input(bad)  # type: ignore[arg-type]
    with pytest.raises(type(parsed.value)) as checked:
        checked_input(bad)  # type: ignore[arg-type]
    assert checked.value.message == parsed.value.message
    assert checked.value.code == "InvalidExecutionInput"


def test_size_limit_is_counted_in_utf8_bytes() -> None:
    fits = '"' + "\u00e9" * ((MAX_PAYLOAD_BYTES - 2) // 2) + '"'
    assert checked_input(fits) == fits.encode()
    with pytest.raises(api.ValidationException):
        checked_input('"' + "\u00e9" * (MAX_PAYLOAD_BYTES // 2) + '"')


@pytest.mark.parametrize("text", ["1e15", "[9e15,-1e15]", "1e5", "1e-6", "0e0", "-0", '"\\u00e9\\/"', "[ 1 , 2 ]"])
def test_text_growth_bounds_the_compact_size(text: str) -> None:
    assert len(orjson.dumps(orjson.loads(text))) <= TEXT_GROWTH * len(text)
