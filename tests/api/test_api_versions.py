"""Versions and aliases through a real server with boto3 and the AWS CLI (both registries: in process and Redis)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from api_support import ROLE, definition, raw_post
from botocore.exceptions import ClientError

from express_engine.jsonutil import loads


def which(tag: str) -> str:
    """A machine answering its tag and the ``$$.StateMachine.Id`` it ran under."""
    return definition({"P": {"Type": "Pass", "Parameters": {"tag": tag, "id.$": "$$.StateMachine.Id"}, "End": True}})


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def ran(sfn: Any, arn: str) -> dict[str, Any]:
    response = sfn.start_sync_execution(stateMachineArn=arn, input="{}")
    assert response["status"] == "SUCCEEDED", response
    return dict(loads(response["output"]))


def new_machine(sfn: Any, **kwargs: Any) -> tuple[str, dict[str, Any]]:
    created = sfn.create_state_machine(name=f"v-{uuid.uuid4().hex[:10]}", definition=which("v1"), roleArn=ROLE,
                                       type="EXPRESS", **kwargs)
    return created["stateMachineArn"], created


def test_versions_publish_describe_start_list_delete(sfn: Any) -> None:
    arn, created = new_machine(sfn, publish=True, versionDescription="first")
    v1 = created["stateMachineVersionArn"]
    assert v1 == f"{arn}:1"
    described = sfn.describe_state_machine(stateMachineArn=v1)
    assert described["stateMachineArn"] == v1 and described["description"] == "first" and described["revisionId"]
    assert sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"] == v1  # idempotent

    updated = sfn.update_state_machine(stateMachineArn=arn, definition=which("v2"), publish=True,
                                       versionDescription="second")
    v2 = updated["stateMachineVersionArn"]
    assert v2 == f"{arn}:2"
    assert ran(sfn, v1) == {"tag": "v1", "id": v1} and ran(sfn, v2) == {"tag": "v2", "id": v2}
    assert ran(sfn, arn) == {"tag": "v2", "id": arn}
    with pytest.raises(ClientError) as exc:
        sfn.publish_state_machine_version(stateMachineArn=arn, revisionId=described["revisionId"])
    assert code_of(exc) == "ConflictException"
    with pytest.raises(ClientError) as exc:
        sfn.update_state_machine(stateMachineArn=arn, definition=which("x"), versionDescription="no publish")
    assert code_of(exc) == "ValidationException"

    listed = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in listed] == [v2, v1]  # newest first
    page = sfn.list_state_machine_versions(stateMachineArn=arn, maxResults=1)
    assert [v["stateMachineVersionArn"] for v in page["stateMachineVersions"]] == [v2]
    rest = sfn.list_state_machine_versions(stateMachineArn=arn, nextToken=page["nextToken"])
    assert [v["stateMachineVersionArn"] for v in rest["stateMachineVersions"]] == [v1] and "nextToken" not in rest

    sfn.delete_state_machine_version(stateMachineVersionArn=v1)
    with pytest.raises(ClientError) as exc:
        sfn.start_sync_execution(stateMachineArn=v1)
    assert code_of(exc) == "StateMachineDoesNotExist"
    with pytest.raises(ClientError) as exc:
        sfn.describe_state_machine(stateMachineArn=v1)
    assert code_of(exc) == "StateMachineDoesNotExist"
    sfn.update_state_machine(stateMachineArn=arn, definition=which("v3"))
    v3 = sfn.publish_state_machine_version(stateMachineArn=arn, description="third")["stateMachineVersionArn"]
    assert v3 == f"{arn}:3"  # numbers are never reused
    assert [v["stateMachineVersionArn"] for v in
            sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]] == [v3, v2]
    # Versions are not state machines of their own.
    assert arn in [m["stateMachineArn"] for m in sfn.list_state_machines(maxResults=1000)["stateMachines"]]
    assert v2 not in [m["stateMachineArn"] for m in sfn.list_state_machines(maxResults=1000)["stateMachines"]]


def test_aliases_create_describe_update_list_delete(sfn: Any) -> None:
    arn, created = new_machine(sfn, publish=True)
    v1 = created["stateMachineVersionArn"]
    v2 = sfn.update_state_machine(stateMachineArn=arn, definition=which("v2"), publish=True)["stateMachineVersionArn"]
    routing = [{"stateMachineVersionArn": v1, "weight": 100}]
    alias = sfn.create_state_machine_alias(name="prod", description="live", routingConfiguration=routing)
    prod = alias["stateMachineAliasArn"]
    assert prod == f"{arn}:prod"
    again = sfn.create_state_machine_alias(name="prod", description="live", routingConfiguration=routing)
    assert again["creationDate"] == alias["creationDate"]  # idempotent
    with pytest.raises(ClientError) as exc:
        sfn.create_state_machine_alias(name="prod", routingConfiguration=[{"stateMachineVersionArn": v2,
                                                                           "weight": 100}])
    assert code_of(exc) == "ConflictException"
    described = sfn.describe_state_machine_alias(stateMachineAliasArn=prod)
    assert (described["name"], described["description"], described["routingConfiguration"]) == ("prod", "live",
                                                                                                 routing)
    assert ran(sfn, prod) == {"tag": "v1", "id": prod}

    sfn.update_state_machine_alias(stateMachineAliasArn=prod, routingConfiguration=[
        {"stateMachineVersionArn": v2, "weight": 100}])
    assert sfn.describe_state_machine_alias(stateMachineAliasArn=prod)["description"] == "live"
    sfn.create_state_machine_alias(name="old", routingConfiguration=routing)
    aliases = sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"]
    assert [a["stateMachineAliasArn"] for a in aliases] == [f"{arn}:old", prod]  # newest first
    assert [a["stateMachineAliasArn"] for a in
            sfn.list_state_machine_aliases(stateMachineArn=v1)["stateMachineAliases"]] == [f"{arn}:old"]

    with pytest.raises(ClientError) as exc:
        sfn.delete_state_machine_version(stateMachineVersionArn=v1)  # "old" routes to it
    assert code_of(exc) == "ConflictException"
    with pytest.raises(ClientError) as exc:
        sfn.update_state_machine_alias(stateMachineAliasArn=prod)
    assert code_of(exc) == "ValidationException"
    sfn.delete_state_machine_alias(stateMachineAliasArn=f"{arn}:old")
    sfn.delete_state_machine_version(stateMachineVersionArn=v1)
    with pytest.raises(ClientError) as exc:
        sfn.describe_state_machine_alias(stateMachineAliasArn=f"{arn}:old")
    assert code_of(exc) == "ResourceNotFound"
    with pytest.raises(ClientError) as exc:
        sfn.start_sync_execution(stateMachineArn=f"{arn}:old")
    assert code_of(exc) == "StateMachineDoesNotExist"

    # Deleting the machine deletes its versions and aliases (AWS).
    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(ClientError) as exc:
        sfn.describe_state_machine(stateMachineArn=v2)
    assert code_of(exc) == "StateMachineDoesNotExist"
    with pytest.raises(ClientError) as exc:
        sfn.describe_state_machine_alias(stateMachineAliasArn=prod)
    assert code_of(exc) == "ResourceNotFound"


def test_alias_and_version_arguments_are_checked_as_aws_does(sfn: Any, server: Any) -> None:
    arn, created = new_machine(sfn, publish=True)
    v1 = created["stateMachineVersionArn"]
    other, other_created = new_machine(sfn, publish=True)
    bad_routings = {
        "weights": [{"stateMachineVersionArn": v1, "weight": 60}],
        "same version twice": [{"stateMachineVersionArn": v1, "weight": 50}, {"stateMachineVersionArn": v1,
                                                                             "weight": 50}],
        "two machines": [{"stateMachineVersionArn": v1, "weight": 50},
                         {"stateMachineVersionArn": other_created["stateMachineVersionArn"], "weight": 50}],
        "not a version": [{"stateMachineVersionArn": arn, "weight": 100}],
    }
    for why, routing in bad_routings.items():
        with pytest.raises(ClientError) as exc:
            sfn.create_state_machine_alias(name="a", routingConfiguration=routing)
        assert code_of(exc) == "ValidationException", why
        assert exc.value.response["Error"].get("reason", "INVALID_ROUTING_CONFIGURATION") == \
            "INVALID_ROUTING_CONFIGURATION"
    with pytest.raises(ClientError) as exc:
        sfn.create_state_machine_alias(name="a", routingConfiguration=[{"stateMachineVersionArn": f"{arn}:9",
                                                                        "weight": 100}])
    assert code_of(exc) == "ResourceNotFound"
    with pytest.raises(ClientError) as exc:
        sfn.create_state_machine_alias(name="123", routingConfiguration=[{"stateMachineVersionArn": v1,
                                                                          "weight": 100}])
    assert code_of(exc) == "ValidationException"  # an all-digit name would read as a version number
    status, body, _ = raw_post(server.port, b'{"name": "a", "routingConfiguration": []}',
                               target="AWSStepFunctions.CreateStateMachineAlias")  # (boto3 checks this itself)
    assert (status, body["__type"]) == (400, "ValidationException")
    # Operations on the machine itself refuse a version or alias ARN.
    sfn.create_state_machine_alias(name="live", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}])
    for qualified in (v1, f"{arn}:live"):
        for call in (lambda q: sfn.update_state_machine(stateMachineArn=q, definition=which("x")),
                     lambda q: sfn.delete_state_machine(stateMachineArn=q),
                     lambda q: sfn.publish_state_machine_version(stateMachineArn=q),
                     lambda q: sfn.list_state_machine_versions(stateMachineArn=q),
                     lambda q: sfn.tag_resource(resourceArn=q, tags=[{"key": "k", "value": "v"}])):
            with pytest.raises(ClientError) as exc:
                call(qualified)
            assert code_of(exc) == "ValidationException", qualified
    with pytest.raises(ClientError) as exc:
        sfn.delete_state_machine_version(stateMachineVersionArn=f"{arn}:live")
    assert code_of(exc) == "ValidationException"
    sfn.delete_state_machine(stateMachineArn=other)


def test_a_weighted_alias_splits_1000_starts_by_its_weights(sfn: Any) -> None:
    arn, created = new_machine(sfn, publish=True)
    v1 = created["stateMachineVersionArn"]
    v2 = sfn.update_state_machine(stateMachineArn=arn, definition=which("v2"), publish=True)["stateMachineVersionArn"]
    canary = sfn.create_state_machine_alias(name="canary", routingConfiguration=[
        {"stateMachineVersionArn": v1, "weight": 70}, {"stateMachineVersionArn": v2, "weight": 30}],
    )["stateMachineAliasArn"]
    with ThreadPoolExecutor(8) as pool:
        outputs = list(pool.map(lambda _: ran(sfn, canary), range(1000)))
    counts = Counter(o["tag"] for o in outputs)
    print(f"weighted alias 70/30 over 1000 starts: {dict(counts)}")
    assert {o["id"] for o in outputs} == {canary}
    # Binomial(1000, 0.7) has a standard deviation of 14.5: 50 is 3.4 of them.
    assert abs(counts["v1"] - 700) <= 50 and counts["v1"] + counts["v2"] == 1000, counts


CLI_SCRIPT = """
import contextlib, io, json, sys
from awscli.clidriver import create_clidriver
results = []
driver = create_clidriver()
for args in json.load(sys.stdin):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = driver.main(args)
    results.append({"code": code, "out": json.loads(out.getvalue() or "{}")})
json.dump(results, sys.__stdout__)
"""


def test_aws_cli_versions_and_aliases(server: Any, tmp_path: Path) -> None:
    """The AWS CLI's own commands (its driver, one process for all of them: each `aws` run costs a second)."""
    pytest.importorskip("awscli")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1",
               AWS_DISABLE_HOST_PREFIX_INJECTION="true", AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_PAGER="")
    (tmp_path / "v1.json").write_text(which("v1"))
    (tmp_path / "v2.json").write_text(which("v2"))
    name = f"cli-{uuid.uuid4().hex[:8]}"
    arn = f"arn:aws:states:us-east-1:123456789012:stateMachine:{name}"
    routing = json.dumps([{"stateMachineVersionArn": f"{arn}:1", "weight": 50},
                          {"stateMachineVersionArn": f"{arn}:2", "weight": 50}])
    commands = [
        ["create-state-machine", "--name", name, "--definition", f"file://{tmp_path / 'v1.json'}", "--role-arn",
         ROLE, "--type", "EXPRESS", "--publish", "--version-description", "one"],
        ["update-state-machine", "--state-machine-arn", arn, "--definition", f"file://{tmp_path / 'v2.json'}"],
        ["publish-state-machine-version", "--state-machine-arn", arn, "--description", "two"],
        ["list-state-machine-versions", "--state-machine-arn", arn],
        ["create-state-machine-alias", "--name", "prod", "--routing-configuration", routing],
        ["describe-state-machine-alias", "--state-machine-alias-arn", f"{arn}:prod"],
        ["update-state-machine-alias", "--state-machine-alias-arn", f"{arn}:prod", "--routing-configuration",
         json.dumps([{"stateMachineVersionArn": f"{arn}:2", "weight": 100}])],
        ["list-state-machine-aliases", "--state-machine-arn", arn],
        ["start-sync-execution", "--state-machine-arn", f"{arn}:prod"],
        ["start-sync-execution", "--state-machine-arn", f"{arn}:1"],
        ["delete-state-machine-alias", "--state-machine-alias-arn", f"{arn}:prod"],
        ["delete-state-machine-version", "--state-machine-version-arn", f"{arn}:1"],
        ["list-state-machine-versions", "--state-machine-arn", arn],
    ]
    argv = [["stepfunctions", *c, "--endpoint-url", server.endpoint_url, "--output", "json"] for c in commands]
    proc = subprocess.run([sys.executable, "-c", CLI_SCRIPT], input=json.dumps(argv), env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert [r["code"] for r in results] == [0] * len(commands), proc.stderr
    out = [r["out"] for r in results]
    assert out[0]["stateMachineVersionArn"] == f"{arn}:1"
    assert out[2]["stateMachineVersionArn"] == f"{arn}:2"
    assert [v["stateMachineVersionArn"] for v in out[3]["stateMachineVersions"]] == [f"{arn}:2", f"{arn}:1"]
    assert out[4]["stateMachineAliasArn"] == f"{arn}:prod"
    assert out[5]["routingConfiguration"] == json.loads(routing)
    assert [a["stateMachineAliasArn"] for a in out[7]["stateMachineAliases"]] == [f"{arn}:prod"]
    assert loads(out[8]["output"]) == {"tag": "v2", "id": f"{arn}:prod"}
    assert loads(out[9]["output"]) == {"tag": "v1", "id": f"{arn}:1"}
    assert [v["stateMachineVersionArn"] for v in out[12]["stateMachineVersions"]] == [f"{arn}:2"]


@pytest.mark.parametrize("operation", ["ListStateMachineVersions", "ListStateMachineAliases"])
def test_listing_versions_and_aliases_checks_its_request(server: Any, operation: str) -> None:
    null_arn = "Value null at 'stateMachineArn' failed to satisfy constraint: Member must not be null"
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({}, "ValidationException", f"1 validation error detected: {null_arn}"),
        ({"maxResults": 1001, "nextToken": ""}, "ValidationException",
         f"3 validation errors detected: {null_arn}; Value '1001' at 'maxResults' failed to satisfy constraint: "
         "Member must have value less than or equal to 1000; Value '' at 'nextToken' failed to satisfy "
         "constraint: Member must have length greater than or equal to 1"),
        ({"stateMachineArn": "nope"}, "InvalidArn", "Invalid Arn: 'Invalid ARN prefix: nope'"),
        ({"stateMachineArn": 5}, "SerializationException", "Expected a string for 'stateMachineArn' but got a number"),
    ]
    for body, error, message in cases:
        status, answer, _ = raw_post(server.port, json.dumps(body).encode(), f"AWSStepFunctions.{operation}")
        assert (status, answer["__type"], answer["message"]) == (400, error, message), body
