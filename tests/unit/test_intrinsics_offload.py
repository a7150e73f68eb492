"""Heavy intrinsic calls give up on the event loop and their state runs again in the offload pool."""

from __future__ import annotations

import json
import math
import random
import re
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest

from express_engine import Engine
from express_engine.asl.intrinsic_functions import _java_double
from express_engine.asl.intrinsics import compile_intrinsic
from express_engine.asl.offload import RESTARTABLE, Offload
from express_engine.asl.paths import StaticEnv
from express_engine.jsonutil import Json, dumpb, too_deep

ENV = StaticEnv({}, {})
BIG = [f"s{i % 700}" for i in range(3000)]  # (a few KiB: heavy for the Python-level functions)

HEAVY_CALLS = [
    ("States.ArrayUnique($.a)", {"a": BIG}),
    ("States.ArrayContains($.a, 'nope')", {"a": BIG}),
    ("States.ArrayPartition($.a, 1)", {"a": BIG}),
    ("States.Format('{}', $.a)", {"a": BIG}),
    ("States.Hash($.a, 'MD5')", {"a": BIG}),  # (rejected: longer than 10,000 characters as text)
    ("States.StringSplit($.s, ',')", {"s": ",".join(BIG)}),
    ("States.StringToJson($.s)", {"s": json.dumps(BIG)}),
    ("States.JsonToString(States.Array($.a, $.a, $.a, $.a, $.a, $.a, $.a, $.a))", {"a": BIG}),
    ("States.JsonMerge(States.StringToJson($.l), $.r, false)",
     {"l": "{}", "r": {f"k{i}": i for i in range(40_000)}}),
    ("States.Array(" + ", ".join(["$.x"] * 1001) + ")", {"x": 1}),
]
LIGHT_CALLS = [
    ("States.ArrayUnique($.a)", {"a": BIG[:20]}),
    ("States.Format('{} and {}', $.a, 3)", {"a": BIG[:20]}),
    ("States.JsonToString($.a)", {"a": BIG}),  # (a path's value: at most a document, serialised in the slice)
    ("States.StringSplit($.s, ',')", {"s": "a,b,c"}),
    ("States.ArrayLength($.a)", {"a": BIG}),
]


@contextmanager
def on_the_event_loop() -> Iterator[None]:
    """As a sync state running on the event loop (where an evaluation may give up)."""
    RESTARTABLE.thread = threading.get_ident()
    try:
        yield
    finally:
        RESTARTABLE.thread = 0


def _outcome(text: str, value: Json) -> tuple[str, Json]:
    try:
        return "ok", compile_intrinsic(text)(value, ENV)
    except Exception as exc:  # (the error the state would fail with)
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize(("text", "value"), HEAVY_CALLS, ids=[t[:40] for t, _ in HEAVY_CALLS])
def test_a_heavy_call_gives_up_on_the_event_loop_only(text: str, value: Json) -> None:
    fn = compile_intrinsic(text)
    with on_the_event_loop(), pytest.raises(Offload):
        fn(value, ENV)
    assert _outcome(text, value)[0] in {"ok", "Runtime"}  # (elsewhere, it runs to its end)


@pytest.mark.parametrize(("text", "value"), LIGHT_CALLS, ids=[t[:40] for t, _ in LIGHT_CALLS])
def test_a_light_call_runs_on_the_event_loop(text: str, value: Json) -> None:
    expected = _outcome(text, value)
    with on_the_event_loop():  # (an Offload would not be caught)
        assert _outcome(text, value) == expected


def test_the_calls_of_one_field_share_the_slice() -> None:
    """A call light alone is heavy when it is one of several judged in a field (their sum would hold the loop)."""
    value = {"a": BIG[:120]}
    with on_the_event_loop():
        compile_intrinsic("States.ArrayUnique($.a)")(value, ENV)
        with pytest.raises(Offload):
            compile_intrinsic("States.ArrayLength(States.ArrayUnique(States.ArrayUnique($.a)))")(value, ENV)


def _machine(field: str, value: str) -> str:
    return json.dumps({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Parameters": {f"{field}.$": value}, "Next": "F"},
        "F": {"Type": "Fail", "ErrorPath": "$.r[0]",
              "CausePath": "States.Format('{} items', States.ArrayLength($.r))"}}})


async def test_a_pass_and_a_fail_with_heavy_calls_run_in_the_pool_with_the_same_answer() -> None:
    from express_engine.runtime import pool

    engine = Engine()
    items = [f"x{i % 5}" for i in range(40_000)]
    record = engine.create_state_machine("heavy", _machine("r", "States.ArrayUnique($.a)"))
    before = pool.offloaded
    result = await engine.start_sync_execution(record, json.dumps({"a": items}))
    assert pool.offloaded == before + 1  # (the Pass; the Fail's call is light)
    assert result["status"] == "FAILED", result
    assert result["error"] in {f"x{i}" for i in range(5)}
    assert result["cause"] == "5 items"
    # The same machine run in TestState (never offloaded) answers the same.
    inline = compile_intrinsic("States.ArrayUnique($.a)")({"a": items}, ENV)
    assert result["error"] == inline[0]
    assert pool.offloaded == before + 1


async def test_heavy_calls_in_task_map_and_parallel_fields_run_in_the_pool_with_the_same_answer() -> None:
    """A Task's Parameters and ResultSelector, a Map's ItemSelector (per item), a Parallel's Parameters: it runs
    again in the pool (pure: the task is invoked once), the answer is the inline one."""
    from express_engine.runtime import pool

    calls: list[Json] = []
    engine = Engine()
    engine.register_handler("echo", lambda event, context: calls.append(event) or event)
    items = [f"x{i % 5}" for i in range(40_000)]
    unique = "States.ArrayUnique($.a)"
    record = engine.create_state_machine("fields", json.dumps({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:echo",
              "Parameters": {"a.$": "$.a", "u.$": unique}, "ResultSelector": {"u.$": unique}, "ResultPath": "$.t",
              "Next": "M"},
        "M": {"Type": "Map", "ItemsPath": "$.t.u", "ItemSelector": {"v.$": "$$.Map.Item.Value", "u.$": unique,
                                                                    "a.$": "$.a"},
              "ItemProcessor": {"StartAt": "C", "States": {"C": {"Type": "Pass", "Parameters": {
                  "n.$": "States.ArrayLength($.u)", "v.$": "$.v"}, "End": True}}},
              "ResultPath": "$.m", "Next": "P"},
        "P": {"Type": "Parallel", "Parameters": {"u.$": unique}, "ResultPath": "$.p",
              "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}], "End": True}}}))
    before = pool.offloaded
    result = await engine.start_sync_execution(record, json.dumps({"a": items}))
    assert result["status"] == "SUCCEEDED", result
    inline = compile_intrinsic(unique)({"a": items}, ENV)
    out = json.loads(result["output"])
    assert (out["t"], out["m"], out["p"]) == ({"u": inline}, [{"n": 5, "v": v} for v in inline], [{"u": inline}])
    assert calls == [{"a": items, "u": inline}]
    # (the Task's Parameters and ResultSelector, each item's selector, the Parallel's Parameters)
    assert pool.offloaded == before + 2 + len(inline) + 1


def _old_java_double(x: float) -> str:
    if 1e-3 <= abs(x) < 1e7 or x == 0 or not math.isfinite(x):
        return _java_double(x)
    sign, digit_tuple, exponent = Decimal(repr(x)).as_tuple()
    digits = "".join(map(str, digit_tuple))
    power = int(exponent) + len(digits) - 1
    digits = digits.rstrip("0") or "0"
    return f"{'-' if sign else ''}{digits[0]}.{digits[1:] or '0'}E{power}"


def test_java_double_text_is_as_before() -> None:
    r = random.Random(7)
    values = [1e7, 9.999999e-4, 1.5e300, -1.5e300, 5e-324, 1.7976931348623157e308, 1e16, 1e22, -2.5e-5]
    values += [struct.unpack(">d", struct.pack(">Q", r.getrandbits(64)))[0] for _ in range(5000)]
    values += [float(r.randint(1, 10 ** r.randint(8, 25))) for _ in range(5000)]
    assert [_java_double(v) for v in values] == [_old_java_double(v) for v in values]
    assert _java_double(1.5e300) == "1.5E300" and _java_double(-1e-4) == "-1.0E-4"


_INNERMOST = re.compile(rb"\[\]|\{\}")


def _old_too_deep(data: bytes, limit: int) -> bool:
    """The quadratic reference: remove innermost pairs ``limit`` times."""
    brackets = re.sub(rb'"[^"\\]*(?:\\.[^"\\]*)*"', b"", data).translate(None, bytes(
        b for b in range(256) if b not in b"[]{}"))
    for _ in range(limit):
        brackets = _INNERMOST.sub(b"", brackets)
    return bool(brackets)


def test_too_deep_is_as_before() -> None:
    r = random.Random(11)

    def gen(depth: int, top: int, budget: list[int]) -> Json:
        budget[0] -= 1
        if depth >= top or budget[0] <= 0 or r.random() < 0.1:
            return r.choice([0, 'a["]{', {}, []])
        children = [gen(depth + 1, top, budget) for _ in range(r.choice((1, 1, 1, 2, 3)))]
        return children if r.random() < 0.5 else {f"k{i}": c for i, c in enumerate(children)}

    for _ in range(400):
        data = dumpb(gen(0, r.randint(1, 140), [400]))
        for limit in (1, 3, 6, r.randint(1, 140)):
            assert too_deep(data, limit) == _old_too_deep(data, limit), (limit, data[:100])
    for depth in (127, 128, 129, 130):
        blocks = b"[" + b",".join([b"[" * depth + b"]" * depth] * 20) + b"]"
        assert too_deep(blocks) == (depth + 1 > 128) == _old_too_deep(blocks, 128)
