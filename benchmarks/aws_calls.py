"""AWS-calling benchmark: a DynamoDB putItem workflow against a local moto server, beside a bare client.

Starts one ``moto_server`` on loopback, creates a table, then alternates rounds of

* *bare*: ``--count`` ``PutItem`` calls made directly with one aiobotocore client, ``--concurrency``
  at a time (the floor: the cost of the calls themselves, server included), and
* *engine*: ``--count`` executions of a one-state workflow whose Task is
  ``arn:aws:states:::dynamodb:putItem``, run by the in-process Engine (its own pooled aiobotocore
  client), ``--concurrency`` at a time;

and prints the best round of each in calls (executions) per second and their ratio (target >= 0.8).
For the choice of client library it also times *threads*: the same calls with a (thread-safe) boto3
client in a bounded pool of ``--concurrency`` worker threads, the alternative to aiobotocore.

    python benchmarks/aws_calls.py [--count N] [--concurrency C] [--rounds R] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from express_engine import Engine
from express_engine.cli import run_async
from express_engine.integrations import install
from express_engine.integrations.aws_config import AwsSettings
from express_engine.testing import AwsTestServer

TABLE = "bench"


def definition() -> dict[str, Any]:
    return {"StartAt": "Put", "States": {"Put": {
        "Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
        "Parameters": {"TableName": TABLE, "Item": {"id": {"S.$": "$.id"}, "payload": {"S.$": "$.payload"}}},
        "ResultSelector": {"status.$": "$.SdkHttpMetadata.HttpStatusCode"}, "End": True}}}


CPU_US: dict[str, list[float]] = {}


async def _drive(count: int, concurrency: int, one: Callable[[int], Awaitable[None]]) -> float:
    """Run ``one(i)`` for i < count, ``concurrency`` at a time; returns calls per second.

    Also records this process's CPU time per call (moto runs in another process) in ``CPU_US``.
    """
    next_i = 0

    async def worker() -> None:
        nonlocal next_i
        while next_i < count:
            i = next_i
            next_i += 1
            await one(i)

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    CPU_US.setdefault(one.__name__, []).append((time.process_time() - cpu) / count * 1e6)
    return count / (time.perf_counter() - start)


async def bench(server: AwsTestServer, count: int, concurrency: int, rounds: int) -> dict[str, Any]:
    from aiobotocore.session import get_session  # type: ignore[import-untyped]

    env = server.env()
    server.client("dynamodb").create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    payload = "x" * 100
    engine = Engine()
    bare_rates: list[float] = []
    engine_rates: list[float] = []
    thread_rates: list[float] = []
    import anyio.to_thread
    from anyio import CapacityLimiter

    limiter = CapacityLimiter(concurrency)
    sync_client = server.client("dynamodb")

    async def threaded(i: int) -> None:
        await anyio.to_thread.run_sync(
            lambda: sync_client.put_item(TableName=TABLE, Item={"id": {"S": f"t{i}"}, "payload": {"S": payload}}),
            limiter=limiter)
    async with install(engine.handlers, http=False, aws=AwsSettings.from_env(env)), get_session().create_client(
            "dynamodb", endpoint_url=server.url, region_name=server.region, aws_access_key_id="testing",
            aws_secret_access_key="testing") as client:
        record = engine.create_state_machine("bench", definition())

        async def bare(i: int) -> None:
            await client.put_item(TableName=TABLE, Item={"id": {"S": f"b{i}"}, "payload": {"S": payload}})

        async def execution(i: int) -> None:
            response = await engine.start_sync_execution(record, orjson.dumps({"id": f"e{i}",
                                                                               "payload": payload}).decode())
            if response["status"] != "SUCCEEDED":
                raise RuntimeError(f"execution failed: {response.get('error')}: {response.get('cause')}")

        # Warm both (connections, models, the engine's client) before measuring.
        await _drive(min(count, 50), concurrency, bare)
        await _drive(min(count, 50), concurrency, execution)
        await _drive(min(count, 50), concurrency, threaded)
        for _ in range(rounds):
            bare_rates.append(await _drive(count, concurrency, bare))
            engine_rates.append(await _drive(count, concurrency, execution))
            thread_rates.append(await _drive(count, concurrency, threaded))
    best_bare, best_engine = max(bare_rates), max(engine_rates)
    return {"count": count, "concurrency": concurrency, "rounds": rounds,
            "bare_calls_per_s": round(best_bare, 1), "engine_executions_per_s": round(best_engine, 1),
            "ratio": round(best_engine / best_bare, 3), "threads_calls_per_s": round(max(thread_rates), 1),
            "thread_rounds": [round(r, 1) for r in thread_rates],
            "client_cpu_us_per_call": {name: round(min(v), 1) for name, v in CPU_US.items()},
            "bare_rounds": [round(r, 1) for r in bare_rates], "engine_rounds": [round(r, 1) for r in engine_rates]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=500, help="calls / executions per round (default 500)")
    parser.add_argument("--concurrency", type=int, default=8, help="in flight at a time (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of each (default 3)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    server = AwsTestServer().start()
    try:
        result = run_async(bench, server, args.count, args.concurrency, args.rounds)
    finally:
        server.stop()
    if args.json:
        print(orjson.dumps(result).decode())
    else:
        print(f"bare aiobotocore PutItem      {result['bare_calls_per_s']:>9.1f} calls/s   {result['bare_rounds']}")
        print(f"engine dynamodb:putItem       {result['engine_executions_per_s']:>9.1f} executions/s "
              f"{result['engine_rounds']}")
        print(f"ratio engine / bare           {result['ratio']:>9.3f}   (target >= 0.8)")
        print(f"boto3 in a thread pool        {result['threads_calls_per_s']:>9.1f} calls/s   "
              f"{result['thread_rounds']}")
        print("client-side CPU per call (µs, this process): " + ", ".join(
            f"{k} {v}" for k, v in result["client_cpu_us_per_call"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
