"""A ticker beside the code under test: how often the event loop let other tasks run meanwhile."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio


@contextlib.asynccontextmanager
async def ticking() -> AsyncIterator[list[float]]:
    """Within the block, a task that ticks (records ``anyio.current_time()``) each time it gets a turn."""
    ticks: list[float] = []

    async def tick() -> None:
        while True:
            ticks.append(anyio.current_time())
            await anyio.sleep(0)

    async with anyio.create_task_group() as tg:
        tg.start_soon(tick)
        yield ticks
        tg.cancel_scope.cancel()
