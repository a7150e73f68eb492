"""A large definition is validated off the event loop: the API keeps answering other requests meanwhile."""

from __future__ import annotations

import threading
from typing import Any

from express_engine.jsonutil import dumps


def _big_jsonata_definition(n: int = 1500) -> str:
    """About 165 KB of JSONata Pass states: over a second of validation on this machine."""
    states: dict[str, Any] = {
        f"S{i}": {"Type": "Pass", "Next": f"S{i + 1}",
                  "Output": "{% $merge([$states.input, {'k" + str(i) + "': $sum([1, 2, 3]) * " + str(i) + "}]) %}"}
        for i in range(n)}
    states[f"S{n}"] = {"Type": "Succeed"}
    return dumps({"QueryLanguage": "JSONata", "StartAt": "S0", "States": states})


def test_other_requests_are_answered_while_a_big_definition_is_validated(server: Any, sfn: Any) -> None:
    text = _big_jsonata_definition()
    client = server.boto3_client()  # its own connection pool: the two calls run side by side
    done = threading.Event()
    result: list[Any] = []

    def validate() -> None:
        result.append(client.validate_state_machine_definition(definition=text, type="EXPRESS"))
        done.set()

    thread = threading.Thread(target=validate)
    thread.start()
    answered_meanwhile = 0
    while not done.is_set():
        sfn.list_state_machines(maxResults=1)
        if not done.is_set():
            answered_meanwhile += 1
    thread.join()
    assert result[0]["result"] == "OK"
    # (on the event loop, every request sent during the validation waits for it: 0-2 got through, the ones sent
    # before it arrived; off the loop, dozens)
    assert answered_meanwhile >= 10
