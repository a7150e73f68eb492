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


@pytest.mark.parametrize(("text", "expected"), [
    ("$.é", 1), ("$.a.é", 2), ("$.日本", 3), ("$.a.b[*].ü", [5, 6]), ("$..ü", [5, 6]),
    ("$.x[?(@.é == 2)].v", ["b"]), ("$['é']", 1),
])
def test_dot_notation_names_may_have_any_unicode_letter(text: str, expected: object) -> None:
    doc = {"é": 1, "a": {"é": 2, "b": [{"ü": 5}, {"ü": 6}]}, "日本": 3, "x": [{"é": 1, "v": "a"}, {"é": 2, "v": "b"}]}
    assert compile_path(text).get(doc) == expected
