"""Shared helpers for the HTTP API tests (imported by conftest and the test modules)."""

from __future__ import annotations

import http.client
from typing import Any

from express_engine.jsonutil import dumps, loads

ROLE = "arn:aws:iam::123456789012:role/test"
CREDENTIALS = {"AKIDEXAMPLE": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}

MOCKS = {
    "StateMachines": {
        "Mocked": {"TestCases": {
            "HappyPath": {"Charge": "ChargeOk"},
            "RetryPath": {"Charge": "ChargeFlaky"},
        }},
    },
    "MockedResponses": {
        "ChargeOk": {"0": {"Return": {"StatusCode": 200, "Payload": {"charged": True}}}},
        "ChargeFlaky": {
            "0": {"Throw": {"Error": "Lambda.TooManyRequestsException", "Cause": "Rate exceeded"}},
            "1-2": {"Throw": {"Error": "Lambda.ServiceException", "Cause": "boom"}},
            "3": {"Return": {"StatusCode": 200, "Payload": {"charged": "late"}}},
        },
    },
}


def echo(event: Any, context: Any) -> Any:
    """A local Lambda handler."""
    return {"echo": event}


def raw_post(port: int, body: bytes, target: str | None = "AWSStepFunctions.ListStateMachines",
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], dict[str, str]]:
    """POST ``body`` with http.client; returns (status, parsed JSON body, lower-cased headers)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        h = {"Content-Type": "application/x-amz-json-1.0", **(headers or {})}
        if target is not None:
            h["X-Amz-Target"] = target
        conn.request("POST", "/", body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, loads(data) if data else {}, {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


def definition(states: dict[str, Any], start: str | None = None, **top: Any) -> str:
    """Definition text for ``states`` (StartAt = the first state unless given)."""
    return dumps({"StartAt": start or next(iter(states)), "States": states, **top})
