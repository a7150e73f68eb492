"""Service integrations (http:invoke, nested executions, Redis streams), mock configs, the pytest plugin."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest
from redis_backends import embedded_valkey

from express_engine import Engine
from express_engine.api.local import local_backend
from express_engine.errors import CustomError
from express_engine.integrations import install
from express_engine.jsonutil import dumps, loads
from express_engine.runtime.mocks import MockConfig, MockConfigError, split_test_case
from express_engine.testing import InProcessStepFunctions


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        if self.path.startswith("/slow"):
            time.sleep(0.5)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        status = 404 if self.path.startswith("/missing") else 200
        payload = dumps({"method": self.command, "path": self.path, "body": body,
                         "contentType": self.headers.get("Content-Type"), "token": self.headers.get("X-Token"),
                         "userAgent": self.headers.get("User-Agent"), "range": self.headers.get("Range")})
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload.encode())

    do_GET = do_POST = do_PUT = do_DELETE = _answer


@pytest.fixture(scope="module")
def web() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def valkey() -> Iterator[str]:
    with embedded_valkey() as url:
        yield url


@asynccontextmanager
async def harness(**kwargs: Any) -> AsyncIterator[InProcessStepFunctions]:
    engine = Engine(time_scale=0)
    async with local_backend(engine, **kwargs) as (registry, client):
        yield InProcessStepFunctions(engine, registry, client)


def task(resource: str, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "Parameters": params,
                                             "End": True, **extra}}}


HTTP = "arn:aws:states:::http:invoke"


async def test_http_invoke(web: str) -> None:
    async with harness() as sfn:
        got = await sfn.run(task(HTTP, {"ApiEndpoint": f"{web}/items", "Method": "GET",
                                        "QueryParameters": {"q": "a b", "n": [1, 2]},
                                        "Headers": {"X-Token": "t0k", "user-agent": "mine", "Range": "bytes=0-9"}}))
        assert got.succeeded, got
        assert got.output["StatusCode"] == 200 and got.output["StatusText"] == "OK"
        assert got.output["Headers"]["content-type"] == ["application/json"]
        body = got.output["ResponseBody"]
        assert body["method"] == "GET" and body["path"] == "/items?q=a+b&n=1&n=2" and body["token"] == "t0k"
        # The headers AWS always sets, whatever the definition asks for.
        assert (body["userAgent"], body["range"]) == ("Amazon|StepFunctions|HttpInvoke|us-east-1", "bytes=0-262144")

        posted = await sfn.run(task(HTTP, {"ApiEndpoint": f"{web}/p", "Method": "POST",
                                           "RequestBody": {"a": [1, {"b": True}]}}))
        assert loads(posted.output["ResponseBody"]["body"]) == {"a": [1, {"b": True}]}
        assert posted.output["ResponseBody"]["contentType"] == "application/json"

        form = await sfn.run(task(HTTP, {"ApiEndpoint": f"{web}/f", "Method": "PUT",
                                         "RequestBody": {"x": "1 2", "list": ["a", "b"]},
                                         "Transform": {"RequestBodyEncoding": "URL_ENCODED",
                                                       "RequestEncodingOptions": {"ArrayFormat": "BRACKETS"}}}))
        assert form.output["ResponseBody"]["body"] == "x=1%202&list%5B%5D=a&list%5B%5D=b"

        missing = await sfn.run(task(HTTP, {"ApiEndpoint": f"{web}/missing", "Method": "DELETE"}))
        assert missing.status == "FAILED" and missing.error == "States.Http.StatusCode.404"
        assert loads(missing.cause)["StatusCode"] == 404

        refused = await sfn.run(task(HTTP, {"ApiEndpoint": "http://127.0.0.1:9/", "Method": "GET"}))
        assert refused.error == "States.Http.Socket"


    # The HTTP Task's own timeout (60 s on AWS; shortened here) fails it with States.Http.Socket.
    async with harness(integrations=False) as sfn, install(sfn.engine.handlers, http_timeout=0.2):
        slow = await sfn.run({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": HTTP, "Parameters": {"ApiEndpoint": f"{web}/slow", "Method": "GET"},
                  "Catch": [{"ErrorEquals": ["States.Http.Socket"], "Next": "Late"}], "End": True},
            "Late": {"Type": "Pass", "End": True}}})
        assert slow.succeeded and slow.output["Error"] == "States.Http.Socket"
        assert "timed out after 0.2 seconds" in slow.output["Cause"]


async def test_test_state_trace_shows_the_http_exchange(web: str) -> None:
    from express_engine.api.teststate import TestStateRunner
    from express_engine.runtime.tasks import HandlerRegistry

    handlers = HandlerRegistry()
    state = {"Type": "Task", "Resource": HTTP, "End": True,
             "Parameters": {"ApiEndpoint": f"{web}/orders", "Method": "POST", "RequestBody": {"n": 1},
                            "Headers": {"X-Token": "t0k"}}}
    async with install(handlers):
        runner = TestStateRunner(handlers=handlers)
        body = {"definition": dumps(state), "roleArn": "arn:aws:iam::123456789012:role/r", "input": "{}"}
        traced = await runner.run({**body, "inspectionLevel": "TRACE"})
        debug = await runner.run({**body, "inspectionLevel": "DEBUG"})
    assert traced["status"] == "SUCCEEDED", traced
    request, response = traced["inspectionData"]["request"], traced["inspectionData"]["response"]
    # Shapes as in AWS's TestState docs (Example 3): the scheme as protocol, "[Name: value, ...]" headers,
    # response header names in lower case.
    assert (request["protocol"], request["method"], request["url"]) == ("http", "POST", f"{web}/orders")
    assert request["headers"].startswith("[") and request["headers"].endswith("]")
    sent = request["headers"][1:-1].split(", ")
    assert "X-Token: t0k" in sent and "Range: bytes=0-262144" in sent and loads(request["body"]) == {"n": 1}
    assert (response["protocol"], response["statusCode"], response["statusMessage"]) == ("http", "200", "OK")
    assert response["headers"].startswith("[") and response["headers"].endswith("]")
    assert "content-type: application/json" in response["headers"][1:-1].split(", ")
    assert loads(response["body"])["token"] == "t0k"
    assert loads(traced["inspectionData"]["result"])["StatusCode"] == 200
    assert "request" not in debug["inspectionData"] and "response" not in debug["inspectionData"]


async def test_nested_executions() -> None:
    seen: list[Any] = []
    async with harness() as sfn:
        sfn.register_handler("child", lambda event, ctx: seen.append(event) or {"doubled": event["n"] * 2})
        child = await sfn.create({"StartAt": "C", "States": {"C": {
            "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:child", "End": True}}},
            name="Child")
        started = await sfn.run({"StartAt": "S", "States": {"S": {
            "Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
            "Parameters": {"StateMachineArn": child.arn, "Input": {"n.$": "$.n"}}, "End": True}}}, {"n": 1})
        assert started.succeeded, started
        assert ":express:Child:" in started.output["ExecutionArn"] and isinstance(started.output["StartDate"], int)

        synced = await sfn.run({"StartAt": "S", "States": {"S": {
            "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:startSyncExecution",
            "Parameters": {"StateMachineArn": child.arn, "Input.$": "States.JsonToString($)"},
            "ResultSelector": {"out.$": "States.StringToJson($.Output)", "status.$": "$.Status"},
            "End": True}}}, {"n": 21})
        assert synced.output == {"out": {"doubled": 42}, "status": "SUCCEEDED"}
        for _ in range(100):  # the asynchronous child runs in the background
            if {"n": 1} in seen:
                break
            await anyio.sleep(0.01)
        assert {"n": 1} in seen

        missing = await sfn.run({"StartAt": "S", "States": {"S": {
            "Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
            "Parameters": {"StateMachineArn": child.arn + "Nope"}, "End": True}}})
        assert missing.error == "StepFunctions.StateMachineDoesNotExistException"
        assert missing.cause.endswith("Proxy: null)")


async def test_stream_publish(valkey: str) -> None:
    import redis.asyncio as aredis

    redis = aredis.from_url(valkey)
    try:
        async with harness(integrations=True) as sfn, install(sfn.engine.handlers, redis=redis,
                                                               stream_prefix="t:"):
            definition = {"StartAt": "X", "States": {
                "X": {"Type": "Task", "Resource": "arn:aws:states:::redis:xadd",
                      "Parameters": {"Stream": "orders", "Message.$": "$"}, "ResultPath": "$.x", "Next": "Q"},
                "Q": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                      "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/1/jobs", "MessageBody.$": "$.id"},
                      "ResultPath": "$.q", "Next": "N"},
                "N": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
                      "Parameters": {"TopicArn": "arn:aws:sns:us-east-1:1:alerts", "Message": {"hi": 1}},
                      "ResultPath": "$.n", "Next": "E"},
                "E": {"Type": "Task", "Resource": "arn:aws:states:::events:putEvents",
                      "Parameters": {"Entries": [{"Source": "app", "DetailType": "done", "Detail": {"ok": True}}]},
                      "ResultPath": "$.e", "End": True}}}
            got = await sfn.run(definition, {"id": "o-1"})
            assert got.succeeded, got
            assert got.output["x"]["Stream"] == "orders" and "-" in got.output["x"]["MessageId"]
            assert got.output["q"]["MD5OfMessageBody"] == hashlib.md5(b"o-1").hexdigest()
            assert got.output["e"]["FailedEntryCount"] == 0
        entries = await redis.xrange("t:orders")
        assert loads(entries[0][1][b"message"]) == {"id": "o-1"}
        assert (await redis.xrange("t:sqs:jobs"))[0][1][b"message"] == b"o-1"
        assert loads((await redis.xrange("t:sns:alerts"))[0][1][b"message"]) == {"hi": 1}
        event = (await redis.xrange("t:events:default"))[0][1]
        assert event[b"detail-type"] == b"done" and loads(event[b"message"]) == {"ok": True}
    finally:
        await redis.aclose()


# -- MockConfigFile.json ------------------------------------------------------------------------------------


def test_mock_config_parsing() -> None:
    cfg = MockConfig.from_dict({
        "StateMachines": {"M": {"TestCases": {"T": {"S": "R"}}}},
        "MockedResponses": {"R": {"1-2": {"Throw": {"Error": "E", "Cause": "c"}}, "0": {"Return": 1},
                                  "3": {"Return": {"done": True}}}},
    })
    assert cfg.for_execution("M", None) is None
    mock = cfg.for_execution("M", "T")
    assert mock is not None and mock.response_for("Other") is None
    assert mock.response_for("S")() == 1
    for _ in range(2):
        with pytest.raises(CustomError) as exc:
            mock.response_for("S")()
        assert (exc.value.error, exc.value.cause) == ("E", "c")
    assert mock.response_for("S")() == {"done": True}
    assert mock.response_for("S")() == {"done": True}  # the last response answers every later attempt
    assert cfg.for_execution("M", "T").response_for("S")() == 1  # counters are per execution
    with pytest.raises(MockConfigError):
        cfg.for_execution("M", "Nope")
    assert split_test_case("arn:x:stateMachine:M#T") == ("arn:x:stateMachine:M", "T")
    for bad in ({"R": {"1": {"Return": 1}}}, {"R": {"0": {"Return": 1, "Throw": {"Error": "E"}}}},
                {"R": {"x": {"Return": 1}}}, {"R": {"0": {"Throw": {"Cause": "no error"}}}}):
        with pytest.raises(MockConfigError):
            MockConfig.from_dict({"StateMachines": {}, "MockedResponses": bad})
    with pytest.raises(MockConfigError):
        MockConfig.from_dict({"StateMachines": {"M": {"TestCases": {"T": {"S": "Undefined"}}}}})


async def test_mocks_in_process(tmp_path: Path) -> None:
    path = tmp_path / "MockConfigFile.json"
    path.write_text(dumps({"StateMachines": {"Orders": {"TestCases": {"Happy": {"Charge": "Ok"}}}},
                           "MockedResponses": {"Ok": {"0": {"Return": {"StatusCode": 200, "Payload": 7}}}}}))
    async with harness(mocks=MockConfig.load(path)) as sfn:
        record = await sfn.create({
            "StartAt": "Charge", "States": {"Charge": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                                       "Parameters": {"FunctionName": "charge"},
                                                       "OutputPath": "$.Payload", "End": True}}}, name="Orders")
        assert (await sfn.run(record.arn + "#Happy")).output == 7
        assert (await sfn.run(record, test_case="Happy")).output == 7


def test_pytest_plugin(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["express_engine.testing"]\n')
    (tmp_path / "test_user.py").write_text(textwrap.dedent('''
        import pytest

        DEFINITION = {"StartAt": "Greet", "States": {"Greet": {
            "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:greet", "End": True}}}

        @pytest.mark.asyncio
        async def test_in_process(sfn):
            sfn.register_handler("greet", lambda event, ctx: {"hello": event["who"]})
            result = await sfn.run(DEFINITION, {"who": "you"})
            assert result.succeeded and result.output == {"hello": "you"}

        def test_boto3(sfn_server, sfn_boto3):
            sfn_server.register_handler("greet", lambda event, ctx: {"hello": event["who"]})
            arn = sfn_boto3.create_state_machine(name="g", definition=__import__("json").dumps(DEFINITION),
                                                 roleArn="arn:aws:iam::1:role/r", type="EXPRESS")["stateMachineArn"]
            out = sfn_boto3.start_sync_execution(stateMachineArn=arn, input='{"who": "boto3"}')
            assert out["output"] == '{"hello":"boto3"}'
    '''))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:express_engine",
                             str(tmp_path)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


async def test_mocked_service_task_needs_no_handler() -> None:
    mocks = MockConfig.from_dict({"StateMachines": {"S": {"TestCases": {"T": {"Q": "R"}}}},
                                  "MockedResponses": {"R": {"0": {"Return": {"MessageId": "m-1"}}}}})
    async with harness(mocks=mocks) as sfn:
        record = await sfn.create({"StartAt": "Q", "States": {"Q": {
            "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "Parameters": {"QueueUrl": "u"},
            "End": True}}}, name="S")
        result = await sfn.run(record, test_case="T")
        assert result.output == {"MessageId": "m-1"}
