"""A large definition is validated off the event loop: the API keeps answering other requests meanwhile."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import pytest
from api_support import ROLE

from express_engine.eventloop import HEAVY_DEFINITION_CHARS
from express_engine.jsonutil import dumps

#: Pass states of a definition just over the size compiled in a thread (a second or so of compiling)
SMALLEST_HEAVY = 320


def _big_jsonata_definition(n: int = 1500) -> str:
    """About 165 KB of JSONata Pass states: over a second of validation on this machine."""
    states: dict[str, Any] = {
        f"S{i}": {"Type": "Pass", "Next": f"S{i + 1}",
                  "Output": "{% $merge([$states.input, {'k" + str(i) + "': $sum([1, 2, 3]) * " + str(i) + "}]) %}"}
        for i in range(n)}
    states[f"S{n}"] = {"Type": "Succeed"}
    return dumps({"QueryLanguage": "JSONata", "StartAt": "S0", "States": states})


def _answered_while(server: Any, sfn: Any, call: Any) -> tuple[Any, int]:
    """``call(client)`` on a connection of its own; its result and how many ListStateMachines calls were answered
    while it ran."""
    client = server.boto3_client(read_timeout=120)
    done = threading.Event()
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(call(client))
        finally:
            done.set()

    thread = threading.Thread(target=run)
    thread.start()
    answered_meanwhile = 0
    while not done.is_set():
        sfn.list_state_machines(maxResults=1)
        if not done.is_set():
            answered_meanwhile += 1
    thread.join()
    assert result, "the call failed"
    return result[0], answered_meanwhile


def test_other_requests_are_answered_while_a_big_definition_is_validated(server: Any, sfn: Any) -> None:
    text = _big_jsonata_definition()
    out, answered_meanwhile = _answered_while(server, sfn, lambda client: client.validate_state_machine_definition(
        definition=text, type="EXPRESS"))
    assert out["result"] == "OK"
    # (on the event loop, every request sent during the validation waits for it: 0-2 got through, the ones sent
    # before it arrived; off the loop, dozens)
    assert answered_meanwhile >= 5  # quiet: 66-85 answered; held on the loop: 0-1; 8-9 seen at load average 8


def test_other_requests_are_answered_while_a_big_definition_is_tested(server: Any, sfn: Any) -> None:
    text = _big_jsonata_definition(SMALLEST_HEAVY)
    assert len(text) > HEAVY_DEFINITION_CHARS
    out, answered_meanwhile = _answered_while(server, sfn, lambda client: client.test_state(
        definition=text, stateName="S1", input='{"a": 1}'))
    assert (out["status"], out["nextState"], out["output"]) == ("SUCCEEDED", "S2", '{"a":1,"k1":6}')
    # (TestState checks and compiles the whole definition: on the event loop, 0-2 requests got through)
    assert answered_meanwhile >= 5  # quiet: 66-85 answered; held on the loop: 0-1; 8-9 seen at load average 8


def test_other_requests_are_answered_while_a_worker_loads_a_big_machine(server: Any, sfn: Any) -> None:
    if server.backend is None:
        pytest.skip("the in-process engine compiles a machine once, when it is created")
    # Heavy to compile, quick to run: a Choice at the start goes straight to the end.
    big = orjson.loads(_big_jsonata_definition(SMALLEST_HEAVY))
    big["States"]["Start"] = {"Type": "Choice", "Choices": [{"Condition": "{% true %}", "Next": "Done"}],
                              "Default": "S0"}
    big["States"]["Done"] = {"Type": "Succeed", "Output": {"quick": True}}
    big["StartAt"] = "Start"
    arn = sfn.create_state_machine(name="big-loaded", definition=dumps(big), roleArn=ROLE,
                                   type="EXPRESS")["stateMachineArn"]
    # The worker has never run it: its registry reads the definition from Redis and compiles it for this start.
    out, answered_meanwhile = _answered_while(server, sfn, lambda client: client.start_sync_execution(
        stateMachineArn=arn, input="{}"))
    assert (out["status"], out["output"]) == ("SUCCEEDED", '{"quick":true}')
    assert answered_meanwhile >= 5  # quiet: 66-85 answered; held on the loop: 0-1; 8-9 seen at load average 8


def test_other_requests_are_answered_while_a_big_standard_definition_is_checked(server: Any, sfn: Any) -> None:
    if server.backend is not None:
        pytest.skip("the API checks it before any backend sees it: once is enough")
    from botocore.exceptions import ClientError

    text = _big_jsonata_definition(SMALLEST_HEAVY)

    def create(client: Any) -> str:
        try:
            client.create_state_machine(name="big-standard", definition=text, roleArn=ROLE, type="STANDARD")
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])
        return "created"

    code, answered_meanwhile = _answered_while(server, sfn, create)
    assert code == "StateMachineTypeNotSupported"  # (only once the definition is known to be valid)
    assert answered_meanwhile >= 5  # quiet: 66-85 answered; held on the loop: 0-1; 8-9 seen at load average 8
