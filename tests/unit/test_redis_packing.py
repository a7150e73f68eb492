"""Commands packed by hiredis are byte for byte what redis-py's own packer sends."""

from __future__ import annotations

import pytest
import redis.asyncio as aredis
from redis.exceptions import DataError

from express_engine.service.keys import hiredis_packing

COMMANDS = [
    ("SET", "key", "välue"),
    ("EVALSHA", "ab" * 20, 3, "ee:starts", b"ee:revisions", "ee:sent:x", 1_000_000, 60_000, 0,
     "arn:aws:states:us-east-1:123456789012:stateMachine:W1", "17", b"{" + b"x" * 70_000 + b"}"),
    ("CLIENT SETNAME", "worker-1"),
    (b"CLIENT REPLY", b"SKIP"),
    ("HSET", "h", "f", 1.5),
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: str(a[0]))
def test_same_bytes_as_redis_py(args: tuple[object, ...]) -> None:
    plain = aredis.Connection()
    fast = hiredis_packing(aredis.Connection)()
    assert b"".join(fast.pack_command(*args)) == b"".join(plain.pack_command(*args))
    assert b"".join(fast.pack_commands([args, ("PING",)])) == b"".join(plain.pack_commands([args, ("PING",)]))


def test_values_redis_py_refuses_are_refused_the_same_way() -> None:
    with pytest.raises(DataError):
        hiredis_packing(aredis.Connection)().pack_command("SET", "k", None)
