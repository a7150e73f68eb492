"""Execution events in the CloudWatch Logs format of Express workflows.

As AWS documents them (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html) and records them.

Each history event becomes one log record whose message is a JSON object with AWS's key order
``id, type, details, previous_event_id, event_timestamp, execution_arn, redrive_count``; ids and
the timestamp (epoch milliseconds) are strings, as AWS writes them.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..runtime.executor import LogBatch

#: AWS truncates escaped input/output strings above ~248 KB in log events and flags them in
#: ``inputDetails``/``outputDetails`` (developer guide, "Log levels").
MAX_LOGGED_DATA_BYTES = 248 * 1024

#: What ``includeExecutionData: false`` removes from every event's details, exactly (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html).
_DATA_KEYS = ("input", "inputDetails", "output", "outputDetails")
_TRUNCATED = {"truncated": True}


def _truncate(text: str) -> str | None:
    """``text`` cut to the log data limit, or None when it fits."""
    if len(text) <= MAX_LOGGED_DATA_BYTES // 4:  # cannot exceed the limit even at 4 bytes per character
        return None
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) <= MAX_LOGGED_DATA_BYTES:
        return None
    return raw[:MAX_LOGGED_DATA_BYTES].decode("utf-8", "ignore")


def _details(details: dict[str, Any], include_data: bool) -> dict[str, Any]:
    if not include_data:
        if any(k in details for k in _DATA_KEYS):
            details = {k: v for k, v in details.items() if k not in _DATA_KEYS}
        return details
    for key in ("input", "output"):
        value = details.get(key)
        if isinstance(value, str):
            cut = _truncate(value)
            if cut is not None:
                details = {**details, key: cut, f"{key}Details": _TRUNCATED}
    return details


def format_event(event: dict[str, Any], execution_arn: str, redrive: str, include_data: bool) -> dict[str, Any]:
    """One engine event (``{id, type, details, previous_event_id, timestamp}``) as AWS's log message object."""
    return {
        "id": str(event["id"]),
        "type": event["type"],
        "details": _details(event["details"], include_data),
        "previous_event_id": str(event["previous_event_id"]),
        "event_timestamp": str(int(event["timestamp"] * 1000)),
        "execution_arn": execution_arn,
        "redrive_count": redrive,
    }


def format_batch(batch: LogBatch) -> list[bytes]:
    """The log messages of one execution as compact JSON (one ``bytes`` per event, no newline)."""
    arn = batch.execution_arn
    # Sync executions have no RedriveCount in their context object, but AWS's 2024+ log records carry
    # "redrive_count": "0" for every execution (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html).
    redrive = str(batch.redrive_count or 0)
    include = batch.state_machine.logging.include_execution_data
    dumps = orjson.dumps
    return [dumps(format_event(e, arn, redrive, include)) for e in batch.events]
