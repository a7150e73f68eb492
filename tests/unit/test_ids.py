"""Execution and request ids: well-formed, and distinct across processes whatever the caller seeds."""

from __future__ import annotations

import os
import random
import uuid

from express_engine.runtime.ids import new_uuid, new_uuid_pair


def test_new_uuid_is_a_version_4_uuid() -> None:
    ids = {new_uuid() for _ in range(1000)}
    assert len(ids) == 1000
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)


def test_new_uuid_pair_gives_two_version_4_uuids() -> None:
    ids = [text for _ in range(500) for text in new_uuid_pair()]
    assert len(set(ids)) == 1000
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)


def test_new_uuid_ignores_the_global_seed_and_differs_in_a_forked_child() -> None:
    random.seed(42)
    first = new_uuid()
    random.seed(42)
    assert new_uuid() != first  # user code seeding ``random`` does not repeat our ids
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child reports its next id
        os.write(write, new_uuid().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.waitpid(pid, 0)
    os.close(read)
    assert uuid.UUID(child).version == 4
    assert child != new_uuid()
