"""Local stand-ins for the media job's Lambda functions.

Transcoding is simulated: a segment's output is described (where it would be written, how long it is)
after a short asynchronous pause, so the Map's concurrency limit is observable.
"""

from __future__ import annotations

import math
from typing import Any

import anyio

#: Seconds the simulated transcoder takes per segment (real time, not scaled by the engine).
TRANSCODE_SECONDS = 0.01


class TranscoderBusyError(Exception):
    """Every transcoder slot is taken; the workflow retries with backoff."""


def plan_segments(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Cut the source into ``segmentSeconds``-long segments (the last one shorter)."""
    duration, length = event["source"]["durationSeconds"], event["segmentSeconds"]
    if duration <= 0 or length <= 0:
        raise ValueError("durationSeconds and segmentSeconds must be positive")
    return {"segments": [{"index": i, "source": event["source"]["uri"], "start": i * length,
                          "end": min((i + 1) * length, duration)}
                         for i in range(math.ceil(duration / length))]}


async def transcode_segment(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Transcode one segment with the job's profile; returns the part's location and length."""
    segment, profile = event["segment"], event["profile"]
    await anyio.sleep(TRANSCODE_SECONDS)
    return {"index": segment["index"], "durationSeconds": segment["end"] - segment["start"],
            "uri": f"s3://media-work/{event['jobId']}/part-{segment['index']:04d}-{profile['resolution']}.ts"}


def concatenate_segments(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Join the parts, in the order given, into the destination file."""
    if not event["parts"]:
        raise ValueError("nothing to concatenate")
    return {"uri": event["destination"], "parts": len(event["parts"])}


def cleanup_parts(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Delete the job's partial output."""
    return {"deletedPrefix": f"s3://media-work/{event['jobId']}/"}
