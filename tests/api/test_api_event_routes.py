"""Routing of EventBridge (``AWSEvents.*``) and Pipes (``/v1/pipes``) requests, on both backends: served
over Redis, refused with a clear UnknownOperationException by the in-process (``--local``) one."""

from __future__ import annotations

import http.client
from typing import Any

from api_support import raw_post

from express_engine.jsonutil import loads
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
