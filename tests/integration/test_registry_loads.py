"""A Redis registry loading a large machine it has not compiled yet: in a worker thread, once for all readers."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from express_engine.eventloop import HEAVY_DEFINITION_CHARS
from express_engine.jsonutil import dumps
from express_engine.service import Registry

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _heavy_definition() -> str:
    states: dict[str, Any] = {f"S{i}": {"Type": "Pass", "Next": f"S{i + 1}",
                                        "Output": "{% $merge([$states.input, {'k': $sum([1, 2]) * " + str(i) + "}]) %}"}
                              for i in range(330)}
    states["S330"] = {"Type": "Succeed"}
    text = dumps({"QueryLanguage": "JSONata", "StartAt": "S0", "States": states})
    assert len(text) > HEAVY_DEFINITION_CHARS
    return text


async def test_concurrent_readers_of_a_large_machine_share_one_compilation(redis: Any, namespace: str) -> None:
    created = await Registry(redis, namespace=namespace).create("big", _heavy_definition())
    reader = Registry(redis, namespace=namespace)  # another process's registry: nothing compiled yet
    records: list[Any] = []
    ticks = 0

    async def get() -> None:
        records.append(await reader.get(created.arn))

    async def tick() -> None:  # (the loop keeps turning while the definition compiles)
        nonlocal ticks
        while len(records) < 5:
            ticks += 1
            await anyio.sleep(0.01)

    async with anyio.create_task_group() as tg:
        tg.start_soon(tick)
        for _ in range(5):
            tg.start_soon(get)
    assert len({id(r) for r in records}) == 1  # compiled once, by the first reader; the others waited for it
    assert records[0].revision_id == created.revision_id and records[0].machine.graph is not created.machine.graph
    assert ticks >= 10
    assert not reader._compiling
