"""SSRF: a real ``express-engine api`` listening beyond loopback refuses http:invoke calls to internal addresses
(in executions and in TestState), follows no redirect, and lets through what the allow list names."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.config import Config

from express_engine.integrations.egress import EgressPolicy
from express_engine.jsonutil import dumps
from express_engine.testing import free_port, wait_until_healthy

SECRET = "TOP-SECRET-METADATA"
ROLE = "arn:aws:iam::123456789012:role/r"
HTTP = "arn:aws:states:::http:invoke"


class _Internal(BaseHTTPRequestHandler):
    """An internal service: a secret, and a redirect to it."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/secret")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = SECRET.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def internal() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Internal)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield int(httpd.server_address[1])
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def public_api() -> Iterator[Any]:
    """The API on every interface (so with credentials, and the egress policy restricted by default)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "express_engine", "api", "--local", "--host", "0.0.0.0",
                             "--port", str(port), "--credentials", "AKIDTEST:secret", "--http-allow", "localhost"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_until_healthy(port, proc)
    yield boto3.client("stepfunctions", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                       aws_access_key_id="AKIDTEST", aws_secret_access_key="secret",
                       config=Config(inject_host_prefix=False, retries={"max_attempts": 0}))
    proc.terminate()
    _, stderr = proc.communicate(timeout=30)  # (closes the pipe)
    assert proc.returncode == 0, stderr  # SIGTERM: a clean stop


def _state(url: str) -> dict[str, Any]:
    return {"Type": "Task", "Resource": HTTP, "Parameters": {"ApiEndpoint": url, "Method": "GET"}, "End": True}


def test_test_state_cannot_read_internal_addresses(public_api: Any, internal: int) -> None:
    for url in (f"http://127.0.0.1:{internal}/secret", "http://169.254.169.254/latest/meta-data/",
                f"http://[::ffff:127.0.0.1]:{internal}/secret", "http://10.1.2.3/"):
        answer = public_api.test_state(definition=dumps(_state(url)), roleArn=ROLE, input="{}")
        assert (answer["status"], answer["error"]) == ("FAILED", "States.Http.Socket"), answer
        assert "internal" in answer["cause"] and SECRET not in dumps(answer)


def test_executions_cannot_read_internal_addresses_from_their_input(public_api: Any, internal: int) -> None:
    state = {"Type": "Task", "Resource": HTTP, "Parameters": {"ApiEndpoint.$": "$.url", "Method": "GET"},
             "End": True}
    arn = public_api.create_state_machine(name="fetch", definition=dumps({"StartAt": "T", "States": {"T": state}}),
                                          roleArn=ROLE, type="EXPRESS")["stateMachineArn"]
    refused = public_api.start_sync_execution(stateMachineArn=arn,
                                              input=dumps({"url": f"http://127.0.0.1:{internal}/secret"}))
    assert (refused["status"], refused["error"]) == ("FAILED", "States.Http.Socket")
    assert SECRET not in dumps(refused)
    # The allow list lets a named internal service through ...
    allowed = public_api.start_sync_execution(stateMachineArn=arn,
                                              input=dumps({"url": f"http://localhost:{internal}/secret"}))
    assert allowed["status"] == "SUCCEEDED" and SECRET in allowed["output"]
    # ... but a redirect is not followed: the 302 fails the task, as any non-2xx answer does.
    redirected = public_api.start_sync_execution(stateMachineArn=arn,
                                                 input=dumps({"url": f"http://localhost:{internal}/redirect"}))
    assert (redirected["status"], redirected["error"]) == ("FAILED", "States.Http.StatusCode.302")
    assert SECRET not in dumps(redirected)


def test_policy_rules() -> None:
    restricted = EgressPolicy("auto", allow=("10.0.0.0/24",), deny=("203.0.113.7", "evil.example")).resolved("0.0.0.0")
    assert restricted.mode == "restricted"
    assert restricted.refusal("10.0.0.9") is None  # allowed explicitly
    assert "link-local" in (restricted.refusal("169.254.169.254") or "")
    assert "private" in (restricted.refusal("db", "192.168.1.5") or "")
    assert restricted.refusal("example.com", "93.184.215.14") is None
    assert "deny list" in (restricted.refusal("203.0.113.7") or "")
    opened = EgressPolicy("open", deny=("evil.example",))  # the off switch: only the deny list applies
    assert opened.refusal("127.0.0.1") is None and "deny list" in (opened.refusal("evil.example") or "")
    assert EgressPolicy("auto").resolved("127.0.0.1").unrestricted
