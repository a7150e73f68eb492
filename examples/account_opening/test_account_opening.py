"""Runs the account-opening workflow in process: approved, retried, rejected and referred applications."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from examples.account_opening import handlers
from express_engine import Engine

HERE = Path(__file__).parent
DEFINITION = (HERE / "account_opening.asl.json").read_text()
INPUT = json.loads((HERE / "input.json").read_text())


class Flaky:
    """Wraps a handler so that its first ``failures`` calls raise ``error`` (a provider outage)."""

    def __init__(self, fn: Any, failures: int, error: type[Exception]) -> None:
        self.fn, self.failures, self.error, self.calls = fn, failures, error, 0

    def __call__(self, event: Any, context: Any) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error("provider timed out")
        return self.fn(event, context)


def make_engine(**overrides: Any) -> Engine:
    """An engine serving the example's handlers (``overrides`` replace some); Retry waits are skipped."""
    engine = Engine(time_scale=0)
    functions = {"CheckName": handlers.check_name, "CheckAddress": handlers.check_address,
                 "ApproveApplication": handlers.approve_application, **overrides}
    for name, fn in functions.items():
        engine.register_handler(name, fn)
    return engine


async def run(engine: Engine, value: Any) -> dict[str, Any]:
    """Run one execution; returns the StartSyncExecution response with ``output`` parsed."""
    record = engine.create_state_machine("AccountOpening", DEFINITION)
    response = await engine.start_sync_execution(record, json.dumps(value))
    if "output" in response:
        response["output"] = json.loads(response["output"])
    return response


def with_application(**changes: Any) -> dict[str, Any]:
    return {"application": {**INPUT["application"], **changes}}


async def test_application_is_approved() -> None:
    response = await run(make_engine(), INPUT)
    assert response["status"] == "SUCCEEDED"
    assert response["output"] == {
        "applicationId": "APP-2024-00017",
        "decision": "APPROVED",
        "accountNumber": handlers.approve_application(
            {"applicationId": "APP-2024-00017", "product": "everyday-checking"}, None)["accountNumber"],
        "accountHolder": "Jane Q. Doe",
        "mailingAddress": "123 MAIN ST, SPRINGFIELD IL 62701",
    }


async def test_flaky_address_service_is_retried() -> None:
    flaky = Flaky(handlers.check_address, failures=2, error=handlers.AddressServiceUnavailable)
    response = await run(make_engine(CheckAddress=flaky), INPUT)
    assert response["status"] == "SUCCEEDED"
    assert response["output"]["decision"] == "APPROVED"
    assert flaky.calls == 3


async def test_address_service_down_for_good_goes_to_manual_review() -> None:
    flaky = Flaky(handlers.check_address, failures=10, error=handlers.AddressServiceUnavailable)
    response = await run(make_engine(CheckAddress=flaky), INPUT)
    assert response["status"] == "SUCCEEDED"
    assert response["output"] == {"applicationId": "APP-2024-00017", "decision": "MANUAL_REVIEW",
                                  "error": "AddressServiceUnavailable"}
    assert flaky.calls == 4  # the first attempt and MaxAttempts=3 retries


async def test_invalid_name_is_caught_and_rejected() -> None:
    approvals: list[Any] = []
    engine = make_engine(ApproveApplication=lambda event, context: approvals.append(event))
    response = await run(engine, with_application(name="J0hn"))
    assert response["status"] == "SUCCEEDED"
    assert response["output"] == {"applicationId": "APP-2024-00017", "decision": "REJECTED",
                                  "reason": "InvalidNameError",
                                  "detail": "'J0hn' is not a full name made of letters"}
    assert approvals == []


async def test_invalid_address_is_rejected_without_retrying() -> None:
    calls = Flaky(handlers.check_address, failures=0, error=Exception)
    address = {**INPUT["application"]["address"], "postalCode": "SW1A 1AA"}
    response = await run(make_engine(CheckAddress=calls), with_application(address=address))
    assert response["output"]["decision"] == "REJECTED"
    assert response["output"]["reason"] == "InvalidAddressError"
    assert response["output"]["detail"] == "'SW1A 1AA' is not a US ZIP code"
    assert calls.calls == 1
