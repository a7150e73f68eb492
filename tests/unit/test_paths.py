"""JSONPath compilation details that differ between jsonpath-ng and AWS."""

from __future__ import annotations

import pytest

from express_engine.asl.paths import PathNotFound, compile_path

DOC = {
    'Test\\""Name"': "recorded",
    "a'b": "quote",
    "a\\'b": "backslash-quote",
    "x\\\\y": "two backslashes",
    "items": [{"n": "a'b"}, {"n": "c"}],
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # The case AWS recorded (LocalStack's ESCAPE_SEQUENCES_JSONPATH): the backslash stays in the key.
        ("$['Test\\\"\"Name\"']", "recorded"),
        ("$['a\\'b']", "backslash-quote"),
        ("$['x\\\\y']", "two backslashes"),
        ('$["a\'b"]', "quote"),
        # Filter string literals are unescaped, as Jayway does.
        ("$.items[?(@.n == 'a\\'b')]", [{"n": "a'b"}]),
    ],
)
def test_backslashes_in_quoted_keys_are_literal(path: str, expected: object) -> None:
    assert compile_path(path).get(DOC) == expected


def test_an_unescaped_key_is_not_found_through_a_backslash() -> None:
    with pytest.raises(PathNotFound):
        compile_path("$['a\\bc']").get({"abc": 1})
