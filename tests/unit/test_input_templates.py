"""EventBridge Pipes input templates, on the forms AWS documents (static text, a lone path, dynamic
strings, static and dynamic JSON, reserved variables)."""

from __future__ import annotations

from typing import Any

import pytest

from express_engine import service_errors as api
from express_engine.service.input_templates import compile_input_template

RECORD: dict[str, Any] = {"id": "1700000000000-0", "timestamp": 1700000000000,
                          "data": {"key": "v", "n": 7, "obj": {"a": [1, 2]}, "Records": ["r0", "r1", "r2", "r3"],
                                   "quote": 'say "hi"'}}


@pytest.mark.parametrize(("template", "expected"), [
    ('"Hello, sender"', "Hello, sender"),
    ("Hello, sender", "Hello, sender"),
    ("<$.data.key>", "v"),
    ("<$.data.obj>", {"a": [1, 2]}),
    ('"Hello, <$.data.key>"', "Hello, v"),
    ("Hello, <$.data.key> and <$.data.obj>", 'Hello, v and {"a":[1,2]}'),
    ('{"key1": "value1", "key2": "value2"}', {"key1": "value1", "key2": "value2"}),
    ('{"key1": "value1", "key2": <$.data.obj>, "n": <$.data.n>, "s": "<$.data.n>"}',
     {"key1": "value1", "key2": {"a": [1, 2]}, "n": 7, "s": "7"}),
    ('{"r": <$.data.Records[3]>}', {"r": "r3"}),
    ('{"q": "<$.data.quote>", "raw": <$.data.quote>}', {"q": 'say "hi"', "raw": 'say "hi"'}),
    ('{"missing": <$.data.nope>, "in": "x<$.data.nope>y"}', {"missing": None, "in": "xy"}),
    ('{"name": "<aws.pipes.pipe-name>", "arn": "<aws.pipes.pipe-arn>", "t": "<aws.pipes.event.ingestion-time>"}',
     {"name": "p", "arn": "arn:aws:pipes:us-east-1:123456789012:pipe/p", "t": "2023-11-14T22:13:20Z"}),
    ('{"event": <aws.pipes.event.json>}', {"event": RECORD}),
    ("a < b", "a < b"),
])
def test_documented_forms(template: str, expected: Any) -> None:
    render = compile_input_template(template, {"aws.pipes.pipe-name": "p",
                                               "aws.pipes.pipe-arn": "arn:aws:pipes:us-east-1:123456789012:pipe/p"})
    assert render(RECORD) == expected


def test_bad_templates_are_refused() -> None:
    with pytest.raises(api.ValidationException, match="unknown reserved variable"):
        compile_input_template('{"x": <aws.pipes.nope>}')
    with pytest.raises(api.ValidationException, match="not valid"):
        compile_input_template('{"x": <$.a[>}')
    with pytest.raises(api.ValidationException, match="at most 8192"):
        compile_input_template("x" * 8193)


def test_input_transformer_templates() -> None:
    """A rule target's InputTransformer: ``<name>`` placeholders for InputPathsMap paths (AWS's examples)."""
    event = {"time": "2024-01-01T00:00:00Z", "detail": {"instance": "i-123", "status": "running"}}
    paths = {"instance": "$.detail.instance", "status": "$.detail.status"}
    variables = {"aws.events.rule-name": "r"}
    assert compile_input_template("<instance> is in state <status>", variables, paths)(event) == \
        "i-123 is in state running"
    assert compile_input_template('"<instance> is in state \\"<status>\\""', variables, paths)(event) == \
        'i-123 is in state "running"'
    assert compile_input_template('{"myInstance": <instance>, "myStatus": "<instance> is in state \\"<status>\\""}',
                                  variables, paths)(event) == {"myInstance": "i-123",
                                                               "myStatus": 'i-123 is in state "running"'}
    assert compile_input_template('{"r": "<aws.events.rule-name>", "t": "<aws.events.event.ingestion-time>", '
                                  '"e": <aws.events.event>, "other": "<unknown>", "p": "<$.x>"}',
                                  variables, paths)(event) == {"r": "r", "t": "2024-01-01T00:00:00Z", "e": event,
                                                               "other": "<unknown>", "p": "<$.x>"}
    with pytest.raises(api.ValidationException, match="InputPathsMap key"):
        compile_input_template("<x>", {}, {"AWS.x": "$.a"})
