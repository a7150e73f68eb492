"""Runs the subscription-expiry workflow in process: resources disabled, customer notified, event emitted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from examples.subscription_expiry import handlers
from express_engine import Engine

HERE = Path(__file__).parent
DEFINITION = (HERE / "subscription_expiry.asl.json").read_text()
INPUT = json.loads((HERE / "input.json").read_text())
PUT_EVENTS = "arn:aws:states:::events:putEvents"


class EventBus:
    """Records the PutEvents requests the workflow makes, answering like the example handler."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def __call__(self, event: Any, context: Any) -> Any:
        self.entries.extend(event["Entries"])
        return handlers.put_events(event, context)


def make_engine(bus: EventBus, **overrides: Any) -> Engine:
    """An engine serving the example's handlers (``overrides`` replace some); Retry waits are skipped."""
    engine = Engine(time_scale=0)
    functions = {"DisableResource": handlers.disable_resource, "SendNotification": handlers.send_notification,
                 PUT_EVENTS: bus, **overrides}
    for name, fn in functions.items():
        engine.register_handler(name, fn)
    return engine


async def run(engine: Engine, value: Any) -> dict[str, Any]:
    record = engine.create_state_machine("SubscriptionExpiry", DEFINITION)
    response = await engine.start_sync_execution(record, json.dumps(value))
    if "output" in response:
        response["output"] = json.loads(response["output"])
    return response


def with_detail(**changes: Any) -> dict[str, Any]:
    return {**INPUT, "detail": {**INPUT["detail"], **changes}}


async def test_resources_disabled_customer_notified_and_event_emitted() -> None:
    bus = EventBus()
    response = await run(make_engine(bus), INPUT)
    assert response["status"] == "SUCCEEDED"
    out = response["output"]
    assert out["status"] == "DISABLED"
    assert [(r["id"], r["state"]) for r in out["resources"]] == [
        ("vm-web-1", "disabled"), ("db-main", "disabled"), ("bkt-assets", "disabled")]
    assert out["notification"]["channel"] == "email"
    assert len(bus.entries) == 1
    entry = bus.entries[0]
    assert (entry["Source"], entry["DetailType"]) == ("com.example.subscriptions", "Subscription Disabled")
    assert entry["Detail"] == {"subscriptionId": "sub-2041", "customerId": "cus-0077",
                               "expiredAt": "2024-05-31T23:59:59Z", "resources": out["resources"],
                               "notificationId": out["notification"]["messageId"]}


async def test_deleted_resource_is_caught_and_reported_as_not_found() -> None:
    resources = [*INPUT["detail"]["resources"], {"type": "vm", "id": "vm-deleted-last-week"}]
    response = await run(make_engine(EventBus()), with_detail(resources=resources))
    assert response["status"] == "SUCCEEDED"
    assert response["output"]["resources"][-1] == {"id": "vm-deleted-last-week", "type": "vm",
                                                   "state": "not-found"}


async def test_busy_resource_is_retried_until_it_can_be_disabled() -> None:
    attempts: dict[str, int] = {}

    def busy_database(event: Any, context: Any) -> Any:
        rid = event["resource"]["id"]
        attempts[rid] = attempts.get(rid, 0) + 1
        if rid == "db-main" and attempts[rid] <= 2:
            raise handlers.ResourceBusyError("a backup is running")
        return handlers.disable_resource(event, context)

    response = await run(make_engine(EventBus(), DisableResource=busy_database), INPUT)
    assert response["status"] == "SUCCEEDED"
    assert attempts == {"vm-web-1": 1, "db-main": 3, "bkt-assets": 1}
    assert all(r["state"] == "disabled" for r in response["output"]["resources"])


async def test_unusable_contact_fails_the_execution_and_emits_nothing() -> None:
    bus = EventBus()
    response = await run(make_engine(bus), with_detail(contactEmail="not-an-address"))
    assert response["status"] == "FAILED"
    assert response["error"] == "InvalidRecipientError"
    assert json.loads(response["cause"])["errorMessage"] == "cannot send e-mail to 'not-an-address'"
    assert bus.entries == []
