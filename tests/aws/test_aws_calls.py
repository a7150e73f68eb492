"""Task states calling AWS services for real: a moto server on loopback, the engine's aiobotocore clients.

Each result is compared with the shape AWS documents for the integration; errors with the names Step
Functions gives them (optimized: ``DynamoDB.*``, AWS SDK: ``DynamoDb.*``, ``S3.*Exception``).
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import uuid
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from express_engine.integrations.aws_config import AwsSettings
from express_engine.runtime.mocks import MockConfig

from .conftest import AwsRunner, MotoServer, aws_runner

SDK = "arn:aws:states:::aws-sdk:"


def _task(resource: str, parameters: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": resource, "Parameters": parameters, **extra}


def _machine(*states: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"StartAt": states[0][0], "States": {}}
    for i, (name, state) in enumerate(states):
        if "Next" not in state and "End" not in state and state["Type"] not in ("Succeed", "Fail"):
            state = {**state, **({"Next": states[i + 1][0]} if i + 1 < len(states) else {"End": True})}
        out["States"][name] = state
    return out


def _table(moto: MotoServer) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    moto.client("dynamodb").create_table(
        TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    return name


def _has_sdk_metadata(result: dict[str, Any]) -> bool:
    http = result.get("SdkHttpMetadata", {})
    return (http.get("HttpStatusCode") == 200 and isinstance(http.get("HttpHeaders"), dict)
            and isinstance(result.get("SdkResponseMetadata", {}).get("RequestId"), str))


def dynamodb_crud(table: str) -> dict[str, Any]:
    """put, get, update with a failing condition (caught by its AWS error name), delete."""
    key = {"id": {"S.$": "$.id"}}
    return _machine(
        ("Put", _task("arn:aws:states:::dynamodb:putItem",
                      {"TableName": table, "Item": {"id": {"S.$": "$.id"}, "plan": {"S": "basic"}}},
                      ResultPath="$.put")),
        ("Get", _task("arn:aws:states:::dynamodb:getItem", {"TableName": table, "Key": key}, ResultPath="$.get")),
        ("Update", _task("arn:aws:states:::dynamodb:updateItem",
                         {"TableName": table, "Key": key, "UpdateExpression": "SET #p = :new",
                          "ConditionExpression": "#p = :expected", "ExpressionAttributeNames": {"#p": "plan"},
                          "ExpressionAttributeValues": {":new": {"S": "pro"}, ":expected": {"S": "gold"}}},
                         ResultPath="$.update",
                         Catch=[{"ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
                                 "ResultPath": "$.conditionFailed", "Next": "Delete"}])),
        ("Unreachable", {"Type": "Fail", "Error": "NotCaught"}),
        ("Delete", _task("arn:aws:states:::dynamodb:deleteItem",
                         {"TableName": table, "Key": key, "ReturnValues": "ALL_OLD"}, ResultPath="$.delete")))


async def test_dynamodb_optimized_put_get_update_condition_caught_delete(moto: MotoServer, aws_run: AwsRunner) -> None:
    table = _table(moto)
    response = await aws_run(dynamodb_crud(table), {"id": "u1"})
    assert response["status"] == "SUCCEEDED", response
    out = response["output"]
    assert _has_sdk_metadata(out["put"]) and set(out["put"]) == {"SdkHttpMetadata", "SdkResponseMetadata"}
    assert out["get"]["Item"] == {"id": {"S": "u1"}, "plan": {"S": "basic"}} and _has_sdk_metadata(out["get"])
    failed = out["conditionFailed"]
    assert failed["Error"] == "DynamoDB.ConditionalCheckFailedException"
    assert re.search(r"\(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ConditionalCheckFailedException; "
                     r"Request ID: \S+; Proxy: null\)$", failed["Cause"]), failed["Cause"]
    assert out["delete"]["Attributes"] == {"id": {"S": "u1"}, "plan": {"S": "basic"}}
    assert "Item" not in moto.client("dynamodb").get_item(TableName=table, Key={"id": {"S": "u1"}})


async def test_dynamodb_sdk_names_its_errors_dynamodb_pascal(moto: MotoServer, aws_run: AwsRunner) -> None:
    table = _table(moto)
    moto.client("dynamodb").put_item(TableName=table, Item={"id": {"S": "u2"}, "plan": {"S": "basic"}})
    machine = _machine(("Update", _task(f"{SDK}dynamodb:updateItem", {
        "TableName": table, "Key": {"id": {"S": "u2"}}, "UpdateExpression": "SET #p = :new",
        "ConditionExpression": "#p = :expected", "ExpressionAttributeNames": {"#p": "plan"},
        "ExpressionAttributeValues": {":new": {"S": "pro"}, ":expected": {"S": "gold"}}},
        Catch=[{"ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"], "Next": "WrongName"},
               {"ErrorEquals": ["DynamoDb.ConditionalCheckFailedException"], "Next": "Caught"}])),
        ("WrongName", {"Type": "Fail", "Error": "WrongName"}), ("Caught", {"Type": "Pass", "End": True}))
    response = await aws_run(machine)
    assert response["status"] == "SUCCEEDED", response
    assert response["output"]["Error"] == "DynamoDb.ConditionalCheckFailedException"
    assert re.search(r"\(Service: DynamoDb, Status Code: 400, Request ID: \S+\)$", response["output"]["Cause"])
    # The SDK integration's result has no Sdk*Metadata members, unlike the optimized one.
    get = await aws_run(_machine(("Get", _task(f"{SDK}dynamodb:getItem",
                                               {"TableName": table, "Key": {"id": {"S": "u2"}}}))))
    assert get["output"] == {"Item": {"id": {"S": "u2"}, "plan": {"S": "basic"}}}


async def test_sqs_send_message_then_read_it_back(moto: MotoServer, aws_run: AwsRunner) -> None:
    sqs = moto.client("sqs")
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    response = await aws_run(_machine(("Send", _task("arn:aws:states:::sqs:sendMessage", {
        "QueueUrl": url, "MessageBody": {"order.$": "$.order"}}))), {"order": 42})
    assert response["status"] == "SUCCEEDED", response
    out = response["output"]
    body = json.dumps({"order": 42}, separators=(",", ":"))
    assert out["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest() and out["MessageId"]
    assert _has_sdk_metadata(out)
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]
    assert [m["Body"] for m in messages] == [body] and messages[0]["MessageId"] == out["MessageId"]


async def test_sns_publish_reaches_a_subscribed_queue(moto: MotoServer, aws_run: AwsRunner) -> None:
    sns, sqs = moto.client("sns"), moto.client("sqs")
    topic = sns.create_topic(Name=f"n-{uuid.uuid4().hex[:8]}")["TopicArn"]
    url = sqs.create_queue(QueueName=f"sub-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    response = await aws_run(_machine(("Publish", _task("arn:aws:states:::sns:publish", {
        "TopicArn": topic, "Message": {"expired.$": "$.user"}, "Subject": "expiry"}))), {"user": "u1"})
    assert response["status"] == "SUCCEEDED", response
    assert response["output"]["MessageId"] and _has_sdk_metadata(response["output"])
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in messages] == ['{"expired":"u1"}']
    missing = await aws_run(_machine(("Publish", _task("arn:aws:states:::sns:publish", {
        "TopicArn": topic + "-gone", "Message": "x"}))))
    assert missing["status"] == "FAILED" and missing["error"] == "SNS.NotFoundException", missing


async def test_eventbridge_put_events_delivered_by_a_rule(moto: MotoServer, aws_run: AwsRunner) -> None:
    events, sqs = moto.client("events"), moto.client("sqs")
    url = sqs.create_queue(QueueName=f"ev-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    source = f"app.{uuid.uuid4().hex[:6]}"
    events.put_rule(Name=f"r-{source}", EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=f"r-{source}", Targets=[{"Id": "q", "Arn": queue_arn}])
    response = await aws_run(_machine(("Put", _task("arn:aws:states:::events:putEvents", {"Entries": [
        {"Source": source, "DetailType": "expired", "Detail": {"user.$": "$.user"}}]}))), {"user": "u1"})
    assert response["status"] == "SUCCEEDED", response
    out = response["output"]
    assert set(out) == {"Entries", "FailedEntryCount"} and out["FailedEntryCount"] == 0
    assert len(out["Entries"]) == 1 and out["Entries"][0]["EventId"]
    delivered = json.loads(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"][0]["Body"])
    assert delivered["source"] == source and delivered["detail"] == {"user": "u1"}
    assert delivered["id"] == out["Entries"][0]["EventId"]


async def test_s3_put_get_list_and_no_such_key(moto: MotoServer, aws_run: AwsRunner) -> None:
    bucket = f"b-{uuid.uuid4().hex[:8]}"
    moto.client("s3").create_bucket(Bucket=bucket)
    machine = _machine(
        ("Put", _task(f"{SDK}s3:putObject", {"Bucket": bucket, "Key": "a/report.json",
                                             "Body": {"total.$": "$.total"}, "ContentType": "application/json"},
                      ResultPath="$.put")),
        ("Get", _task(f"{SDK}s3:getObject", {"Bucket": bucket, "Key": "a/report.json"}, ResultPath="$.get")),
        ("List", _task(f"{SDK}s3:listObjectsV2", {"Bucket": bucket, "Prefix": "a/"}, ResultPath="$.list")),
        ("Missing", _task(f"{SDK}s3:getObject", {"Bucket": bucket, "Key": "nope"}, ResultPath="$.missing",
                          Catch=[{"ErrorEquals": ["S3.NoSuchKeyException"], "ResultPath": "$.missing",
                                  "Next": "Done"}])),
        ("Done", {"Type": "Succeed"}))
    response = await aws_run(machine, {"total": 7})
    assert response["status"] == "SUCCEEDED", response
    out = response["output"]
    assert out["put"]["ETag"].startswith('"') and "ResponseMetadata" not in out["put"]
    assert out["get"]["Body"] == '{"total":7}' and out["get"]["ContentType"] == "application/json"
    assert out["get"]["ContentLength"] == 11
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", out["get"]["LastModified"])
    assert out["list"]["KeyCount"] == 1 and out["list"]["Name"] == bucket
    (obj,) = out["list"]["Contents"]
    assert obj["Key"] == "a/report.json" and obj["Size"] == 11 and obj["ETag"] == out["put"]["ETag"]
    assert out["missing"]["Error"] == "S3.NoSuchKeyException"
    assert "(Service: S3, Status Code: 404, Request ID:" in out["missing"]["Cause"]


async def test_camel_case_api_takes_and_returns_pascal_case(moto: MotoServer, aws_run: AwsRunner) -> None:
    # API Gateway's REST API is camelCase on the wire (name, description, id, items, createdDate).
    name = f"api-{uuid.uuid4().hex[:6]}"
    machine = _machine(
        ("Create", _task(f"{SDK}apigateway:createRestApi", {"Name": name, "Description": "from a workflow"},
                         ResultPath="$.created")),
        ("Get", _task(f"{SDK}apigateway:getRestApi", {"RestApiId.$": "$.created.Id"}, ResultPath="$.got")))
    response = await aws_run(machine)
    assert response["status"] == "SUCCEEDED", response
    created, got = response["output"]["created"], response["output"]["got"]
    assert created["Name"] == name and created["Description"] == "from a workflow" and created["Id"]
    assert "name" not in created and got["Id"] == created["Id"] and got["Name"] == name
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", created["CreatedDate"])
    apis = {a["id"]: a["name"] for a in moto.client("apigateway").get_rest_apis()["items"]}
    assert apis[created["Id"]] == name
    missing = await aws_run(_machine(("Get", _task(f"{SDK}apigateway:getRestApi", {"RestApiId": "nope"}))))
    assert missing["error"] == "ApiGateway.NotFoundException", missing


class ThrottlingFront:
    """A real HTTP server in front of moto that answers DynamoDB's ThrottlingException to the first calls."""

    def __init__(self, upstream: str, throttle: int) -> None:
        self.upstream = upstream
        self.throttle = throttle
        self.requests = 0
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        body = await request.read()
        if self.requests <= self.throttle:
            return web.json_response({"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
                                      "message": "Rate of requests exceeds the allowed throughput."},
                                     status=400, content_type="application/x-amz-json-1.0")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with aiohttp.ClientSession() as session, session.request(
                request.method, self.upstream + request.path_qs, headers=headers, data=body) as resp:
            payload = await resp.read()
            return web.Response(body=payload, status=resp.status,
                                headers={k: v for k, v in resp.headers.items()
                                         if k.lower() in ("content-type", "x-amzn-requestid", "x-amz-crc32")})

    async def __aenter__(self) -> ThrottlingFront:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


async def test_retry_on_a_throttling_error(moto: MotoServer) -> None:
    table = _table(moto)
    async with ThrottlingFront(moto.url, throttle=2) as front:
        settings = AwsSettings.from_env(moto.env(AWS_ENDPOINT_URL_DYNAMODB=front.url))
        async with aws_runner(settings) as run:
            machine = _machine(("Put", _task("arn:aws:states:::dynamodb:putItem", {
                "TableName": table, "Item": {"id": {"S": "t1"}}},
                Retry=[{"ErrorEquals": ["DynamoDB.ThrottlingException"], "IntervalSeconds": 1, "MaxAttempts": 3}],
                ResultSelector={"status.$": "$.SdkHttpMetadata.HttpStatusCode", "attempt.$": "$$.State.RetryCount"}
            )))
            response = await run(machine)
            assert response["status"] == "SUCCEEDED", response
            assert response["output"] == {"status": 200, "attempt": 2}
            # One HTTP request per attempt: the SDK's own retries are off, the Task's Retry decides.
            assert front.requests == 3
            front.requests, front.throttle = 0, 5
            exhausted = await run(machine)
            assert exhausted["status"] == "FAILED" and exhausted["error"] == "DynamoDB.ThrottlingException"
            assert front.requests == 4
    assert moto.client("dynamodb").get_item(TableName=table, Key={"id": {"S": "t1"}})["Item"]


async def test_mock_config_takes_precedence_over_the_real_call(moto: MotoServer, aws_run: AwsRunner) -> None:
    table = _table(moto)
    mocks = MockConfig.from_dict({
        "StateMachines": {"m": {"TestCases": {"Mocked": {"Put": "PutOk"}}}},
        "MockedResponses": {"PutOk": {"0": {"Return": {"mocked": True}}}}})
    machine = _machine(("Put", _task("arn:aws:states:::dynamodb:putItem",
                                     {"TableName": table, "Item": {"id": {"S": "m1"}}})))
    response = await aws_run(machine, mock=mocks.for_execution("m", "Mocked"))
    assert response["output"] == {"mocked": True}
    assert "Item" not in moto.client("dynamodb").get_item(TableName=table, Key={"id": {"S": "m1"}})


async def test_task_timeout_cuts_a_call_that_never_answers(moto: MotoServer) -> None:
    with socket.socket() as hole:  # accepts connections (backlog) and never answers
        hole.bind(("127.0.0.1", 0))
        hole.listen(8)
        url = f"http://127.0.0.1:{hole.getsockname()[1]}"
        async with aws_runner(AwsSettings.from_env(moto.env(AWS_ENDPOINT_URL=url))) as run:
            response = await run(_machine(("Get", _task(f"{SDK}s3:listBuckets", {}, TimeoutSeconds=1))))
    assert response["status"] == "FAILED" and response["error"] == "States.Timeout", response


@pytest.mark.parametrize("case", ["unknown service", "unknown action", "endpoint down", "no credentials",
                                  "service off", "not allowed"])
async def test_bad_configuration_is_a_clear_task_error(case: str, moto: MotoServer,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    env = moto.env()
    resource = f"{SDK}s3:listBuckets"
    if case == "unknown service":
        resource = f"{SDK}nosuchservice:doThing"
    elif case == "unknown action":
        resource = f"{SDK}s3:doThing"
    elif case == "endpoint down":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{s.getsockname()[1]}"  # closed when the test runs
    elif case == "no credentials":
        del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
        for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                    "AWS_WEB_IDENTITY_TOKEN_FILE"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
        monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    elif case == "service off":
        env["EXPRESS_ENGINE_AWS"] = "real,s3=off"
    elif case == "not allowed":
        env["EXPRESS_ENGINE_AWS_ALLOW"] = "dynamodb:*,s3:getObject"
    expected = {"unknown service": "'nosuchservice' is not an AWS service the AWS SDK knows",
                "unknown action": "'doThing' is not an API action of the AWS service 's3'",
                "endpoint down": "could not reach its endpoint",
                "no credentials": "has no AWS credentials",
                "service off": "Calls to the AWS service 's3' are off on this engine (EXPRESS_ENGINE_AWS: s3=off)",
                "not allowed": "'s3:listBuckets' is not on this engine's allow-list"}[case]
    async with aws_runner(AwsSettings.from_env(env)) as run:
        response = await run(_machine(("Call", _task(resource, {}))))
    assert response["status"] == "FAILED" and response["error"] == "States.TaskFailed", response
    assert expected in response["cause"] and "Traceback" not in response["cause"], response["cause"]


def test_test_state_calls_the_real_service_unless_mocked(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from express_engine.testing import StepFunctionsServer

    table = _table(moto)
    for var, value in moto.env().items():
        monkeypatch.setenv(var, value)
    state = json.dumps(_task("arn:aws:states:::dynamodb:putItem",
                             {"TableName": table, "Item": {"id": {"S.$": "$.id"}}}, End=True))
    with StepFunctionsServer() as server:
        sfn = server.boto3_client()
        real = sfn.test_state(definition=state, roleArn="arn:aws:iam::123456789012:role/r", input='{"id": "ts1"}')
        mocked = sfn.test_state(definition=state, roleArn="arn:aws:iam::123456789012:role/r", input='{"id": "ts2"}',
                                mock={"result": '{"mocked": true}'})
    assert real["status"] == "SUCCEEDED", real
    assert json.loads(real["output"])["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert mocked["status"] == "SUCCEEDED" and json.loads(mocked["output"]) == {"mocked": True}
    ddb = moto.client("dynamodb")
    assert ddb.get_item(TableName=table, Key={"id": {"S": "ts1"}})["Item"] == {"id": {"S": "ts1"}}
    assert "Item" not in ddb.get_item(TableName=table, Key={"id": {"S": "ts2"}})


async def test_lambda_functions_without_a_local_handler_are_invoked_on_lambda(moto: MotoServer) -> None:
    import io
    import urllib.request
    import zipfile

    # moto's Lambda without Docker answers with the event it was given.
    request = urllib.request.Request(f"{moto.url}/moto-api/config", method="POST",
                                     data=json.dumps({"lambda": {"use_docker": False}}).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request).read()
    role = moto.client("iam").create_role(RoleName=f"r-{uuid.uuid4().hex[:6]}",
                                          AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("h.py", "def h(event, context):\n    return event\n")
    function = f"echo-{uuid.uuid4().hex[:6]}"
    moto.client("lambda").create_function(FunctionName=function, Runtime="python3.12", Role=role, Handler="h.h",
                                          Code={"ZipFile": code.getvalue()})
    machine = _machine(
        ("Remote", _task("arn:aws:states:::lambda:invoke", {"FunctionName": function, "Payload": {"n.$": "$.n"}},
                         ResultPath="$.remote")),
        ("Legacy", {"Type": "Task", "Resource": f"arn:aws:lambda:us-east-1:123456789012:function:{function}",
                    "Parameters": {"legacy.$": "$.n"}, "ResultPath": "$.legacy"}),
        ("Local", _task("arn:aws:states:::lambda:invoke", {"FunctionName": "local-fn", "Payload": {}},
                        ResultSelector={"payload.$": "$.Payload"}, ResultPath="$.local")))
    async with aws_runner(AwsSettings.from_env(moto.env())) as run:
        run.engine.register_handler("local-fn", lambda event, context: {"served": "locally"})
        response = await run(machine, {"n": 3})
    assert response["status"] == "SUCCEEDED", response
    out = response["output"]
    assert out["remote"]["Payload"] == {"n": 3} and out["remote"]["StatusCode"] == 200
    assert out["remote"]["ExecutedVersion"] == "$LATEST" and _has_sdk_metadata(out["remote"])
    assert out["legacy"] == {"legacy": 3}
    assert out["local"] == {"payload": {"served": "locally"}}


async def test_api_gateway_invoke_signs_and_shapes_the_call(moto: MotoServer) -> None:
    seen: list[dict[str, Any]] = []

    async def api(request: web.Request) -> web.StreamResponse:
        seen.append({"method": request.method, "path": request.path, "query": dict(request.query),
                     "auth": request.headers.get("Authorization", ""), "trace": request.headers.get("X-Trace"),
                     "body": await request.json()})
        if request.path.endswith("/missing"):
            return web.json_response({"message": "Not Found"}, status=404)
        return web.json_response({"created": True}, status=201, headers={"X-Request": "r1"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", api)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        settings = AwsSettings.from_env(moto.env(AWS_ENDPOINT_URL_EXECUTE_API=f"http://127.0.0.1:{port}"))
        call = {"ApiEndpoint": "abc123.execute-api.us-east-1.amazonaws.com", "Method": "POST", "Stage": "prod",
                "Path": "orders", "QueryParameters": {"dry": ["true"]}, "Headers": {"X-Trace": ["t1"]},
                "RequestBody": {"order.$": "$.order"}, "AuthType": "IAM_ROLE"}
        machine = _machine(
            ("Invoke", _task("arn:aws:states:::apigateway:invoke", call, ResultPath="$.created")),
            ("Missing", _task("arn:aws:states:::apigateway:invoke", {**call, "Path": "missing", "AuthType": "NO_AUTH"},
                              Catch=[{"ErrorEquals": ["APIGateway.404"], "ResultPath": "$.missing", "Next": "Done"}])),
            ("Done", {"Type": "Succeed"}))
        async with aws_runner(settings) as run:
            response = await run(machine, {"order": 9})
    finally:
        await runner.cleanup()
    assert response["status"] == "SUCCEEDED", (response.get("error"), response.get("cause"))
    created = response["output"]["created"]
    assert (created["StatusCode"], created["StatusText"], created["ResponseBody"]) == (201, "Created",
                                                                                        {"created": True})
    assert created["Headers"]["X-Request"] == ["r1"]
    signed, unsigned = seen
    assert (signed["method"], signed["path"], signed["query"], signed["trace"]) == ("POST", "/prod/orders",
                                                                                     {"dry": "true"}, "t1")
    assert signed["body"] == {"order": 9}
    assert signed["auth"].startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert "/us-east-1/execute-api/aws4_request" in signed["auth"] and unsigned["auth"] == ""
    missing = response["output"]["missing"]
    assert missing == {"Error": "APIGateway.404", "Cause": '{"message": "Not Found"}'}


async def test_by_default_aws_resources_stay_local_and_say_how_to_call_aws() -> None:
    async with aws_runner(AwsSettings.from_env({})) as run:
        response = await run(_machine(("List", _task(f"{SDK}s3:listBuckets", {}))))
    assert response["status"] == "FAILED" and response["error"] == "States.Runtime"
    assert response["cause"].endswith("or set EXPRESS_ENGINE_AWS=real to call the AWS service."), response["cause"]


async def test_nested_starts_go_to_real_step_functions_when_configured(moto: MotoServer, aws_run: AwsRunner) -> None:
    sfn = moto.client("stepfunctions")
    role = "arn:aws:iam::123456789012:role/r"
    child = sfn.create_state_machine(name=f"child-{uuid.uuid4().hex[:6]}", roleArn=role, definition=json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    machine = _machine(
        ("Optimized", _task("arn:aws:states:::states:startExecution",
                            {"StateMachineArn": child, "Input": {"order.$": "$.order"}}, ResultPath="$.optimized")),
        ("Sdk", _task(f"{SDK}sfn:startExecution", {"StateMachineArn": child, "Input": "{}"}, ResultPath="$.sdk")),
        ("Missing", _task(f"{SDK}sfn:startExecution", {"StateMachineArn": child + "-gone"},
                          Catch=[{"ErrorEquals": ["Sfn.StateMachineDoesNotExistException"], "ResultPath": "$.missing",
                                  "Next": "Done"}])),
        ("Done", {"Type": "Succeed"}))
    response = await aws_run(machine, {"order": 5})
    assert response["status"] == "SUCCEEDED", (response.get("error"), response.get("cause"))
    out = response["output"]
    assert out["optimized"]["ExecutionArn"].startswith(child.replace(":stateMachine:", ":execution:"))
    assert _has_sdk_metadata(out["optimized"]) and re.fullmatch(r"\S+T\S+Z", out["optimized"]["StartDate"])
    assert set(out["sdk"]) == {"ExecutionArn", "StartDate"}
    described = sfn.describe_execution(executionArn=out["optimized"]["ExecutionArn"])
    assert json.loads(described["input"]) == {"order": 5}
    assert out["missing"]["Error"] == "Sfn.StateMachineDoesNotExistException"


async def test_binary_attributes_travel_as_base64_text(moto: MotoServer, aws_run: AwsRunner) -> None:
    table = _table(moto)
    machine = _machine(
        ("Put", _task(f"{SDK}dynamodb:putItem", {"TableName": table,
                                                 "Item": {"id": {"S": "bin"}, "data": {"B": "aGVsbG8="}}},
                      ResultPath=None)),
        ("Get", _task("arn:aws:states:::dynamodb:getItem", {"TableName": table, "Key": {"id": {"S": "bin"}}},
                      ResultSelector={"item.$": "$.Item"})))
    response = await aws_run(machine)
    assert response["status"] == "SUCCEEDED", (response.get("error"), response.get("cause"))
    assert response["output"] == {"item": {"id": {"S": "bin"}, "data": {"B": "aGVsbG8="}}}
    stored = moto.client("dynamodb").get_item(TableName=table, Key={"id": {"S": "bin"}})["Item"]
    assert stored["data"]["B"] == b"hello"
