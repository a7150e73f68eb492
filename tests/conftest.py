"""Shared fixtures: an in-process engine and helpers to run definitions."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from express_engine import Engine
from express_engine.jsonutil import dumps, loads


class Runner:
    """Runs a definition to completion and returns the StartSyncExecution response (output parsed)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._n = 0

    async def __call__(self, definition: dict[str, Any], input: Any = None, **kwargs: Any) -> dict[str, Any]:
        self._n += 1
        record = self.engine.create_state_machine(f"sm{self._n}", definition, **kwargs)
        response = await self.engine.start_sync_execution(record, dumps({} if input is None else input))
        if "output" in response:
            response["output"] = loads(response["output"])
        return response


class RecordingSleep:
    """A fake clock: records every requested delay and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


if os.environ.get("GC_EACH_TEST"):
    @pytest.fixture(autouse=True)
    def _collect_garbage_after_each_test() -> Iterator[None]:
        """Pins a leak (ResourceWarning when the collector reaches it) on the test that made it.

        Off by default: a collection after every test costs more than the suite itself.
        """
        yield
        gc.collect()


@pytest.fixture
def sleeps() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def engine(sleeps: RecordingSleep) -> Engine:
    return Engine(sleep=sleeps)


@pytest.fixture
def run(engine: Engine) -> Callable[..., Any]:
    return Runner(engine)
