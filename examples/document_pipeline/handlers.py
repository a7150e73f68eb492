"""Local stand-ins for the document pipeline's Lambda functions (text analysis and image work).

The image handlers compute what a real implementation would produce (sizes, object keys) without
touching pixels.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

THUMBNAIL_WIDTH = 320
MAX_IMAGE_BYTES = 20 * 1024 * 1024
_TOPICS = {"energy": {"heat", "pumps", "gas", "boiler", "heating"}, "sensors": {"sensors", "humidity"},
           "finance": {"cost", "costs", "pay", "budget"}, "schedule": {"timeline", "weeks", "spring"}}


class ImageTooLargeError(Exception):
    """The image exceeds what the thumbnailer accepts; the pipeline skips it."""


class CorruptImageError(Exception):
    """The image cannot be decoded; the whole document fails."""


def extract_text(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Split the document text into headings and words; estimate the reading time."""
    text = event["text"]
    headings = [line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("#")]
    words = re.findall(r"[a-z']+", text.lower())
    return {"documentId": event["documentId"], "headings": headings, "wordCount": len(words),
            "readingMinutes": max(1, round(len(words) / 200)), "words": words}


def classify_text(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Tag the text with the topics its words mention most."""
    counts = Counter(event["words"])
    scores = {topic: sum(counts[w] for w in vocabulary) for topic, vocabulary in _TOPICS.items()}
    return {"topics": sorted((t for t, s in scores.items() if s), key=lambda t: (-scores[t], t))}


def rasterize_vector(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Render an SVG to PNG at its nominal size; returns the new image description."""
    image = event["image"]
    return {**image, "format": "png", "sizeBytes": image["width"] * image["height"] * 4 // 10,
            "rasterizedFrom": "svg"}


def generate_thumbnail(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Make a fixed-width thumbnail; returns where it was stored."""
    image = event["image"]
    if image["width"] <= 0 or image["height"] <= 0:
        raise CorruptImageError(f"image {image['id']} has no pixels ({image['width']}x{image['height']})")
    if image["sizeBytes"] > MAX_IMAGE_BYTES:
        raise ImageTooLargeError(f"image {image['id']} is {image['sizeBytes']} bytes")
    height = round(image["height"] * THUMBNAIL_WIDTH / image["width"])
    return {"id": image["id"], "status": "THUMBNAIL", "position": event["position"],
            "thumbnail": f"thumbnails/{event['documentId']}/{image['id']}-{THUMBNAIL_WIDTH}.jpg",
            "size": [THUMBNAIL_WIDTH, height]}


def assemble_document(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Build the searchable document record from the text and image results."""
    text, images = event["text"], event["images"]
    return {
        "documentId": event["documentId"],
        "title": event["title"],
        "status": "READY",
        "headings": text["headings"],
        "wordCount": text["wordCount"],
        "readingMinutes": text["readingMinutes"],
        "topics": text["classification"]["topics"],
        "thumbnails": [i["thumbnail"] for i in images if i["status"] == "THUMBNAIL"],
        "skippedImages": {i["id"]: i["reason"] for i in images if i["status"] != "THUMBNAIL"},
    }


def record_failure(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Mark the document as failed in the catalogue (here: acknowledge it)."""
    return {"documentId": event["documentId"], "status": "FAILED", "error": event["error"]["Error"]}
