"""Runs the media job in process: bounded parallel transcoding, ordered concatenation, retry and clean-up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio

from examples.media_split import handlers
from express_engine import Engine

HERE = Path(__file__).parent
DEFINITION = (HERE / "media_split.asl.json").read_text()
INPUT = json.loads((HERE / "input.json").read_text())


class Transcoder:
    """The example's transcoder, instrumented: counts calls, tracks peak concurrency, can fail segments."""

    def __init__(self, failures: dict[int, list[Exception]] | None = None) -> None:
        self.failures = failures or {}
        self.calls = 0
        self.in_flight = 0
        self.peak = 0

    async def __call__(self, event: Any, context: Any) -> Any:
        self.calls += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            index = event["segment"]["index"]
            # Later segments finish first, so ordered output is not an accident of timing.
            await anyio.sleep(0.002 * (10 - index))
            pending = self.failures.get(index)
            if pending:
                raise pending.pop(0)
            return await handlers.transcode_segment(event, context)
        finally:
            self.in_flight -= 1


class Calls:
    """Wraps a handler and keeps every event it was called with."""

    def __init__(self, fn: Any) -> None:
        self.fn, self.events = fn, []

    def __call__(self, event: Any, context: Any) -> Any:
        self.events.append(event)
        return self.fn(event, context)


def make_engine(transcoder: Transcoder, **overrides: Any) -> Engine:
    """An engine serving the example's handlers with ``transcoder``; Retry waits are skipped."""
    engine = Engine(time_scale=0)
    functions = {"PlanSegments": handlers.plan_segments, "TranscodeSegment": transcoder,
                 "ConcatenateSegments": handlers.concatenate_segments, "CleanupParts": handlers.cleanup_parts,
                 **overrides}
    for name, fn in functions.items():
        engine.register_handler(name, fn)
    return engine


async def run(engine: Engine, value: Any) -> dict[str, Any]:
    record = engine.create_state_machine("MediaSplit", DEFINITION)
    response = await engine.start_sync_execution(record, json.dumps(value))
    if "output" in response:
        response["output"] = json.loads(response["output"])
    return response


async def test_segments_transcoded_three_at_a_time_and_concatenated_in_order() -> None:
    transcoder = Transcoder()
    concatenate = Calls(handlers.concatenate_segments)
    response = await run(make_engine(transcoder, ConcatenateSegments=concatenate), INPUT)
    assert response["status"] == "SUCCEEDED"
    assert response["output"] == {"jobId": "job-20240601-0042", "status": "COMPLETE",
                                  "output": "s3://media-out/talks/keynote-720p.mp4", "segments": 5,
                                  "durationSeconds": 250}
    assert transcoder.calls == 5
    assert transcoder.peak == 3  # MaxConcurrency
    [request] = concatenate.events
    assert request["parts"] == [f"s3://media-work/job-20240601-0042/part-{i:04d}-1280x720.ts"
                                for i in range(5)]


async def test_single_segment_still_concatenates_a_list() -> None:
    concatenate = Calls(handlers.concatenate_segments)
    value = {**INPUT, "source": {**INPUT["source"], "durationSeconds": 42}}
    response = await run(make_engine(Transcoder(), ConcatenateSegments=concatenate), value)
    assert response["output"]["segments"] == 1
    assert response["output"]["durationSeconds"] == 42
    assert concatenate.events[0]["parts"] == ["s3://media-work/job-20240601-0042/part-0000-1280x720.ts"]


async def test_busy_transcoder_is_retried() -> None:
    busy = handlers.TranscoderBusyError
    transcoder = Transcoder({1: [busy("no free slot"), busy("no free slot")]})
    response = await run(make_engine(transcoder), INPUT)
    assert response["status"] == "SUCCEEDED"
    assert transcoder.calls == 7


async def test_failed_segment_cleans_up_and_fails_the_job() -> None:
    cleanup = Calls(handlers.cleanup_parts)
    concatenate = Calls(handlers.concatenate_segments)
    transcoder = Transcoder({3: [ValueError("unsupported pixel format yuv444p10")]})
    engine = make_engine(transcoder, CleanupParts=cleanup, ConcatenateSegments=concatenate)
    response = await run(engine, INPUT)
    assert response["status"] == "FAILED"
    assert response["error"] == "MediaJobFailed"
    assert response["cause"] == ("job job-20240601-0042: a segment failed with ValueError; "
                                 "partial output removed")
    assert cleanup.events == [{"jobId": "job-20240601-0042"}]
    assert concatenate.events == []
