"""The worker supervisor of ``serve`` with real worker processes SIGKILLed from the test: its restart
backoff doubles in a crash loop and starts again from the first step after a healthy period."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import boto3
from botocore.config import Config

from express_engine.testing import free_port, wait_until_healthy

FIRST, MAX, HEALTHY = 0.1, 0.8, 1.0

_STARTED = re.compile(r"^(\S+ \S+) \d+ INFO express_engine\.supervisor: worker process 0 started \(pid (\d+)\)",
                      re.M)
_EXITED = re.compile(r"^(\S+ \S+) \d+ ERROR express_engine\.supervisor: worker process 0 \(pid (\d+)\) exited with "
                     r"status (-?\d+) after ([\d.]+) s; restarting in ([\d.]+) s", re.M)


def _when(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def test_restart_backoff_starts_again_after_a_healthy_period(redis_url: str, namespace: str, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.stderr"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "express_engine", "serve", "--redis-url", redis_url, "--namespace", namespace,
             "--port", str(port), "--processes", "1", "--log-sink", "none", "--verbosity", "INFO",
             "--restart-backoff", f"{FIRST},{MAX}", "--restart-healthy-after", str(HEALTHY), "--max-body", "65536"],
            stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)

    def started() -> list[int]:
        return [int(pid) for _, pid in _STARTED.findall(log.read_text(errors="replace"))]

    def kill_and_wait_for_the_next(pid: int) -> tuple[int, float]:
        """SIGKILL worker ``pid``; the restarted worker's pid and when the test first saw it."""
        before = len(started())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while len(started()) == before:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.01)
        return started()[-1], time.monotonic()

    try:
        wait_until_healthy(port, proc)
        # (serve takes the API's --max-body too: checked here, where a serve is running anyway)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/", body=b"{" + b" " * 65536 + b"}",
                     headers={"X-Amz-Target": "AWSStepFunctions.ListStateMachines"})
        too_large = conn.getresponse()
        assert (too_large.status, json.loads(too_large.read())["__type"]) == (413, "RequestEntityTooLargeException")
        conn.close()
        sfn = boto3.client("stepfunctions", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                           aws_access_key_id="k", aws_secret_access_key="s",
                           config=Config(inject_host_prefix=False, retries={"max_attempts": 0}, read_timeout=60))
        arn = sfn.create_state_machine(name="p", definition='{"StartAt": "P", "States": {"P": {"Type": "Pass", '
                                       '"End": true}}}', roleArn="arn:aws:iam::123456789012:role/r",
                                       type="EXPRESS")["stateMachineArn"]
        pid = started()[-1]
        for _ in range(3):  # a crash loop: each new worker killed as soon as it is started
            pid, _seen = kill_and_wait_for_the_next(pid)
        # The next one lives and serves for longer than the healthy period before it dies.
        pid, seen = kill_and_wait_for_the_next(pid)
        assert sfn.start_sync_execution(stateMachineArn=arn)["status"] == "SUCCEEDED"
        time.sleep(max(0.0, seen + HEALTHY + 0.2 - time.monotonic()))
        pid, _seen = kill_and_wait_for_the_next(pid)
        pid, _seen = kill_and_wait_for_the_next(pid)  # a quick death again: the second step, not the last
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # (the graceful stop is another test's)
        proc.wait()
    text = log.read_text(errors="replace")
    exits = _EXITED.findall(text)
    delays = [float(d) for *_, d in exits]
    # The first worker, three quick deaths in a row, the one that ran (and served) a healthy while, a quick one.
    assert delays == [FIRST, 2 * FIRST, 4 * FIRST, MAX, FIRST, 2 * FIRST], text
    assert float(exits[4][3]) >= HEALTHY and all(float(up) < HEALTHY for *_, up, _d in exits[1:4]), text
    assert {int(status) for _, _, status, _, _ in exits} == {-signal.SIGKILL}, text
    # Each restart came no sooner than the delay announced.
    starts = _STARTED.findall(text)
    assert len(starts) == len(exits) + 1
    for (exited_at, *_, delay), (started_at, _) in zip(exits, starts[1:], strict=True):
        assert _when(started_at) - _when(exited_at) >= float(delay) - 0.01, text
