"""Local stand-ins for the subscription-expiry tasks: two Lambda functions and EventBridge PutEvents.

``put_events`` serves the ``arn:aws:states:::events:putEvents`` integration: register it under that full
ARN. The resource inventory is a fixed in-memory table standing in for your cloud account.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

#: Resource id -> current state, as a cloud inventory would report it.
INVENTORY: dict[str, str] = {"vm-web-1": "running", "db-main": "available", "bkt-assets": "public"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)


class ResourceNotFoundError(Exception):
    """The resource no longer exists (deleted by the customer): nothing to disable."""


class ResourceBusyError(Exception):
    """The resource is locked by another operation (a backup, a deploy); the workflow retries."""


class InvalidRecipientError(Exception):
    """The notification address is unusable."""


def disable_resource(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Stop / lock one resource of an expired subscription; returns its new state."""
    resource = event["resource"]
    previous = INVENTORY.get(resource["id"])
    if previous is None:
        raise ResourceNotFoundError(f"{resource['type']} {resource['id']} does not exist")
    return {"id": resource["id"], "type": resource["type"], "previousState": previous, "state": "disabled"}


def send_notification(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Queue the 'subscription expired' e-mail; returns the message id (stable for the same request)."""
    if not _EMAIL.match(event.get("to") or ""):
        raise InvalidRecipientError(f"cannot send e-mail to '{event.get('to')}'")
    key = f"{event['template']}:{event['subscriptionId']}:{event['to']}"
    return {"messageId": "msg-" + hashlib.sha256(key.encode()).hexdigest()[:16], "channel": "email"}


def put_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """EventBridge PutEvents: accept every well-formed entry and return AWS's response shape."""
    results: list[dict[str, str]] = []
    for entry in event["Entries"]:
        missing = [f for f in ("Source", "DetailType", "Detail") if not entry.get(f)]
        results.append({"ErrorCode": "MalformedDetail", "ErrorMessage": f"missing {', '.join(missing)}"}
                       if missing else {"EventId": str(uuid.uuid4())})
    return {"Entries": results, "FailedEntryCount": sum("ErrorCode" in r for r in results)}
