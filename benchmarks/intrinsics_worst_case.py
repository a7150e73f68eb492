"""Worst-case CPU time of one intrinsic-function evaluation, within AWS's limits (not a test).

Each case builds the heaviest input AWS would let through for one function (a state input of at most
256 KiB as JSON, calls nested at most 10 deep, the 10,000-character limit of Hash/Base64, 1,000 items of
ArrayRange) and reports the CPU time (``time.thread_time``, best of ``--repeat``) that one evaluation holds
its thread:

* ``inline ms``: the whole evaluation, as it runs in a Task's fields, in TestState or in the offload pool;
* ``on loop ms``: the same call where a sync state (Pass, Succeed, Fail) runs it on the event loop — the time
  until it returns or gives up with ``Offload`` (the state then runs again in the pool,
  ``express_engine/runtime/pool.py``);
* ``kept n/max``: the largest input size ``n`` (of ``max``) that still runs to its end on the event loop, and
  ``held ms`` the longest the event loop is held by this case at any size: the bound.

    python benchmarks/intrinsics_worst_case.py [--repeat N] [--only SUBSTRING] [--json]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from express_engine import errors
from express_engine.asl.intrinsics import MAX_NESTING, compile_intrinsic
from express_engine.asl.offload import RESTARTABLE, Offload
from express_engine.asl.paths import StaticEnv
from express_engine.jsonutil import MAX_PAYLOAD_BYTES, Json

#: Longest intrinsic text used for "many arguments" (AWS caps a definition at 1 MiB).
DEFINITION_CHARS = 1_000_000
#: Hash / Base64 input limit (Java characters).
HASH_CHARS = 10_000


@dataclass
class Case:
    """One function's heaviest input: ``text(n)`` evaluated on ``value(n)``, at most ``n_max``."""

    label: str
    text: Callable[[int], str]
    value: Callable[[int], Json]
    n_max: int = 0

    def __post_init__(self) -> None:
        if not self.n_max:  # the largest n whose input still fits the payload limit
            low, high = 1, 1 << 20
            while low < high:
                mid = (low + high + 1) // 2
                if len(orjson.dumps(self.value(mid))) <= MAX_PAYLOAD_BYTES:
                    low = mid
                else:
                    high = mid - 1
            self.n_max = low


def _fixed(text: str) -> Callable[[int], str]:
    return lambda _n: text


def _nested(depth: int) -> Json:
    value: Json = 0
    for _ in range(depth):
        value = [value]
    return value


def _a(make: Callable[[int], Json]) -> Callable[[int], Json]:
    return lambda n: {"a": make(n)}


def _big_object(n: int) -> Json:
    return {f"k{i}": [i, 1.5e300, {"x": None}] for i in range(n)}


def _halves(n: int) -> Json:
    return {"l": {f"a{i}": i for i in range(n)}, "r": {f"b{i}": i for i in range(n)}}


def _many(n: int, head: str, arg: str) -> str:
    return head + f", {arg}" * n + ")"


def _chain(inner: str, wrap: tuple[str, str], depth: int) -> str:
    for _ in range(depth):
        inner = wrap[0] + inner + wrap[1]
    return inner


def _cases() -> list[Case]:
    max_args = (DEFINITION_CHARS - 40) // len("{}, $.a")
    half = MAX_NESTING // 2
    floats = _a(lambda n: [1.5e300] * n)
    zeros = _a(lambda n: [0] * n)
    csv = _a(lambda n: "a," * n)
    return [
        Case("Format: '{}' x n args, 1 MiB definition", lambda n: _many(n, "States.Format('" + "{}" * n + "'", "$.a"),
             lambda n: {"a": "x"}, max_args),
        Case("Format: one 256 KiB float array", _fixed("States.Format('{}', $.a)"), floats),
        Case("Format: one 256 KiB object", _fixed("States.Format('{}', $.a)"), _a(_big_object)),
        Case("JsonToString: 256 KiB floats", _fixed("States.JsonToString($.a)"), floats),
        Case("JsonToString: 256 KiB object", _fixed("States.JsonToString($.a)"), _a(_big_object)),
        Case("JsonToString: 256 KiB, 127 deep", _fixed("States.JsonToString($.a)"),
             _a(lambda n: [_nested(126)] * n)),
        Case("JsonToString(Array($.a x 10))", _fixed(_many(10, "States.JsonToString(States.Array($.a", "$.a") + ")"),
             floats),
        Case("StringToJson: 256 KiB float text", _fixed("States.StringToJson($.a)"),
             _a(lambda n: orjson.dumps([1.5e300] * n).decode())),
        Case("StringToJson: 256 KiB, 127 deep", _fixed("States.StringToJson($.a)"),
             _a(lambda n: "[" + ",".join(["[" * 126 + "]" * 126] * n) + "]")),
        Case("Array: n args, 1 MiB definition", lambda n: "States.Array(" + ", ".join(["$.a"] * n) + ")",
             lambda n: {"a": "x"}, max_args),
        Case("ArrayPartition: 256 KiB, size 1", _fixed("States.ArrayPartition($.a, 1)"), zeros),
        Case("ArrayContains: zeros, absent", _fixed("States.ArrayContains($.a, 1)"), zeros),
        Case("ArrayContains: floats, absent", _fixed("States.ArrayContains($.a, 1)"), floats),
        Case("ArrayContains: objects, absent", _fixed("States.ArrayContains($.a, 1)"),
             _a(lambda n: [{"k": i} for i in range(n)])),
        Case("ArrayRange: 1,000 items", _fixed("States.ArrayRange(0, 999, 1)"), lambda n: {}, 1),
        Case("ArrayGetItem: last of 256 KiB", lambda n: f"States.ArrayGetItem($.a, {n - 1})", zeros),
        Case("ArrayLength: 256 KiB", _fixed("States.ArrayLength($.a)"), zeros),
        Case("ArrayUnique: zeros", _fixed("States.ArrayUnique($.a)"), zeros),
        Case("ArrayUnique: distinct ints", _fixed("States.ArrayUnique($.a)"), _a(lambda n: list(range(n)))),
        Case("ArrayUnique: distinct floats", _fixed("States.ArrayUnique($.a)"),
             _a(lambda n: [1.5e300 + i * 1e285 for i in range(n)])),
        Case("ArrayUnique: short strings", _fixed("States.ArrayUnique($.a)"),
             _a(lambda n: [f"s{i}" for i in range(n)])),
        Case("ArrayUnique: 4 long strings", _fixed("States.ArrayUnique($.a)"),
             _a(lambda n: [f"{i}" + "x" * n for i in range(4)])),
        Case("ArrayUnique: small objects", _fixed("States.ArrayUnique($.a)"),
             _a(lambda n: [{"k": i} for i in range(n)])),
        Case("ArrayUnique: one-item arrays", _fixed("States.ArrayUnique($.a)"), _a(lambda n: [[i] for i in range(n)])),
        Case("Base64Encode: 10,000 chars", _fixed("States.Base64Encode($.a)"), _a(lambda n: "é" * n), HASH_CHARS),
        Case("Base64Encode: 256 KiB (rejected)", _fixed("States.Base64Encode($.a)"), _a(lambda n: "é" * n)),
        Case("Base64Decode: 10,000 chars", _fixed("States.Base64Decode($.a)"), _a(lambda n: "QUJD" * n),
             HASH_CHARS // 4),
        Case("Hash: 10,000 chars SHA-512", _fixed("States.Hash($.a, 'SHA-512')"), _a(lambda n: "é" * n), HASH_CHARS),
        Case("Hash: 256 KiB object (rejected)", _fixed("States.Hash($.a, 'MD5')"), _a(_big_object)),
        Case("Hash: 256 KiB floats (rejected)", _fixed("States.Hash($.a, 'MD5')"), floats),
        Case("JsonMerge: 2 x 128 KiB objects", _fixed("States.JsonMerge($.l, $.r, false)"), _halves),
        Case("MathRandom: seeded", _fixed("States.MathRandom(-1073741824, 1073741823, 42)"), lambda n: {}, 1),
        Case("MathAdd", _fixed("States.MathAdd(2147483646, 1)"), lambda n: {}, 1),
        Case("UUID", _fixed("States.UUID()"), lambda n: {}, 1),
        Case("StringSplit: 256 KiB to 1-char pieces", _fixed("States.StringSplit($.a, ',')"), csv),
        Case("StringSplit: 256 KiB, no delimiter hit", _fixed("States.StringSplit($.a, ',;:|')"),
             _a(lambda n: "é" * n)),
        Case("nested: Unique(Partition(Split, 1))",
             _fixed("States.ArrayUnique(States.ArrayPartition(States.StringSplit($.a, ','), 1))"), csv),
        Case("nested: Length(Unique(Split))",
             _fixed("States.ArrayLength(States.ArrayUnique(States.StringSplit($.a, ',')))"), csv),
        Case(f"nested: StringToJson(JsonToString) x{half}",
             _fixed(_chain("$.a", ("States.StringToJson(States.JsonToString(", "))"), half)), floats),
        Case("nested: Contains(Partition(floats, 1))",
             _fixed("States.ArrayContains(States.ArrayPartition($.a, 1), 1)"), floats),
    ]


def _once(fn: Any, value: Json, env: StaticEnv, on_loop: bool) -> tuple[float, str]:
    RESTARTABLE.thread = threading.get_ident() if on_loop else 0
    start = time.thread_time()
    try:
        fn(value, env)
        outcome = "ok"
    except Offload:
        outcome = "offload"
    except errors.StatesError as exc:
        outcome = exc.name
    finally:
        RESTARTABLE.thread = 0
    return time.thread_time() - start, outcome


def _best(case: Case, n: int, repeat: int, on_loop: bool) -> tuple[float, str]:
    fn = compile_intrinsic(case.text(n))
    value = case.value(n)
    env = StaticEnv({}, {})
    runs = [_once(fn, value, env, on_loop) for _ in range(repeat)]
    return min(t for t, _ in runs) * 1000, runs[0][1]


def _kept(case: Case) -> int:
    """The largest n whose call still runs to its end on the event loop (0: none is offloaded)."""
    if _best(case, case.n_max, 1, True)[1] != "offload":
        return 0
    low, high = 1, case.n_max
    while low < high:
        mid = (low + high + 1) // 2
        if _best(case, mid, 1, True)[1] == "offload":
            high = mid - 1
        else:
            low = mid
    return low


def measure(case: Case, repeat: int) -> dict[str, Any]:
    """Best-of-``repeat`` CPU milliseconds of one evaluation at the worst case, inline and on the event loop,
    and of the largest input that is not offloaded (on the event loop)."""
    inline_ms, outcome = _best(case, case.n_max, repeat, False)
    loop_ms, on_loop = _best(case, case.n_max, repeat, True)
    kept = _kept(case)
    kept_ms = _best(case, kept, repeat, True)[0] if kept else loop_ms
    return {"input_bytes": len(orjson.dumps(case.value(case.n_max))), "inline_ms": inline_ms, "outcome": outcome,
            "on_loop_ms": loop_ms, "on_loop": on_loop, "kept_n": kept, "n_max": case.n_max,
            "held_ms": max(loop_ms, kept_ms)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5, help="evaluations per case (the best counts)")
    ap.add_argument("--only", help="run the cases whose label contains this text")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    report = {}
    if not args.json:
        print(f"{'case':<42} {'input':>8} {'inline ms':>10} {'result':>15} {'on loop ms':>11} {'on loop':>9} "
              f"{'kept n/max':>15} {'held ms':>8}")
    for case in _cases():
        if args.only and args.only not in case.label:
            continue
        r = measure(case, args.repeat)
        report[case.label] = r
        if not args.json:
            kept = f"{r['kept_n']}/{r['n_max']}" if r["kept_n"] else "all"
            print(f"{case.label:<42} {r['input_bytes']:>8} {r['inline_ms']:>10.3f} {r['outcome']:>15} "
                  f"{r['on_loop_ms']:>11.3f} {r['on_loop']:>9} {kept:>15} {r['held_ms']:>8.3f}", flush=True)
    if not args.json:
        worst = max(report.values(), key=lambda r: r["held_ms"], default=None)
        if worst is not None:
            print(f"longest hold of the event loop by one call: {worst['held_ms']:.3f} ms")
    if args.json:
        print(orjson.dumps(report).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
