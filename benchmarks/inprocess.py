"""In-process benchmark: executions/s and latency of the shared workflows W1-W5 (and JSONata twins).

Each workflow runs ``--count`` sync executions one after another on one event loop (one core). Beside
each rate stands a *floor* measured in the same run: the same data work written by hand in plain
Python (parse the input text, build the same output, serialise it), so the ratio says how close the
engine gets to the cost of the work itself. A JSONata twin's ``ratio_to_jsonpath`` is measured on its own,
with the twin and its JSONPath form run in alternating blocks.

    python benchmarks/inprocess.py [--count N] [--only W1,W4] [--json]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from express_engine import Engine
from express_engine.cli import run_async

HERE = Path(__file__).resolve().parent
WORKFLOWS = Path(os.environ.get("BENCH_WORKFLOWS", HERE.parent.parent / "shared" / "bench" / "workflows"))
LOCAL = HERE / "workflows"


def echo(event: Any, context: Any) -> Any:
    """W5's trivial function."""
    return event


# -- floors: the same data work by hand ---------------------------------------------------------------

def floor_w1(text: bytes) -> bytes:
    d = orjson.loads(text)
    o = d["order"]
    d = {**d, "extracted": {"id": o["id"], "total": o["total"], "currency": o["currency"], "stage": "extract"}}
    d = {**d, "enriched": {"customer": d["customer"]["name"], "tier": d["customer"]["tier"],
                           "orderId": d["extracted"]["id"]}}
    d = {**d, "result": {"done": True, "id": d["extracted"]["id"], "tier": d["enriched"]["tier"]}}
    return orjson.dumps(d)


def floor_w2(text: bytes) -> bytes:
    d = orjson.loads(text)
    total = d["order"]["total"]
    if total < 0:
        return b'{"error":"NegativeTotal"}'
    d = {**d, "size": "large" if total >= 1000 else "small"}
    return orjson.dumps(d)


def floor_w3(text: bytes) -> bytes:
    d = orjson.loads(text)
    a = {"id": d["order"]["id"], "branch": "a"}
    a = {"id": a["id"], "step": 2}
    b = {"name": d["customer"]["name"], "branch": "b"}
    b = {"name": b["name"], "step": 2}
    return orjson.dumps({**d, "branches": [a, b]})


def floor_w4(text: bytes) -> bytes:
    d = orjson.loads(text)
    shaped = [{"sku": it["sku"], "qty": it["qty"], "ok": True} for it in d["items"]]
    return orjson.dumps({**d, "shaped": shaped})


def floor_w5(text: bytes) -> bytes:
    d = orjson.loads(text)
    event = orjson.loads(orjson.dumps({"id": d["order"]["id"], "total": d["order"]["total"]}))
    result = orjson.loads(orjson.dumps(echo(event, None)))
    return orjson.dumps({**d, "fn": result})


# name -> (definition file, input file, floor)
CASES: dict[str, tuple[Path, str, Callable[[bytes], bytes]]] = {
    "W1": (WORKFLOWS / "W1.asl.json", "input_1kb.json", floor_w1),
    "W2": (WORKFLOWS / "W2.asl.json", "input_1kb.json", floor_w2),
    "W3": (WORKFLOWS / "W3.asl.json", "input_1kb.json", floor_w3),
    "W4": (WORKFLOWS / "W4.asl.json", "input_map100.json", floor_w4),
    "W5": (WORKFLOWS / "W5.asl.json", "input_1kb.json", floor_w5),
    "W1-JSONata": (LOCAL / "W1-jsonata.asl.json", "input_1kb.json", floor_w1),
    "W4-JSONata": (LOCAL / "W4-jsonata.asl.json", "input_map100.json", floor_w4),
}


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-quantile (0..1) of already sorted values."""
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


async def warmed_up(engine: Any, definition: str, input_text: str, count: int) -> Any:
    """``engine``'s record of ``definition``, checked to succeed on ``input_text`` and warmed up for a run of
    ``count`` executions."""
    engine.register_handler("echo", echo)
    record = engine.create_state_machine("bench", definition)
    first = await engine.start_sync_execution(record, input_text)
    if first["status"] != "SUCCEEDED":
        raise SystemExit(f"benchmark workflow failed: {first}")
    for _ in range(min(200, count // 10)):
        await engine.start_sync_execution(record, input_text)
    return record


async def measure_engine(definition: str, input_text: str, count: int) -> dict[str, float]:
    """Run ``count`` sync executions back to back; rate and latency percentiles."""
    engine = Engine()
    record = await warmed_up(engine, definition, input_text, count)
    latencies = []
    clock = time.perf_counter
    t0 = clock()
    for _ in range(count):
        s = clock()
        await engine.start_sync_execution(record, input_text)
        latencies.append(clock() - s)
    total = clock() - t0
    latencies.sort()
    return {
        "executions_per_s": round(count / total, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 4),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 4),
    }


async def measure_pair(first: str, second: str, input_text: str, count: int, blocks: int = 20) -> float:
    """Executions/s of ``second`` over those of ``first``, run in alternating blocks on one engine each, so that
    both see the same machine (this virtual machine's speed drifts by several percent within a minute)."""
    records = []
    for definition in (first, second):
        engine = Engine()
        records.append((engine, await warmed_up(engine, definition, input_text, count)))
    spent = [0.0, 0.0]
    per_block = max(1, count // blocks)
    clock = time.perf_counter
    for _ in range(blocks):
        for i, (engine, record) in enumerate(records):
            t0 = clock()
            for _ in range(per_block):
                await engine.start_sync_execution(record, input_text)
            spent[i] += clock() - t0
    return spent[0] / spent[1]


def measure_floor(fn: Callable[[bytes], bytes], input_text: str, count: int) -> float:
    """Rate of the hand-written equivalent."""
    data = input_text.encode()
    for _ in range(min(200, count // 10)):
        fn(data)
    clock = time.perf_counter
    t0 = clock()
    for _ in range(count):
        fn(data)
    return round(count / (clock() - t0), 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=0, help="executions per workflow (default: per-workflow)")
    ap.add_argument("--only", help="comma-separated workflow names")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    names = args.only.split(",") if args.only else list(CASES)
    report: dict[str, dict[str, float]] = {}
    for name in names:
        def_path, input_name, floor = CASES[name]
        if not def_path.exists():
            print(f"skipping {name}: {def_path} not found", file=sys.stderr)
            continue
        count = args.count or (2000 if "W4" in name else 20000)
        definition = def_path.read_text()
        input_text = (WORKFLOWS / input_name).read_text()
        result = run_async(measure_engine, definition, input_text, count)
        result["floor_per_s"] = measure_floor(floor, input_text, count)
        result["ratio_to_floor"] = round(result["executions_per_s"] / result["floor_per_s"], 4)
        result["count"] = count
        report[name] = result
        if not args.json:
            print(f"{name:<11} {result['executions_per_s']:>10,.0f} exec/s  p50 {result['p50_ms']:.3f} ms  "
                  f"p99 {result['p99_ms']:.3f} ms  floor {result['floor_per_s']:>10,.0f}/s  "
                  f"ratio {result['ratio_to_floor']:.3f}")
    for jsonata_name, base in (("W1-JSONata", "W1"), ("W4-JSONata", "W4")):
        if jsonata_name in report and base in report:
            # (the two rows above were measured minutes apart; this ratio is measured with both at once)
            base_path, input_name, _ = CASES[base]
            report[jsonata_name]["ratio_to_jsonpath"] = round(run_async(
                measure_pair, base_path.read_text(), CASES[jsonata_name][0].read_text(),
                (WORKFLOWS / input_name).read_text(), report[jsonata_name]["count"]), 4)
            if not args.json:
                print(f"{jsonata_name} / {base} executions/s, measured in alternating blocks: "
                      f"{report[jsonata_name]['ratio_to_jsonpath']:.3f}")
    if args.json:
        print(orjson.dumps(report).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
