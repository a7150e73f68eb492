"""Runs the bucket synchronisation against an in-memory S3 and checks both buckets afterwards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from examples.bucket_sync.handlers import DEMO_BUCKETS, FakeS3
from express_engine import Engine

HERE = Path(__file__).parent
DEFINITION = (HERE / "bucket_sync.asl.json").read_text()
INPUT = json.loads((HERE / "input.json").read_text())


async def sync(s3: FakeS3, value: Any = INPUT) -> dict[str, Any]:
    """Run one synchronisation against ``s3``; returns the response with ``output`` parsed."""
    engine = Engine(time_scale=0)
    for arn, fn in s3.handlers().items():
        engine.register_handler(arn, fn)
    record = engine.create_state_machine("BucketSync", DEFINITION)
    response = await engine.start_sync_execution(record, json.dumps(value))
    if "output" in response:
        response["output"] = json.loads(response["output"])
    return response


async def test_copies_missing_and_changed_objects_and_deletes_extras() -> None:
    s3 = FakeS3(DEMO_BUCKETS)
    response = await sync(s3)
    assert response["status"] == "SUCCEEDED"
    assert response["output"]["sync"] == {
        "copied": ["2024/01/hike.jpg", "2024/02/city.jpg", "albums.json"],
        "unchanged": ["2024/01/beach.jpg"],
        "deleted": ["tmp/export-2023.zip"],
    }
    assert s3.buckets["photos-backup"] == s3.buckets["photos-primary"] == DEMO_BUCKETS["photos-primary"]


async def test_second_run_finds_nothing_to_do() -> None:
    s3 = FakeS3(DEMO_BUCKETS)
    await sync(s3)
    response = await sync(s3)
    assert response["output"]["sync"] == {"copied": [], "deleted": [],
                                          "unchanged": sorted(DEMO_BUCKETS["photos-primary"])}


async def test_empty_destination_takes_the_no_listing_path() -> None:
    s3 = FakeS3({"photos-primary": DEMO_BUCKETS["photos-primary"], "photos-backup": {}})
    response = await sync(s3)
    assert response["status"] == "SUCCEEDED"
    assert response["output"]["sync"]["copied"] == sorted(DEMO_BUCKETS["photos-primary"])
    assert response["output"]["sync"]["deleted"] == []
    assert s3.buckets["photos-backup"] == DEMO_BUCKETS["photos-primary"]


async def test_empty_source_empties_the_destination() -> None:
    s3 = FakeS3({"photos-primary": {}, "photos-backup": DEMO_BUCKETS["photos-backup"]})
    response = await sync(s3)
    assert response["output"]["sync"] == {"copied": [], "unchanged": [],
                                          "deleted": sorted(DEMO_BUCKETS["photos-backup"])}
    assert s3.buckets["photos-backup"] == {}


async def test_missing_destination_bucket_fails_the_execution() -> None:
    s3 = FakeS3({"photos-primary": DEMO_BUCKETS["photos-primary"]})
    response = await sync(s3)
    assert response["status"] == "FAILED"
    assert response["error"] == "S3.NoSuchBucketException"
    assert response["cause"].startswith("The specified bucket does not exist (Service: S3, Status Code: 404")
