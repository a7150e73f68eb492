"""Local stand-ins for the streaming pipeline's Lambda functions.

``SENSORS`` plays the sensor registry the processing step enriches readings from; ``PublishRecords``
returns what it would have written to the downstream topic instead of writing it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

#: Sensor id -> where it is and its calibration offset (degrees Celsius).
SENSORS: dict[str, dict[str, Any]] = {
    "th-101": {"site": "greenhouse-1", "offsetC": -0.3},
    "th-102": {"site": "greenhouse-1", "offsetC": 0.0},
    "th-201": {"site": "greenhouse-2", "offsetC": 0.2},
    "th-202": {"site": "greenhouse-2", "offsetC": 0.0},
}
_TO_CELSIUS = {"C": lambda v: v, "F": lambda v: (v - 32) * 5 / 9, "K": lambda v: v - 273.15}


class UnknownSensorError(Exception):
    """The reading comes from a sensor the registry does not know; the pipeline drops it."""


def _problem(record: dict[str, Any]) -> str | None:
    data = record.get("data")
    if not isinstance(data, dict) or not record.get("sequenceNumber"):
        return "not a sensor reading"
    if not data.get("sensorId"):
        return "sensorId is missing"
    try:
        datetime.fromisoformat(str(data.get("timestamp")).replace("Z", "+00:00"))
    except ValueError:
        return f"timestamp {data.get('timestamp')!r} is not ISO 8601"
    temperature = data.get("temperature") or {}
    if not isinstance(temperature.get("value"), int | float) or temperature.get("unit") not in _TO_CELSIUS:
        return "temperature needs a numeric value and a unit of C, F or K"
    return None


def validate_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Split the batch into accepted and rejected records; the batch is valid when most records are."""
    accepted, rejected = [], []
    for record in event["records"]:
        problem = _problem(record)
        if problem is None:
            accepted.append(record)
        else:
            rejected.append({"sequenceNumber": record.get("sequenceNumber"), "reason": problem})
    return {"valid": len(accepted) > len(rejected), "accepted": accepted, "rejected": rejected}


def quarantine_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Park a rejected batch for inspection (here: just acknowledge it)."""
    return {"quarantined": event["batchId"], "records": len(event["rejected"])}


def process_record(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Enrich a reading with its sensor's site and calibrated Celsius temperature."""
    record = event["record"]
    data = record["data"]
    sensor = SENSORS.get(data["sensorId"])
    if sensor is None:
        raise UnknownSensorError(f"sensor {data['sensorId']} is not registered")
    temperature = _TO_CELSIUS[data["temperature"]["unit"]](data["temperature"]["value"]) + sensor["offsetC"]
    return {"stream": event["stream"], "sequenceNumber": record["sequenceNumber"],
            "sensorId": data["sensorId"], "site": sensor["site"], "timestamp": data["timestamp"],
            "temperatureC": temperature, "humidity": data.get("humidity")}


def normalize_record(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Bring a processed reading to the published schema: epoch milliseconds, rounded values, ratios."""
    when = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
    humidity = event["humidity"]
    return {
        "dropped": False,
        "sequenceNumber": event["sequenceNumber"],
        "key": f"{event['site']}/{event['sensorId']}",
        "epochMillis": int(when.timestamp() * 1000),
        "temperatureC": round(event["temperatureC"], 1),
        "relativeHumidity": None if humidity is None else round(humidity / 100, 2),
    }


def publish_records(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Publish the clean readings downstream; returns the publication summary."""
    return {"batchId": event["batchId"], "topic": "readings.normalized", "published": len(event["records"]),
            "keys": [r["key"] for r in event["records"]], "dropped": event["dropped"],
            "rejected": event["rejected"]}
