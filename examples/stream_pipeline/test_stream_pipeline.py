"""Runs the streaming pipeline in process: a good batch is published, a bad one quarantined and failed."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from examples.stream_pipeline import handlers
from express_engine import Engine
from express_engine.errors import CustomError

HERE = Path(__file__).parent
DEFINITION = (HERE / "stream_pipeline.asl.json").read_text()
INPUT = json.loads((HERE / "input.json").read_text())
SEQ = [r["sequenceNumber"] for r in INPUT["records"]]


class Recorder:
    """Wraps a handler and keeps every event it was called with."""

    def __init__(self, fn: Any) -> None:
        self.fn, self.events = fn, []

    def __call__(self, event: Any, context: Any) -> Any:
        self.events.append(event)
        return self.fn(event, context)


def make_engine(**overrides: Any) -> Engine:
    """An engine serving the example's handlers (``overrides`` replace some); Retry waits are skipped."""
    engine = Engine(time_scale=0)
    functions = {"ValidateBatch": handlers.validate_batch, "QuarantineBatch": handlers.quarantine_batch,
                 "ProcessRecord": handlers.process_record, "NormalizeRecord": handlers.normalize_record,
                 "PublishRecords": handlers.publish_records, **overrides}
    for name, fn in functions.items():
        engine.register_handler(name, fn)
    return engine


async def run(engine: Engine, value: Any) -> dict[str, Any]:
    record = engine.create_state_machine("StreamPipeline", DEFINITION)
    response = await engine.start_sync_execution(record, json.dumps(value))
    if "output" in response:
        response["output"] = json.loads(response["output"])
    return response


async def test_valid_records_are_processed_normalised_and_published() -> None:
    publish = Recorder(handlers.publish_records)
    response = await run(make_engine(PublishRecords=publish), INPUT)
    assert response["status"] == "SUCCEEDED"
    assert response["output"] == {
        "batchId": "shard-0003-000000041", "topic": "readings.normalized", "published": 3,
        "keys": ["greenhouse-1/th-101", "greenhouse-1/th-102", "greenhouse-2/th-201"],
        "dropped": [], "rejected": [SEQ[3]],
    }
    [published] = publish.events
    assert [(r["temperatureC"], r["relativeHumidity"], r["epochMillis"]) for r in published["records"]] == [
        (21.7, 0.43, 1717243200000), (21.5, 0.47, 1717243201000), (23.2, 0.55, 1717243201000)]


async def test_unknown_sensor_is_dropped_not_fatal() -> None:
    value = copy.deepcopy(INPUT)
    value["records"][1]["data"]["sensorId"] = "th-999"
    response = await run(make_engine(), value)
    assert response["status"] == "SUCCEEDED"
    assert response["output"]["published"] == 2
    assert response["output"]["dropped"] == [SEQ[1]]


async def test_throttled_processing_is_retried() -> None:
    calls = {"n": 0}

    def throttled(event: Any, context: Any) -> Any:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise CustomError("Lambda.TooManyRequestsException", "Rate Exceeded.")
        return handlers.process_record(event, context)

    response = await run(make_engine(ProcessRecord=throttled), INPUT)
    assert response["status"] == "SUCCEEDED"
    assert response["output"]["published"] == 3
    assert calls["n"] == 5  # three records, two of the calls throttled


async def test_mostly_invalid_batch_is_quarantined_and_fails() -> None:
    value = copy.deepcopy(INPUT)
    for record in value["records"][:2]:
        del record["data"]["temperature"]
    quarantine = Recorder(handlers.quarantine_batch)
    response = await run(make_engine(QuarantineBatch=quarantine), value)
    assert response["status"] == "FAILED"
    assert response["error"] == "InvalidBatch"
    assert response["cause"] == "Batch shard-0003-000000041 rejected: 3 of 4 records are invalid"
    assert [r["sequenceNumber"] for r in quarantine.events[0]["rejected"]] == [SEQ[0], SEQ[1], SEQ[3]]
