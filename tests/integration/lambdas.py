"""Lambda-style handlers for the worker processes integration tests start.

Served with ``--handler NAME=tests.integration.lambdas:FUNCTION``: the worker runs from the repository root,
where ``tests.integration`` is importable (a test module is not: pytest imports it under a name of its own).
"""

from __future__ import annotations

import os
from typing import Any

import orjson

#: the environment variable naming the file :func:`recorded_echo` appends each event to (one JSON line each)
CALLS_FILE = "EXPRESS_ENGINE_TEST_CALLS"


def recorded_echo(event: Any, context: Any) -> Any:
    """Return the event, having appended it to the file named by ``$EXPRESS_ENGINE_TEST_CALLS`` (when set)."""
    path = os.environ.get(CALLS_FILE)
    if path:
        with open(path, "ab") as calls:
            calls.write(orjson.dumps(event) + b"\n")
    return event
