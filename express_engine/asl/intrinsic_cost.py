"""Which intrinsic-function calls are too heavy to run on the event loop, decided from their arguments.

A function body cannot give up half-way, so the decision is taken before it runs, from the size of its
evaluated arguments — cheaply: a length, or a walk of the arguments that stops after :data:`HEAVY_UNITS`
units. Where a sync state (Pass, Succeed, Fail) runs a call judged heavy on the event loop, the call gives up
with :class:`.offload.Offload` and the state runs again in the offload pool, as a long JSONata evaluation
does. The limits keep a call that is not judged heavy well under :data:`.offload.OFFLOAD_AFTER` of CPU time
(measured by ``benchmarks/intrinsics_worst_case.py``). Calls whose worst case within AWS's limits (a
256 KiB payload) stays under that slice — ArrayLength, ArrayGetItem, ArrayRange (1,000 items), Base64 and Hash
of a string (10,000 characters), MathAdd, MathRandom, UUID — are never judged heavy.
"""

from __future__ import annotations

from collections.abc import Callable

from ..jsonutil import Json, JsonError, dumpb

__all__ = ["HEAVY", "JUDGED_WHEN_NESTED", "MANY_ARGS", "heavier_than"]

#: Container items (and string chunks) a call may walk on the event loop (Python-level work of ~1-4 µs each).
HEAVY_UNITS = 256
#: Arguments beyond which evaluating them alone (a path each) is heavy: States.Format / States.Array.
MANY_ARGS = 1000
#: Pieces States.ArrayPartition may make on the event loop (~0.5 µs each).
MAX_CHUNKS = 2000
#: Characters States.StringSplit may scan on the event loop (up to one piece per two characters).
MAX_SPLIT_CHARS = 8192
#: Characters States.StringToJson may parse on the event loop (orjson, and the depth check: up to ~80 ns each).
MAX_PARSE_CHARS = 16 * 1024
#: Keys States.JsonMerge may copy on the event loop.
MAX_MERGE_KEYS = 32 * 1024
#: Units States.JsonToString may serialise on the event loop (orjson: far cheaper per item than Python).
MAX_SERIALISE_UNITS = 16 * HEAVY_UNITS


def heavier_than(values: list[Json], budget: int, chars_per_unit: int) -> bool:
    """Whether ``values`` hold more than ``budget`` units: one per array item or object member (two: the
    key too), one per ``chars_per_unit`` characters of a string. Walks at most about ``budget`` items, in C
    where it can (an array or object of scalars only is measured by its JSON text)."""
    stack = list(values)
    pop, extend = stack.pop, stack.extend
    while stack:
        value = pop()
        kind = type(value)
        if kind is str:
            budget -= len(value) // chars_per_unit
        elif kind is list or kind is dict:
            items = value if kind is list else value.values()
            budget -= (2 * len(value) if kind is dict else len(value)) + 1
            if budget < 0:
                return True
            kinds = set(map(type, items))
            if list in kinds or dict in kinds:
                extend(items)
            elif str in kinds or kind is dict:
                try:
                    budget -= len(dumpb(value)) // chars_per_unit
                except JsonError:  # (an integer beyond 64 bits: judged heavy, the pool runs it all the same)
                    return True
        else:
            continue
        if budget < 0:
            return True
    return False


def _as_text(args: list[Json], share: int) -> bool:
    # (States.Format, ArrayContains and Hash render values as Java text: a string is copied, not walked)
    return heavier_than(args, HEAVY_UNITS // share, 4096)


def _format(args: list[Json], share: int) -> bool:
    return heavier_than(args[1:], HEAVY_UNITS // share, 4096)


def _array_unique(args: list[Json], share: int) -> bool:
    # (every character of a string is hashed in Python, as Java's String.hashCode)
    return heavier_than(args, HEAVY_UNITS // share, 16)


def _array_partition(args: list[Json], share: int) -> bool:
    array, size = args
    if type(array) is not list or isinstance(size, bool) or not isinstance(size, (int, float)) or size < 1:
        return False
    return len(array) * share > MAX_CHUNKS * size


def _hash(args: list[Json], share: int) -> bool:
    return type(args[0]) is not str and _as_text(args[:1], share)


def _string_split(args: list[Json], share: int) -> bool:
    text = args[0]
    return type(text) is str and len(text) * share > MAX_SPLIT_CHARS


def _string_to_json(args: list[Json], share: int) -> bool:
    text = args[0]
    return type(text) is str and len(text) * share > MAX_PARSE_CHARS


def _json_to_string(args: list[Json], share: int) -> bool:
    return heavier_than(args, MAX_SERIALISE_UNITS // share, 1 << 16)


def _json_merge(args: list[Json], share: int) -> bool:
    left, right = args[0], args[1]
    return type(left) is dict and type(right) is dict and (len(left) + len(right)) * share > MAX_MERGE_KEYS


#: name -> whether a call with these (evaluated, well-counted) arguments is too heavy for the event loop,
#: where ``share`` calls of one field are judged (each may take that share of the slice).
HEAVY: dict[str, Callable[[list[Json], int], bool]] = {
    "States.Format": _format,
    "States.ArrayContains": _as_text,
    "States.ArrayUnique": _array_unique,
    "States.ArrayPartition": _array_partition,
    "States.Hash": _hash,
    "States.StringSplit": _string_split,
    "States.StringToJson": _string_to_json,
    "States.JsonToString": _json_to_string,
    "States.JsonMerge": _json_merge,
}

#: The functions of :data:`HEAVY` judged only when an argument is another call's result (walking a value
#: costs more than orjson serialising it): a path's value is part of a document of at most 256 KiB, which
#: States.JsonToString serialises within the slice.
JUDGED_WHEN_NESTED = frozenset({"States.JsonToString"})
