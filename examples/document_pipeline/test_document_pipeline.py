"""Runs the document pipeline in process: images routed by type, oversized skipped, corrupt ones fatal."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from examples.document_pipeline import handlers
from express_engine import Engine

HERE = Path(__file__).parent
DEFINITION = (HERE / "document_pipeline.asl.json").read_text()
INPUT = json.loads((HERE / "input.json").read_text())


def make_engine(**overrides: Any) -> Engine:
    """An engine serving the example's handlers (``overrides`` replace some)."""
    engine = Engine(time_scale=0)
    functions = {"ExtractText": handlers.extract_text, "ClassifyText": handlers.classify_text,
                 "RasterizeVector": handlers.rasterize_vector,
                 "GenerateThumbnail": handlers.generate_thumbnail,
                 "AssembleDocument": handlers.assemble_document,
                 "RecordFailure": handlers.record_failure, **overrides}
    for name, fn in functions.items():
        engine.register_handler(name, fn)
    return engine


async def run(engine: Engine, value: Any) -> dict[str, Any]:
    record = engine.create_state_machine("DocumentPipeline", DEFINITION)
    response = await engine.start_sync_execution(record, json.dumps(value))
    if "output" in response:
        response["output"] = json.loads(response["output"])
    return response


async def test_text_is_analysed_and_images_routed_by_type() -> None:
    rasterized: list[str] = []

    def rasterize(event: Any, context: Any) -> Any:
        rasterized.append(event["image"]["id"])
        return handlers.rasterize_vector(event, context)

    response = await run(make_engine(RasterizeVector=rasterize), INPUT)
    assert response["status"] == "SUCCEEDED"
    assert response["output"] == {
        "documentId": "doc-7f3a",
        "title": "Greenhouse retrofit proposal",
        "status": "READY",
        "headings": ["Summary", "Costs", "Timeline"],
        "wordCount": 42,
        "readingMinutes": 1,
        "topics": ["energy", "finance", "schedule", "sensors"],
        "thumbnails": ["thumbnails/doc-7f3a/img-1-320.jpg", "thumbnails/doc-7f3a/img-2-320.jpg",
                       "thumbnails/doc-7f3a/img-3-320.jpg"],
        "skippedImages": {"img-4": "unsupported image format heic"},
    }
    assert rasterized == ["img-2"]  # only the SVG takes the vector route


async def test_oversized_image_is_caught_per_item() -> None:
    value = copy.deepcopy(INPUT)
    value["images"][0]["sizeBytes"] = 64 * 1024 * 1024
    response = await run(make_engine(), value)
    assert response["status"] == "SUCCEEDED"
    assert response["output"]["skippedImages"] == {"img-1": "ImageTooLargeError",
                                                   "img-4": "unsupported image format heic"}
    assert len(response["output"]["thumbnails"]) == 2


async def test_document_without_images() -> None:
    response = await run(make_engine(), {**INPUT, "images": []})
    assert response["status"] == "SUCCEEDED"
    assert response["output"]["thumbnails"] == []
    assert response["output"]["skippedImages"] == {}


async def test_corrupt_image_is_recorded_and_fails_the_document() -> None:
    failures: list[Any] = []
    value = copy.deepcopy(INPUT)
    value["images"][2]["width"] = 0

    def record(event: Any, context: Any) -> Any:
        failures.append(event)
        return handlers.record_failure(event, context)

    response = await run(make_engine(RecordFailure=record), value)
    assert response["status"] == "FAILED"
    assert response["error"] == "CorruptImageError"
    assert json.loads(response["cause"])["errorMessage"] == "image img-3 has no pixels (0x1080)"
    assert [(f["documentId"], f["error"]["Error"]) for f in failures] == [("doc-7f3a", "CorruptImageError")]
