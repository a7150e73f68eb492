"""The functions ASL expressions can call, and the bounds of one evaluation.

AWS adds ``$partition``, ``$range``, ``$hash``, ``$random``, ``$uuid`` and ``$parse`` to JSONata's
built-ins and unbinds ``$eval`` (https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html);
built-ins jsonata-python gets wrong are rebound
(:mod:`.jsonata_js`). Arguments arrive as jsonata-python passes them: undefined as
None, JSON null as :data:`~express_engine.asl.jsonata_values.NULL`, an omitted argument not at all. Edge
cases follow what third parties measured on AWS.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import uuid
from dataclasses import dataclass
from typing import Any

from jsonata import Jsonata
from jsonata.jexception import JException
from jsonata.utils import Utils

from ..jsonutil import too_deep
from . import jsonata_js
from .jsonata_runaway import MEMORY as MEMORY
from .jsonata_runaway import STACK_OVERFLOW as STACK_OVERFLOW
from .jsonata_runaway import TIMEOUT as TIMEOUT
from .jsonata_runaway import Runaway as Runaway
from .jsonata_values import INT64_MAX, INT64_MIN, NULL, nulls_in


@dataclass(frozen=True, slots=True)
class EvaluationLimits:
    """Bounds that turn a runaway expression into ``States.QueryEvaluationError``.

    ``max_depth`` counts nested evaluations like jsonata-js's timebox: AWS accepts the non-tail
    recursion ``$f(30)`` (depth 95) and refuses ``$f(40)`` (depth 125) and a 200-term ``1+1+...``.
    ``max_sequence_items`` is the largest ``[a..b]`` AWS allows (873 782 numbers, about 7 MB);
    ``max_range_items`` the documented ``$range`` bound; ``max_string_length`` caps ``&``.
    """

    timeout_ms: int = 5_000
    max_depth: int = 100
    max_sequence_items: int = 873_782
    max_range_items: int = 360_145
    max_string_length: int = 6_990_256


DEFAULT_LIMITS = EvaluationLimits()


def _signature_error(name: str, position: int) -> JException:
    return JException("T0410", -1, position, name)


def _at_most(name: str, args: tuple[Any, ...], count: int) -> None:
    if len(args) > count:
        raise _signature_error(name, count + 1)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _whole(name: str, position: int, value: Any) -> int:
    """A numeric argument truncated toward zero (AWS: -1.7 -> -1)."""
    if not _is_number(value) or not math.isfinite(value):
        raise _signature_error(name, position)
    return int(value)


def _partition(*args: Any) -> Any:
    _at_most("partition", args, 2)
    items = args[0] if args else None
    if items is None:
        return None
    if not isinstance(items, list):
        raise JException("T0412", -1, 1, "partition", "j")
    size = args[1] if len(args) > 1 else None
    if size is None:
        return [list(items)]
    whole = _whole("partition", 2, size)
    if whole < 0:
        raise JException("D3137", -1, "Second argument must be zero or greater")
    if whole == 0 or not items:
        return None
    items = list(items)
    return [items[i:i + whole] for i in range(0, len(items), whole)]


def _range(*args: Any) -> Any:
    _at_most("range", args, 3)
    if len(args) < 2:
        raise _signature_error("range", len(args) + 1)
    if len(args) < 3 or any(arg is None for arg in args):
        return None
    start, end, step = (_whole("range", i + 1, arg) for i, arg in enumerate(args))
    if step == 0 or (end - start) * step < 0:
        return None
    count = (end - start) // step + 1
    limits = getattr(Jsonata.CURRENT.jsonata, "limits", DEFAULT_LIMITS)
    if count > limits.max_range_items:
        raise Runaway(MEMORY)
    # a sequence, as AWS returns it: one number collapses to that number [AWS-rec: $range(1, 9, 9) = 1]
    sequence = Utils.create_sequence()
    sequence.extend(range(start, end + (1 if step > 0 else -1), step))
    return sequence


_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}


def _hash(*args: Any) -> Any:
    _at_most("hash", args, 2)
    if not args:
        raise _signature_error("hash", 1)
    text = args[0]
    if text is None:
        return None
    if not isinstance(text, str):
        raise _signature_error("hash", 1)
    if len(args) == 1:
        return None
    algorithm = args[1]
    if algorithm is not None and algorithm is not NULL and not isinstance(algorithm, str):
        raise _signature_error("hash", 2)
    name = _HASHES.get(algorithm) if isinstance(algorithm, str) else None
    if name is None:
        shown = algorithm if isinstance(algorithm, str) else "null"
        raise JException(
            "D3137", -1, f"Hash algorithm '{shown}' must be one of SHA-1, SHA-384, SHA-256, SHA-512, MD5")
    return hashlib.new(name, text.encode("utf-8", "surrogatepass")).hexdigest()


def _java_random(seed: int) -> float:
    """``new java.util.Random(seed).nextDouble()``: AWS's seeded ``$random`` draws from it."""
    mask = (1 << 48) - 1
    state = (seed ^ 0x5DEECE66D) & mask

    def next_bits(bits: int) -> int:
        nonlocal state
        state = (state * 0x5DEECE66D + 0xB) & mask
        return state >> (48 - bits)

    return ((next_bits(26) << 27) + next_bits(27)) / float(1 << 53)


def _random(*args: Any) -> float:
    _at_most("random", args, 1)
    seed = args[0] if args else None
    if seed is None:
        return random.random()
    whole = _whole("random", 1, seed)
    return _java_random(max(INT64_MIN, min(INT64_MAX, whole)))


def _uuid(*args: Any) -> str:
    _at_most("uuid", args, 0)
    return str(uuid.uuid4())


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("duplicate key")
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _parse(*args: Any) -> Any:
    _at_most("parse", args, 1)
    text = args[0] if args else None
    if text is None:
        return None
    if not isinstance(text, str):
        raise _signature_error("parse", 1)
    if too_deep(text.encode("utf-8", "surrogatepass")):
        raise JException("D3137", -1, "Invalid JSON")
    try:
        # the json module rather than orjson: AWS refuses duplicate keys, which orjson accepts silently
        value = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant,
                           parse_float=_finite_float)
    except (ValueError, RecursionError):
        raise JException("D3137", -1, "Invalid JSON") from None
    return nulls_in(NULL if value is None else value)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _frame_with_asl_functions() -> Jsonata.Frame:
    frame = Jsonata.Frame(Jsonata.static_frame)
    jsonata_js.bind(frame)  # $string, $number, $power, ... as jsonata-js computes them
    for name, function in (("partition", _partition), ("range", _range), ("hash", _hash),
                           ("random", _random), ("uuid", _uuid), ("parse", _parse)):
        frame.bind(name, Jsonata.JLambda(function))
    frame.bind("eval", None)  # AWS: "$eval is not available, use $parse" -> T1006 when called
    return frame


#: the bindings every ASL expression is evaluated in: JSONata's built-ins plus AWS's functions
ASL_FRAME = _frame_with_asl_functions()
#: the function names an expression may use without defining them
BUILTIN_NAMES = frozenset(Jsonata.static_frame.bindings) | frozenset(ASL_FRAME.bindings)
