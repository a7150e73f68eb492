"""The HTTP server's coalescing transport: a response's head and body leave in one send()."""

from __future__ import annotations

import asyncio
from typing import Any

from express_engine.api.server import _CoalescingTransport


class _Recorder:
    """Records what reaches the real transport."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default


async def test_writes_in_one_turn_are_joined_and_close_flushes_first() -> None:
    real = _Recorder()
    transport = _CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    transport.write(b"{}")
    assert real.writes == []  # nothing sent before the end of this turn
    await asyncio.sleep(0)
    assert real.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
    transport.write(b"last")
    transport.close()  # e.g. "connection: close": what was written goes out before the close
    assert real.writes[-1] == b"last" and real.closed
    assert transport.get_extra_info("peername") == ("127.0.0.1", 1)  # everything else is the real transport's
    await asyncio.sleep(0)
    assert len(real.writes) == 2  # the scheduled flush finds nothing more to send
