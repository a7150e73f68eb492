"""Routing of EventBridge (``AWSEvents.*``) and Pipes (``/v1/pipes``) requests, on both backends: served
over Redis, refused with a clear UnknownOperationException by the in-process (``--local``) one."""

from __future__ import annotations

import http.client
from typing import Any

import pytest
from api_support import raw_post

from express_engine.jsonutil import dumpb, loads
from express_engine.testing import StepFunctionsServer


def _request(port: int, method: str, path: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, loads(resp.read()), {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


def test_events_target(server: StepFunctionsServer, request: Any) -> None:
    status, body, headers = raw_post(server.port, b"{}", "AWSEvents.ListRules",
                                     {"Content-Type": "application/x-amz-json-1.1"})
    assert headers["content-type"] == "application/x-amz-json-1.1"
    if "local" in request.node.name:
        assert (status, body["__type"]) == (400, "UnknownOperationException")
        assert "Redis-backed server" in body["message"]
    else:
        assert (status, body) == (200, {"Rules": []})
    status, body, _ = raw_post(server.port, b"{}", "AWSEvents.CreateArchive")
    assert (status, body["__type"]) == (400, "UnknownOperationException")


def test_pipes_paths(server: StepFunctionsServer, request: Any) -> None:
    status, body, headers = _request(server.port, "GET", "/v1/pipes")
    assert headers["content-type"] == "application/json"
    if "local" in request.node.name:
        assert (status, body["__type"], headers["x-amzn-errortype"]) == (
            400, "UnknownOperationException", "UnknownOperationException")
    else:
        assert (status, body) == (200, {"Pipes": []})
        status, body, headers = _request(server.port, "GET", "/v1/pipes/nope")
        assert (status, headers["x-amzn-errortype"]) == (404, "NotFoundException")
        status, body, _ = _request(server.port, "GET", "/v1/pipes/a/b/c")
        assert (status, body["__type"]) == (400, "UnknownOperationException")
    # other GET paths keep today's answer
    status, body, _ = _request(server.port, "GET", "/v1/other")
    assert (status, body["__type"]) == (400, "UnknownOperationException")


def test_events_list_members_are_checked_as_aws_does(server: StepFunctionsServer, request: Any) -> None:
    """PutTargets / PutEvents / RemoveTargets: list lengths, members that are not objects, members' own fields."""
    if "local" in request.node.name:
        pytest.skip("the EventBridge operations are served over Redis only")
    one = {"Id": "t", "Arn": "arn:aws:states:us-east-1:123456789012:stateMachine:m"}
    event = {"Source": "s", "DetailType": "d", "Detail": "{}"}
    length = "failed to satisfy constraint: Member must have length"
    cases: list[tuple[str, dict[str, Any], str, str]] = [
        ("PutTargets", {"Rule": "r", "Targets": []}, "ValidationException",
         f"1 validation error detected: Value '[]' at 'Targets' {length} greater than or equal to 1"),
        ("PutTargets", {"Rule": "r", "Targets": [one] * 101}, "ValidationException",
         f"1 validation error detected: Value at 'Targets' {length} less than or equal to 100"),
        ("PutTargets", {"Rule": "r", "Targets": [one, 5]}, "SerializationException",
         "Expected an object for 'targets.2'"),
        ("PutTargets", {"Rule": "r", "Targets": [one, {"Id": "no spaces"}]}, "ValidationException",
         "2 validation errors detected: Value 'no spaces' at 'targets.2.member.Id' failed to satisfy constraint: "
         "Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+; Value null at "
         "'targets.2.member.Arn' failed to satisfy constraint: Member must not be null"),
        ("PutEvents", {"Entries": []}, "ValidationException",
         f"1 validation error detected: Value '[]' at 'entries' {length} greater than or equal to 1"),
        ("PutEvents", {"Entries": [event] * 11}, "ValidationException",
         f"1 validation error detected: Value at 'entries' {length} less than or equal to 10"),
        ("PutEvents", {"Entries": [event, []]}, "SerializationException", "Expected an object for 'entries.2'"),
        ("PutEvents", {"Entries": [{**event, "TraceHeader": "x" * 501}]}, "ValidationException",
         f"1 validation error detected: Value at 'entries.1.member.TraceHeader' {length} less than or equal to 500"),
        ("RemoveTargets", {"Rule": "r", "Ids": []}, "ValidationException",
         f"1 validation error detected: Value '[]' at 'Ids' {length} greater than or equal to 1"),
        ("RemoveTargets", {"Rule": "r", "Ids": [1]}, "SerializationException",
         "Expected a list of strings for 'Ids'"),
    ]
    for operation, body, error, message in cases:
        status, answer, _ = raw_post(server.port, dumpb(body), f"AWSEvents.{operation}",
                                     {"Content-Type": "application/x-amz-json-1.1"})
        assert (status, answer["__type"], answer["message"]) == (400, error, message), (operation, body)
