"""``GET /metrics``: Prometheus text exposition of the API process's counts (and, over Redis, the cluster's)."""

from __future__ import annotations

import urllib.request
import uuid
from typing import Any

from api_support import ROLE, definition, raw_post
from prometheus_client.parser import text_string_to_metric_families

from express_engine.testing import StepFunctionsServer

OK = definition({"P": {"Type": "Pass", "Result": 1, "End": True}})
FAIL = definition({"F": {"Type": "Fail", "Error": "Custom.Bad", "Cause": "no"}})

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(server: StepFunctionsServer) -> Samples:
    with urllib.request.urlopen(server.endpoint_url + "/metrics", timeout=10) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=")
        text = resp.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_counters_move_with_executions(server: StepFunctionsServer, sfn: Any) -> None:
    ok = sfn.create_state_machine(name=f"m-{uuid.uuid4().hex[:8]}", definition=OK, roleArn=ROLE,
                                  type="EXPRESS")["stateMachineArn"]
    bad = sfn.create_state_machine(name=f"m-{uuid.uuid4().hex[:8]}", definition=FAIL, roleArn=ROLE,
                                   type="EXPRESS")["stateMachineArn"]
    before = scrape(server)
    for _ in range(3):
        assert sfn.start_sync_execution(stateMachineArn=ok)["status"] == "SUCCEEDED"
    for _ in range(2):
        assert sfn.start_sync_execution(stateMachineArn=bad)["status"] == "FAILED"
    sfn.start_execution(stateMachineArn=ok)
    assert raw_post(server.port, b"{}", target="AWSStepFunctions.NoSuchThing")[0] == 400
    after = scrape(server)

    assert delta(before, after, "express_engine_api_requests_total", operation="StartSyncExecution", code="200") == 5
    assert delta(before, after, "express_engine_api_requests_total", operation="StartExecution", code="200") == 1
    assert delta(before, after, "express_engine_api_requests_total", operation="unknown", code="400") == 1
    assert delta(before, after, "express_engine_api_starts_accepted_total", operation="StartSyncExecution") == 5
    assert delta(before, after, "express_engine_api_sync_executions_total", status="SUCCEEDED") == 3
    assert delta(before, after, "express_engine_api_sync_executions_total", status="FAILED") == 2
    assert delta(before, after, "express_engine_api_start_duration_seconds_count",
                 operation="StartSyncExecution") == 5
    assert delta(before, after, "express_engine_executions_started_total") == 6
    assert after[("express_engine_api_requests_in_flight", ())] == 0
    if ("express_engine_redis_up", ()) in after:  # over Redis: cluster-wide figures (worker stats lag)
        assert after[("express_engine_redis_up", ())] == 1
        assert after[("express_engine_workers", ())] >= 1
        assert ("express_engine_stream_lag", ()) in after
    else:  # in process: the executions are this process's own
        assert delta(before, after, "express_engine_executions_succeeded_total") == 3
        assert delta(before, after, "express_engine_executions_failed_total") == 2
        assert delta(before, after, "express_engine_execution_duration_seconds_count") == 5


def test_metrics_need_no_signature(auth_server: StepFunctionsServer) -> None:
    samples = scrape(auth_server)  # Prometheus cannot sign SigV4 requests
    assert ("express_engine_api_requests_in_flight", ()) in samples
    status, body, _ = raw_post(auth_server.port, b"{}")  # operations still need a signature
    assert status == 400 and body["__type"] == "UnrecognizedClientException"


def test_sync_status_is_read_from_a_passed_through_response() -> None:
    from express_engine.api.metrics import _sync_status

    tricky = b'{"input":"{\\"status\\":\\"FAILED\\"}","status":"SUCCEEDED","output":"{}"}'
    assert _sync_status(tricky) == "SUCCEEDED"
    assert _sync_status({"status": "TIMED_OUT"}) == "TIMED_OUT"
    assert _sync_status(b'{"executionArn":"x"}') is None and _sync_status({"status": 1}) is None

