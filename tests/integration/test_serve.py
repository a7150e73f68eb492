"""README's main command, ``express-engine serve`` on its embedded Redis, stopped with a terminal's Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config

from .conftest import _free_port


def test_ctrl_c_stops_workers_before_the_embedded_redis(tmp_path: Path) -> None:
    port, redis_port = _free_port(), _free_port()
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "express_engine", "serve", "--port", str(port), "--embedded-port", str(redis_port),
         "--processes", "1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True)  # (a process group of its own, as a terminal's foreground job has)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "serve did not start"
                time.sleep(0.2)
        sfn = boto3.client("stepfunctions", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                           aws_access_key_id="k", aws_secret_access_key="s",
                           config=Config(inject_host_prefix=False, retries={"max_attempts": 0}))
        arn = sfn.create_state_machine(name="p", definition='{"StartAt": "P", "States": {"P": {"Type": "Pass", '
                                       '"End": true}}}', roleArn="arn:aws:iam::123456789012:role/r",
                                       type="EXPRESS")["stateMachineArn"]
        assert sfn.start_sync_execution(stateMachineArn=arn)["status"] == "SUCCEEDED"
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: every process of the foreground group
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, stderr
    assert "unreachable" not in stderr and "may not have been acknowledged" not in stderr, stderr


def test_serve_restarts_its_embedded_server_when_it_dies(tmp_path: Path) -> None:
    """SIGKILL of the embedded server: back and serving within 5 s, on the same data (nothing accepted lost)."""
    import orjson
    import redis as sync_redis

    port, redis_port = _free_port(), _free_port()
    sink = tmp_path / "events.log"
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "express_engine", "serve", "--port", str(port), "--embedded-port", str(redis_port),
         "--processes", "1", "--log-sink", f"file:{sink}"], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "serve did not start"
                time.sleep(0.2)
        sfn = boto3.client("stepfunctions", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                           aws_access_key_id="k", aws_secret_access_key="s",
                           config=Config(inject_host_prefix=False, retries={"max_attempts": 0}))
        role = "arn:aws:iam::123456789012:role/r"
        logging = {"level": "ALL", "destinations": [
            {"cloudWatchLogsLogGroup": {"logGroupArn": "arn:aws:logs:us-east-1:123456789012:log-group:g:*"}}]}
        waiting = sfn.create_state_machine(
            name="w", definition='{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": true}}}',
            roleArn=role, type="EXPRESS", loggingConfiguration=logging)["stateMachineArn"]
        quick = sfn.create_state_machine(
            name="p", definition='{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}',
            roleArn=role, type="EXPRESS")["stateMachineArn"]
        accepted = {sfn.start_execution(stateMachineArn=waiting)["executionArn"] for _ in range(20)}
        pid = int(sync_redis.Redis(port=redis_port).info("server")["process_id"])
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        while True:
            try:
                if sfn.start_sync_execution(stateMachineArn=quick)["status"] == "SUCCEEDED":
                    break
            except Exception:  # (unavailable until the server is back and the worker reconnected)
                pass
            assert time.monotonic() - killed < 5, "the embedded server was not back and serving within 5 s"
            time.sleep(0.1)
        assert int(sync_redis.Redis(port=redis_port).info("server")["process_id"]) != pid

        def succeeded() -> set[str]:
            if not sink.exists():
                return set()
            return {e["execution_arn"] for e in map(orjson.loads, sink.read_bytes().splitlines())
                    if e["type"] == "ExecutionSucceeded"}
        deadline = time.monotonic() + 30
        while not accepted <= succeeded():
            assert time.monotonic() < deadline, f"{len(accepted - succeeded())} accepted starts never ran"
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, stderr
    assert "restarting it" in stderr, stderr
