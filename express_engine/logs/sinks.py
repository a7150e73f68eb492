"""Log sinks: where formatted execution log messages are written.

A sink receives batches of messages (compact JSON ``bytes``, one per log event, no newline) from a
single writer at a time (:class:`~express_engine.logs.buffer.BufferedSink`), so it needs no locking.
Blocking writes (files, stdout) run in a worker thread so a slow disk or a full pipe never stalls the
event loop; a write that raises is retried by the buffer.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable

import anyio.to_thread

from ..sink_spec import parse_sink_spec


@runtime_checkable
class Sink(Protocol):
    """The interface every log sink implements."""

    async def write(self, messages: Sequence[bytes]) -> None:
        """Write (or send) the messages in order; raise to have the batch retried."""
        ...

    async def aclose(self) -> None:
        """Release the sink's resources (called once, after the last write)."""
        ...


class MemorySink:
    """Keeps every message in a list (for tests and embedding)."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def write(self, messages: Sequence[bytes]) -> None:
        """Append the messages."""
        self.messages.extend(messages)

    async def aclose(self) -> None:
        """Nothing to release."""


class StreamSink:
    """JSON lines to a binary file object (stdout by default); flushed after every batch."""

    def __init__(self, stream: BinaryIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout.buffer

    def _write(self, data: bytes) -> None:
        self.stream.write(data)
        self.stream.flush()

    async def write(self, messages: Sequence[bytes]) -> None:
        """Write one line per message."""
        await anyio.to_thread.run_sync(self._write, b"\n".join(messages) + b"\n")

    async def aclose(self) -> None:
        """Flush (the stream itself stays open: it is not ours)."""
        await anyio.to_thread.run_sync(self.stream.flush)


class FileSink:
    """JSON lines appended to a file, rotated by size like ``logging.handlers.RotatingFileHandler``.

    When a write would take the file past ``max_bytes``, ``PATH`` becomes ``PATH.1`` (``PATH.1``
    becomes ``PATH.2`` ... up to ``backups``; the oldest is deleted) and a new ``PATH`` is started.
    Several processes may share one path (the workers of ``serve``): every write holds an exclusive
    lock on the file's directory and measures the file itself, so the limit holds for all of them together
    and a file rotated by another process is reopened, never written to after its rename.
    """

    def __init__(self, path: str | os.PathLike[str], *, max_bytes: int = 100 * 1024 * 1024,
                 backups: int = 5) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self._fh: BinaryIO | None = None
        self._lock: int | None = None

    def _open(self) -> BinaryIO:
        fh = self._fh
        if fh is not None:
            try:
                current = os.stat(self.path)
            except FileNotFoundError:
                current = None
            mine = os.fstat(fh.fileno())
            if current is not None and (current.st_ino, current.st_dev) == (mine.st_ino, mine.st_dev):
                return fh
            fh.close()  # another process rotated it
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "ab")  # noqa: SIM115 - kept open across writes, closed in aclose
        return self._fh

    def _rotate(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self.backups > 0:
            for i in range(self.backups - 1, 0, -1):
                src = self.path.with_name(f"{self.path.name}.{i}")
                if src.exists():
                    os.replace(src, self.path.with_name(f"{self.path.name}.{i + 1}"))
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)

    def _write(self, data: bytes) -> None:
        if self._lock is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock = os.open(self.path.parent, os.O_RDONLY)  # (a lock file of its own would sit among the logs)
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        try:
            fh = self._open()
            size = os.fstat(fh.fileno()).st_size
            if size and size + len(data) > self.max_bytes:
                self._rotate()
                fh = self._open()
            fh.write(data)
            fh.flush()
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_UN)

    async def write(self, messages: Sequence[bytes]) -> None:
        """Append one line per message, rotating first when the file would grow past ``max_bytes``."""
        await anyio.to_thread.run_sync(self._write, b"\n".join(messages) + b"\n")

    async def aclose(self) -> None:
        """Close the file."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


class RedisStreamSink:
    """One ``XADD`` per message (field ``message``) to a Redis stream capped with ``MAXLEN ~``.

    The stream is a log, not a queue: when it holds more than about ``maxlen`` entries Redis trims
    the oldest ones, so readers that need every event must keep up.
    """

    def __init__(self, redis: Any, stream: str, *, maxlen: int = 1_000_000) -> None:
        self.redis = redis
        self.stream = stream
        self.maxlen = maxlen

    async def write(self, messages: Sequence[bytes]) -> None:
        """Append the messages in one pipeline."""
        pipe = self.redis.pipeline(transaction=False)
        for message in messages:
            pipe.xadd(self.stream, {"message": message}, maxlen=self.maxlen, approximate=True)
        await pipe.execute()

    async def aclose(self) -> None:
        """The Redis connection belongs to the caller: nothing to release."""


def open_sink(spec: str, *, redis: Any = None, file_max_bytes: int = 100 * 1024 * 1024, file_backups: int = 5,
              stream_maxlen: int = 1_000_000) -> Sink:
    """The sink a spec names (:func:`~express_engine.sink_spec.parse_sink_spec`; ``none`` is not a sink).

    Raises ValueError for an unknown spec, or ``redis:`` without a Redis connection.
    """
    parsed = parse_sink_spec(spec)
    if parsed.kind == "stdout":
        return StreamSink(sys.stdout.buffer)
    if parsed.kind == "stderr":
        return StreamSink(sys.stderr.buffer)
    if parsed.kind == "file":
        return FileSink(parsed.target, max_bytes=file_max_bytes, backups=file_backups)
    if parsed.kind == "redis":
        if redis is None:
            raise ValueError(f"log sink {spec!r} needs a Redis connection")
        return RedisStreamSink(redis, parsed.target, maxlen=stream_maxlen)
    raise ValueError(f"log sink {spec!r} writes nothing: there is no sink to open")
