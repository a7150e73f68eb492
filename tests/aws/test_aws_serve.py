"""The same AWS-calling workflow through ``express-engine serve`` (Redis workers) and the in-process Engine."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]

from express_engine.testing import free_port, wait_until_healthy

from .conftest import AwsRunner, MotoServer
from .test_aws_calls import _table, dynamodb_crud


def _essentials(output: dict[str, Any]) -> dict[str, Any]:
    return {"get": output["get"]["Item"], "error": output["conditionFailed"]["Error"],
            "deleted": output["delete"]["Attributes"], "put": sorted(output["put"]),
            "status": output["put"]["SdkHttpMetadata"]["HttpStatusCode"]}


async def test_same_workflow_through_serve_and_in_process(moto: MotoServer, aws_run: AwsRunner,
                                                          tmp_path: Path) -> None:
    table = _table(moto)
    definition = dynamodb_crud(table)
    local = await aws_run(definition, {"id": "in-process"})
    assert local["status"] == "SUCCEEDED", local

    port, redis_port = free_port(), free_port()
    env = {**os.environ, **moto.env(), "XDG_DATA_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "express_engine", "serve", "--port", str(port), "--embedded-port", str(redis_port),
         "--processes", "1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        wait_until_healthy(port, proc)
        sfn = boto3.client("stepfunctions", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                           aws_access_key_id="k", aws_secret_access_key="s",
                           config=Config(inject_host_prefix=False, retries={"max_attempts": 0}))
        arn = sfn.create_state_machine(name="crud", definition=json.dumps(definition),
                                       roleArn="arn:aws:iam::123456789012:role/r", type="EXPRESS")["stateMachineArn"]
        served = sfn.start_sync_execution(stateMachineArn=arn, input=json.dumps({"id": "in-process"}))
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert served["status"] == "SUCCEEDED", served
    assert _essentials(json.loads(served["output"])) == _essentials(local["output"])
    assert _essentials(local["output"])["error"] == "DynamoDB.ConditionalCheckFailedException"
