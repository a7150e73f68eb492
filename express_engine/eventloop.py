"""Running a coroutine function to completion on asyncio (with uvloop when installed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio


def run_async(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a coroutine function on asyncio, with uvloop when it is installed."""
    try:
        import uvloop  # noqa: F401

        options = {"use_uvloop": True}
    except ImportError:  # pragma: no cover - uvloop missing on this platform
        options = {}
    return anyio.run(fn, *args, backend="asyncio", backend_options=options)
