"""Wire-level behaviour: malformed requests, body limit, Host prefix, SigV4, and the AWS CLI."""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import uuid
from typing import Any

import boto3
import pytest
from api_support import CREDENTIALS, ROLE, definition, raw_post
from botocore.config import Config
from botocore.exceptions import ClientError

from express_engine.jsonutil import dumps, loads


def test_unknown_operation_and_missing_target(server: Any) -> None:
    status, body, headers = raw_post(server.port, b"{}", target="AWSStepFunctions.Frobnicate")
    assert status == 400 and body["__type"] == "UnknownOperationException"
    assert headers["content-type"] == "application/x-amz-json-1.0" and headers["x-amzn-requestid"]
    status, body, _ = raw_post(server.port, b"{}", target=None)
    assert status == 400 and body["__type"] == "UnknownOperationException"
    status, body, _ = raw_post(server.port, b"{}", target="DynamoDB_20120810.ListTables")
    assert status == 400 and body["__type"] == "UnknownOperationException"


def test_malformed_bodies(server: Any) -> None:
    status, body, _ = raw_post(server.port, b'{"maxResults": ')
    assert status == 400 and body["__type"] == "SerializationException"
    status, body, _ = raw_post(server.port, b"[1, 2]")
    assert (status, body["__type"]) == (400, "SerializationException")
    status, body, _ = raw_post(server.port, b'{"name": 5, "definition": "{}", "roleArn": "r"}',
                               target="AWSStepFunctions.CreateStateMachine")
    assert (status, body["__type"]) == (400, "SerializationException")
    status, body, _ = raw_post(server.port, b'{"definition": "{}"}', target="AWSStepFunctions.CreateStateMachine")
    assert status == 400 and body["__type"] == "ValidationException"
    assert body["message"].startswith("2 validation errors detected: Value null at 'name' failed to satisfy "
                                      "constraint: Member must not be null")


def test_body_over_the_limit(server: Any, sfn: Any) -> None:
    big = dumps({"name": "x", "definition": "a" * (600 * 1024), "roleArn": ROLE}).encode()
    status, body, _ = raw_post(server.port, big, target="AWSStepFunctions.CreateStateMachine")
    assert status == 413 and body["__type"] == "RequestEntityTooLargeException"
    arn = sfn.create_state_machine(name=f"big-{uuid.uuid4().hex[:8]}", definition=definition(
        {"P": {"Type": "Pass", "End": True}}), roleArn=ROLE, type="EXPRESS")["stateMachineArn"]
    with pytest.raises(ClientError) as exc:
        sfn.start_sync_execution(stateMachineArn=arn, input=dumps({"blob": "b" * (600 * 1024)}))
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    # Under the limit but over AWS's 256 KiB input quota: AWS's ValidationException.
    with pytest.raises(ClientError) as exc:
        sfn.start_sync_execution(stateMachineArn=arn, input=dumps({"blob": "b" * (300 * 1024)}))
    assert exc.value.response["Error"]["Code"] == "ValidationException"


def test_any_host_is_served(server: Any, sfn: Any) -> None:
    arn = sfn.create_state_machine(name=f"host-{uuid.uuid4().hex[:8]}", definition=definition(
        {"P": {"Type": "Pass", "End": True}}), roleArn=ROLE, type="EXPRESS")["stateMachineArn"]
    status, body, _ = raw_post(server.port, dumps({"stateMachineArn": arn}).encode(),
                               target="AWSStepFunctions.StartSyncExecution",
                               headers={"Host": f"sync-localhost:{server.port}"})
    assert status == 200 and body["status"] == "SUCCEEDED"


def _client(server: Any, key: str, secret: str) -> Any:
    return boto3.client("stepfunctions", endpoint_url=server.endpoint_url, region_name="eu-west-1",
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(inject_host_prefix=False, retries={"max_attempts": 0}))


def test_sigv4(auth_server: Any) -> None:
    key, secret = next(iter(CREDENTIALS.items()))
    good = _client(auth_server, key, secret)
    arn = good.create_state_machine(name="signed", definition=definition({"P": {"Type": "Pass", "End": True}}),
                                    roleArn=ROLE, type="EXPRESS")["stateMachineArn"]
    assert good.start_sync_execution(stateMachineArn=arn, input='{"a": "é"}')["status"] == "SUCCEEDED"

    with pytest.raises(ClientError) as exc:
        _client(auth_server, key, "wrong-secret").list_state_machines()
    assert exc.value.response["Error"]["Code"] == "InvalidSignatureException"
    with pytest.raises(ClientError) as exc:
        _client(auth_server, "AKIDUNKNOWN", secret).start_sync_execution(stateMachineArn=arn)
    assert exc.value.response["Error"] == {"Code": "UnrecognizedClientException",
                                           "Message": "The security token included in the request is invalid."}
    status, body, _ = raw_post(auth_server.port, dumps({"stateMachineArn": arn}).encode(),
                               target="AWSStepFunctions.StartSyncExecution")
    assert status == 400 and body["__type"] == "UnrecognizedClientException"


def test_sigv4_rejects_tampered_body(auth_server: Any) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key, secret = next(iter(CREDENTIALS.items()))
    url = auth_server.endpoint_url + "/"
    request = AWSRequest(method="POST", url=url, data=b"{}", headers={
        "X-Amz-Target": "AWSStepFunctions.ListStateMachines", "Content-Type": "application/x-amz-json-1.0"})
    SigV4Auth(Credentials(key, secret), "states", "us-east-1").add_auth(request)
    headers = dict(request.headers.items())
    status, body, _ = raw_post(auth_server.port, b"{}", target=None, headers=headers)
    assert status == 200 and "stateMachines" in body
    status, body, _ = raw_post(auth_server.port, b'{"maxResults": 1}', target=None, headers=headers)
    assert (status, body["__type"]) == (400, "InvalidSignatureException")


def _signed_headers(auth_server: Any, body: bytes, content_sha256: str) -> dict[str, str]:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key, secret = next(iter(CREDENTIALS.items()))
    request = AWSRequest(method="POST", url=auth_server.endpoint_url + "/", data=body, headers={
        "X-Amz-Target": "AWSStepFunctions.ListStateMachines", "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Content-SHA256": content_sha256})
    SigV4Auth(Credentials(key, secret), "states", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def test_sigv4_hashes_the_body_whatever_x_amz_content_sha256_says(auth_server: Any) -> None:
    import hashlib

    body = b"{}"
    good = _signed_headers(auth_server, body, hashlib.sha256(body).hexdigest())
    status, answer, _ = raw_post(auth_server.port, body, target=None, headers=good)
    assert status == 200 and "stateMachines" in answer
    # A captured request whose body was swapped, its signed hash left as it was.
    status, answer, _ = raw_post(auth_server.port, b'{"maxResults": 1}', target=None, headers=good)
    assert (status, answer["__type"]) == (400, "InvalidSignatureException")
    # A correctly signed request that claims an unsigned payload: S3's option, not this service's.
    for claim in ("UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"):
        unsigned = _signed_headers(auth_server, body, claim)
        status, answer, _ = raw_post(auth_server.port, b'{"maxResults": 1}', target=None, headers=unsigned)
        assert (status, answer["__type"]) == (400, "InvalidSignatureException")


AWS_CLI = shutil.which("aws") or ""


@pytest.mark.skipif(not AWS_CLI, reason="the AWS CLI is not installed (pip install awscli)")
def test_aws_cli(server: Any, tmp_path: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1",
               AWS_DISABLE_HOST_PREFIX_INJECTION="true", AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_PAGER="")
    greet = {"greeting.$": "States.Format('hi {}', $.who)"}
    (tmp_path / "def.json").write_text(definition({"Hello": {"Type": "Pass", "Parameters": greet, "End": True}}))
    name = f"cli-{uuid.uuid4().hex[:8]}"

    def aws(*args: str) -> dict[str, Any]:
        out = subprocess.run([AWS_CLI, "stepfunctions", *args, "--endpoint-url",
                              server.endpoint_url, "--output", "json"], env=env, capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0, out.stderr
        return loads(out.stdout)

    created = aws("create-state-machine", "--name", name, "--definition", f"file://{tmp_path / 'def.json'}",
                  "--role-arn", ROLE, "--type", "EXPRESS")
    result = aws("start-sync-execution", "--state-machine-arn", created["stateMachineArn"], "--input",
                 '{"who": "cli"}')
    assert result["status"] == "SUCCEEDED" and loads(result["output"]) == {"greeting": "hi cli"}


def _send(port: int, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, loads(resp.read())
    finally:
        conn.close()


def test_bad_bodies_are_refused_alike_on_the_json_and_the_pipes_api(server: Any, request: Any) -> None:
    """Over the body limit, not JSON, not a JSON object: the same errors for a JSON 1.0 request and a Pipes one."""
    sfn = ("POST", "/", {"Content-Type": "application/x-amz-json-1.0",
                         "X-Amz-Target": "AWSStepFunctions.ListStateMachines"})
    pipes = ("POST", "/v1/pipes/bad-bodies", {"Content-Type": "application/json"})
    big = b'{"a": "' + b"x" * (600 * 1024) + b'"}'
    too_large = (413, "RequestEntityTooLargeException",
                 f"Request body of {len(big)} bytes exceeds the limit of {512 * 1024} bytes")
    cases = [(sfn, big, too_large), (pipes, big, too_large),
             (sfn, b'{"maxResults": ', (400, "SerializationException", "Malformed JSON request body: ")),
             (sfn, b"[1, 2]", (400, "SerializationException", "The request body must be a JSON object"))]
    if "redis" in request.node.name:  # (the in-process backend refuses every Pipes request before its body)
        cases += [(pipes, b'{"Source": ', (400, "SerializationException", "Malformed JSON request body: ")),
                  (pipes, b'"text"', (400, "SerializationException", "The request body must be a JSON object"))]
    for (method, path, headers), body, (status, error, message) in cases:
        got, answer = _send(server.port, method, path, body, headers)
        assert (got, answer["__type"]) == (status, error), (path, body[:20], answer)
        assert answer["message"].startswith(message), (path, body[:20], answer)
