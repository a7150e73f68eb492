"""Slow and silent clients against a real ``express-engine api``: timeouts and the connection cap (loopback,
a bounded number of sockets, a one-second request timeout)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config

from express_engine.testing import free_port, wait_until_healthy

CAP = 12


@pytest.fixture(scope="module")
def api_port() -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "express_engine", "api", "--local", "--port", str(port),
                             "--request-timeout", "1", "--max-connections", str(CAP)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_until_healthy(port, proc)
    yield port
    proc.terminate()
    _, stderr = proc.communicate(timeout=30)  # (closes the pipe)
    assert proc.returncode == 0, stderr  # SIGTERM: a clean stop


def _connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)  # (the bound on every read below)
    return s


def _read_all(s: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := s.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _aws_error(response: bytes) -> tuple[int, str]:
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)["__type"]


def _still_serving(port: int) -> None:
    sfn = boto3.client("stepfunctions", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                       aws_access_key_id="k", aws_secret_access_key="s",
                       config=Config(inject_host_prefix=False, retries={"max_attempts": 0}))
    assert sfn.list_state_machines()["stateMachines"] == []


def test_silent_connections_are_closed_and_the_cap_refuses_clearly(api_port: int) -> None:
    silent = [_connect(api_port) for _ in range(CAP)]
    time.sleep(0.2)  # (let the server accept them all before the next one)
    extra = _connect(api_port)
    assert _aws_error(_read_all(extra)) == (503, "ServiceUnavailable")
    extra.close()
    for s in silent:  # none sent a byte: each is answered 408 and closed after the request timeout
        assert _aws_error(_read_all(s)) == (408, "RequestTimeoutException")
        s.close()
    _still_serving(api_port)


def test_slow_headers_and_slow_bodies_are_cut_off(api_port: int) -> None:
    slow_headers = _connect(api_port)
    slow_headers.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    slow_body = _connect(api_port)
    slow_body.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: AWSStepFunctions.ListStateMachines\r\n"
                      b"Content-Type: application/x-amz-json-1.0\r\nContent-Length: 100\r\n\r\n{")
    slow_headers.settimeout(0.25)
    started = time.monotonic()
    closed = False
    while time.monotonic() - started < 10:  # a header line every 0.25 s: never whole
        try:
            slow_headers.sendall(b"X-Slow: 1\r\n")
            if slow_headers.recv(65536):
                closed = True
                break
        except TimeoutError:
            continue
        except OSError:
            closed = True
            break
    assert closed, "a connection trickling headers was never cut off"
    slow_headers.close()
    assert _aws_error(_read_all(slow_body)) == (408, "RequestTimeoutException")
    slow_body.close()
    _still_serving(api_port)
