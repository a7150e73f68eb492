"""``is_json`` (simdjson) must never accept a text that orjson, which workers parse inputs with, refuses."""

from __future__ import annotations

import random

import orjson
import pytest

from express_engine.jsonutil import is_json

EDGES = [
    b"123456789012345678901234567890", b"18446744073709551615", b"18446744073709551616", b"-9223372036854775809",
    b"1e400", b"-1e400", b"1e-400", b"1.7976931348623157e308", b"0.1e", b"01", b"-", b"1.", b".1", b"NaN",
    b"Infinity", b'"\\ud800"', b'"\\udc00\\ud800"', b'"\\ud83d\\ude00"', b'"\\u0000"', b'{"a":1,"a":2}',
    b"[" * 1024 + b"]" * 1024, b"[" * 1025 + b"]" * 1025, b" {} ", b"{}\x00", b"\xef\xbb\xbf{}", b'"\xff"',
    b'"\xed\xa0\x80"', b'"\xc0\x80"', b'"\xf4\x90\x80\x80"', b'"\t"', b'"\x7f"', b"[1,]", b'{"a":1,}', b"true",
    b"null", b"", b" ", b'{"a":1}{"b":2}', b'"\\x"', b"1E2", b"-0", b"[1e309]", b"1" * 400, b"0." + b"1" * 400,
    b'{"\\u0000":1}', b'"\x1f"', b"\x0c{}", b"\xc2\xa0{}", b"{}\n\r\t ", b"[tru]", b"nul", b"[\"a\"\"b\"]",
]

BASES = [
    b'{"order":{"id":"ord-1","total":250.75,"lines":[{"sku":"S","qty":1,"price":9.99}]},"ok":true,"n":null}',
    b'[1,-2.5e-3,"\\u00e9\\n\\"\\\\\\/",{"k":[[],{}]},false,12345678901234567]',
    '{"\u00e9\u4e2d\U0001f600":"x\\ud83d\\ude00"}'.encode(),
]
INTERESTING = b'{}[]",:\\ -+.0123456789eEtrufalsn\x00\x1f\x7f\x80\xbf\xc0\xed\xef\xf4\xff'


def _orjson_accepts(data: bytes) -> bool:
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return True


@pytest.mark.parametrize("data", EDGES)
def test_edge_cases(data: bytes) -> None:
    assert not is_json(data) or _orjson_accepts(data)


def test_random_mutations_of_valid_documents() -> None:
    rng = random.Random(20261121)
    accepted = 0
    for _ in range(30_000):
        data = bytearray(rng.choice(BASES))
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(data) + 1)
            op = rng.random()
            if op < 0.4 and i < len(data):
                data[i] = rng.choice(INTERESTING)
            elif op < 0.7:
                data.insert(i, rng.choice(INTERESTING))
            elif op < 0.9 and i < len(data):
                del data[i]
            else:
                del data[i:]
        text = bytes(data)
        if is_json(text):
            accepted += 1
            assert _orjson_accepts(text), text
    assert accepted > 1_000  # the mutations leave plenty of valid texts to compare on


def test_ordinary_documents_take_the_fast_path() -> None:
    assert all(is_json(b) for b in BASES)
    assert not is_json(b"\xef\xbb\xbf{}")  # simdjson skips a byte-order mark; orjson refuses it
