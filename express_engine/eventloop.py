"""Running a coroutine function to completion on asyncio (with uvloop when installed)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread


def run_async(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a coroutine function on asyncio, with uvloop when it is installed."""
    try:
        import uvloop  # noqa: F401

        options = {"use_uvloop": True}
    except ImportError:  # pragma: no cover - uvloop missing on this platform
        options = {}
    return anyio.run(fn, *args, backend="asyncio", backend_options=options)


T = TypeVar("T")

#: Definitions longer than this are validated and compiled in a worker thread, not on the event loop.
HEAVY_DEFINITION_CHARS = 32 * 1024


async def offload(size: int, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, in a worker thread when ``size`` (characters of a definition) makes it heavy.

    Validating a large JSONata definition takes seconds of CPU; run in a thread, the event loop keeps
    answering other requests meanwhile (the GIL is handed over every few milliseconds). Small ones stay
    inline: a thread hop costs more than they do.
    """
    if size <= HEAVY_DEFINITION_CHARS:
        return fn(*args, **kwargs)
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
