"""EventBridge rules on event buses, on a real server: each pattern operator (matches and non-matches),
the envelope as input, and the subscription-expiry example driven by an event end to end."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from examples.subscription_expiry import handlers as expiry
from express_engine import service_errors as api
from express_engine.runtime.tasks import HandlerRegistry
from express_engine.service import Registry
from express_engine.service.event_patterns import InvalidEventPattern
from express_engine.service.event_sources import EventSources
from express_engine.service.rules import ResourceNotFoundException, Rules, put_events, source_name

from .conftest import ROOT, wait_for
from .test_event_sources import capture, captured, engine

pytestmark = pytest.mark.asyncio(loop_scope="session")

#: rule -> (pattern, the events (by key) it must start a target for)
OPERATORS: dict[str, tuple[dict[str, Any], set[str]]] = {
    "prefix": ({"source": [{"prefix": "com.example."}]}, {"e1"}),
    "suffix": ({"detail": {"file": [{"suffix": ".jpg"}]}}, {"e2"}),
    "anything-but": ({"detail": {"state": [{"anything-but": ["running", "pending"]}]}}, {"e2"}),
    "numeric": ({"detail": {"amount": [{"numeric": [">", 100, "<=", 500]}]}}, {"e2"}),
    "exists": ({"detail": {"tag": [{"exists": True}]}}, {"e1"}),
    "wildcard": ({"detail": {"region": [{"wildcard": "us-*-1"}]}}, {"e1"}),
    "or": ({"$or": [{"detail": {"amount": [{"numeric": ["<", 10]}]}}, {"source": ["org.other"]}]}, {"e2"}),
    "equals-ignore-case": ({"detail": {"file": [{"equals-ignore-case": "A.png"}]}}, {"e1"}),
}
EVENTS: dict[str, dict[str, Any]] = {
    "e1": {"Source": "com.example.orders", "DetailType": "Order",
           "Detail": {"state": "running", "amount": 50, "file": "a.PNG", "region": "us-east-1", "tag": "x"}},
    "e2": {"Source": "org.other", "DetailType": "Order",
           "Detail": {"state": "stopped", "amount": 500, "file": "a.jpg", "region": "eu-west-1"}},
    "e3": {"Source": "zzz", "DetailType": "Order",  # matches no rule
           "Detail": {"state": "running", "amount": 50, "file": "b.gif", "region": "ap-south-1"}},
}


async def test_each_pattern_operator_matches_and_does_not(redis_url: str, namespace: str, redis: Any,
                                                          registry: Registry) -> None:
    bus = f"bus-{uuid.uuid4().hex[:8]}"
    rules = Rules(redis, namespace=namespace, registry=registry)
    sources = EventSources(redis, namespace=namespace)
    for name, (pattern, _) in OPERATORS.items():
        machine = await registry.create(f"m-{name}", capture(f"{namespace}:out:{name}"))
        arn = (await rules.put_rule(name, event_pattern=json.dumps(pattern), event_bus_name=bus))["RuleArn"]
        assert arn == f"arn:aws:events:us-east-1:123456789012:rule/{bus}/{name}"
        assert await rules.put_targets(name, [{"Id": "t1", "Arn": machine.arn}], event_bus_name=bus) == {
            "FailedEntryCount": 0, "FailedEntries": []}
    try:
        async with engine(redis_url, namespace):
            sent = await put_events(redis, [{**e, "Detail": json.dumps(e["Detail"]), "EventBusName": bus}
                                            for e in EVENTS.values()])
            assert sent["FailedEntryCount"] == 0
            event_ids = {key: entry["EventId"] for key, entry in zip(EVENTS, sent["Entries"], strict=True)}

            async def all_seen() -> bool:
                for name, (_, expected) in OPERATORS.items():
                    stats = await sources.stats(source_name(bus, name, "t1"))
                    if stats["read"] < 3 or await redis.xlen(f"{namespace}:out:{name}") < len(expected):
                        return False
                return True
            await wait_for(all_seen, 15, 0.05)
        for name, (_, expected) in OPERATORS.items():
            got = {e["id"] for e in await captured(redis, f"{namespace}:out:{name}")}
            assert got == {event_ids[k] for k in expected}, name
            stats = await sources.stats(source_name(bus, name, "t1"))
            assert (stats["started"], stats["filtered"]) == (len(expected), 3 - len(expected)), name
        envelope = (await captured(redis, f"{namespace}:out:prefix"))[0]
        assert set(envelope) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources",
                                 "detail"}
        assert (envelope["version"], envelope["source"], envelope["detail-type"], envelope["detail"]) == (
            "0", "com.example.orders", "Order", EVENTS["e1"]["Detail"])
    finally:
        for name in OPERATORS:
            await rules.remove_targets(name, ["t1"], event_bus_name=bus)
        await redis.delete(f"events:{bus}")


async def test_rule_api_errors(redis: Any, namespace: str, registry: Registry) -> None:
    rules = Rules(redis, namespace=namespace, registry=registry)
    with pytest.raises(InvalidEventPattern):
        await rules.put_rule("r", event_pattern='{"source": "not-a-list"}')
    with pytest.raises(api.ValidationException):
        await rules.put_rule("r")
    with pytest.raises(api.ValidationException):
        await rules.put_rule("bad name!", event_pattern='{"source": ["a"]}')
    with pytest.raises(ResourceNotFoundException, match=r"Rule nope does not exist on EventBus default\."):
        await rules.put_targets("nope", [{"Id": "t", "Arn": "arn:aws:states:us-east-1:1:stateMachine:x"}])
    await rules.put_rule("r", event_pattern='{"source": ["a"]}', description="d")
    machine = await registry.create("m", capture(f"{namespace}:out"))
    out = await rules.put_targets("r", [{"Id": "ok", "Arn": machine.arn},
                                        {"Id": "lambda", "Arn": "arn:aws:lambda:us-east-1:1:function:f"}])
    assert out["FailedEntryCount"] == 1 and out["FailedEntries"][0]["TargetId"] == "lambda"
    assert [t["Id"] for t in (await rules.list_targets_by_rule("r"))["Targets"]] == ["ok"]
    assert [r["Name"] for r in (await rules.list_rules())["Rules"]] == ["r"]
    with pytest.raises(api.ValidationException, match=r"Rule can.t be deleted since it has targets\."):
        await rules.delete_rule("r")
    # a new pattern reaches the target's source
    await rules.put_rule("r", event_pattern='{"source": ["b"]}')
    assert (await EventSources(redis, namespace=namespace).get(source_name("default", "r", "ok"))).filter == \
        '{"source": ["b"]}'
    await rules.remove_targets("r", ["ok"])
    await rules.delete_rule("r")
    assert (await rules.list_rules())["Rules"] == []


async def test_subscription_expiry_runs_from_an_event_and_a_second_rule_sees_the_result(
        redis_url: str, namespace: str, redis: Any, registry: Registry) -> None:
    example = ROOT / "examples" / "subscription_expiry"
    workflow = await registry.create("SubscriptionExpiry", (example / "subscription_expiry.asl.json").read_text())
    audit = await registry.create("Audit", capture(f"{namespace}:audit"))
    rules = Rules(redis, namespace=namespace, registry=registry)
    # (the workflow puts its event on the default bus, as it would on AWS)
    await rules.put_rule("on-expired", event_pattern=json.dumps(
        {"source": ["com.example.billing"], "detail-type": ["Subscription Expired"]}))
    await rules.put_targets("on-expired", [{"Id": "expiry", "Arn": workflow.arn}])
    await rules.put_rule("on-disabled", event_pattern=json.dumps(
        {"source": ["com.example.subscriptions"], "detail-type": ["Subscription Disabled"],
         "detail": {"resources": {"state": ["disabled"]}}}))
    await rules.put_targets("on-disabled", [{"Id": "audit", "Arn": audit.arn}])
    handlers = HandlerRegistry()
    handlers.register("DisableResource", expiry.disable_resource)
    handlers.register("SendNotification", expiry.send_notification)
    detail = json.loads(Path(example / "input.json").read_text())["detail"]
    try:
        async with engine(redis_url, namespace, handlers=handlers):
            sent = await put_events(redis, [{"Source": "com.example.billing", "DetailType": "Subscription Expired",
                                             "Detail": json.dumps(detail)}])

            async def audited() -> bool:
                return bool(await redis.xlen(f"{namespace}:audit") >= 1)
            await wait_for(audited, 15, 0.05)
        [event] = await captured(redis, f"{namespace}:audit")
        assert (event["source"], event["detail-type"]) == ("com.example.subscriptions", "Subscription Disabled")
        assert event["detail"]["subscriptionId"] == "sub-2041" and event["detail"]["customerId"] == "cus-0077"
        assert [(r["id"], r["state"]) for r in event["detail"]["resources"]] == [
            ("vm-web-1", "disabled"), ("db-main", "disabled"), ("bkt-assets", "disabled")]
        assert event["detail"]["notificationId"].startswith("msg-")
        assert sent["Entries"][0]["EventId"] != event["id"]
    finally:
        await rules.remove_targets("on-expired", ["expiry"])
        await rules.remove_targets("on-disabled", ["audit"])

