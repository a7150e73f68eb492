"""Publish from a workflow to Redis streams: the self-hosted stand-in for SNS / SQS / EventBridge.

* ``arn:aws:states:::redis:xadd`` - ``{Stream, Message, MaxLen?}``; appends one entry whose ``message``
  field is the Message as JSON text (a string Message is written as is). Result: ``{MessageId, Stream}``
  where MessageId is the stream entry id.
* ``arn:aws:states:::sqs:sendMessage`` - ``{QueueUrl, MessageBody, ...}`` -> stream ``sqs:<queue name>``;
  result ``{MD5OfMessageBody, MessageId, SdkHttpMetadata, SdkResponseMetadata}`` as AWS's.
* ``arn:aws:states:::sns:publish`` - ``{TopicArn | TargetArn, Message, Subject?}`` -> stream
  ``sns:<topic name>``; result ``{MessageId, SdkHttpMetadata, SdkResponseMetadata}``.
* ``arn:aws:states:::events:putEvents`` - ``{Entries: [{Source, DetailType, Detail, EventBusName?}]}``
  -> stream ``events:<bus name>`` (``default``); result ``{Entries: [{EventId}], FailedEntryCount: 0}``.

An event entry also carries ``event-id`` (the EventId returned), ``time`` and, when given, ``resources``
(JSON): what :mod:`express_engine.service.rules` builds the EventBridge envelope from.

Every entry carries ``source`` (``redis``/``sqs``/``sns``/``events``) and ``message``; the aliases add
their extra fields (``subject``, ``detail-type``, ``event-source``, ``group-id``). Stream names get the
configured prefix.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .. import errors
from ..jsonutil import Json, dumps
from ..runtime.ids import new_uuid

XADD = "arn:aws:states:::redis:xadd"
SQS_SEND = "arn:aws:states:::sqs:sendMessage"
SNS_PUBLISH = "arn:aws:states:::sns:publish"
EVENTS_PUT = "arn:aws:states:::events:putEvents"
#: ``XADD`` first: it is installed even when the AWS-named aliases are not.
STREAM_RESOURCES = (XADD, SQS_SEND, SNS_PUBLISH, EVENTS_PUT)


def _runtime(message: str) -> errors.CustomError:
    return errors.CustomError("States.Runtime", message)


def _text(value: Json) -> str:
    return value if isinstance(value, str) else dumps(value)


def _metadata() -> dict[str, Json]:
    return {"SdkHttpMetadata": {"AllHttpHeaders": {}, "HttpHeaders": {}, "HttpStatusCode": 200},
            "SdkResponseMetadata": {"RequestId": new_uuid()}}


class StreamPublisher:
    """Handlers writing to Redis streams through one ``redis.asyncio.Redis`` client."""

    def __init__(self, redis: Any, *, prefix: str = "") -> None:
        self.redis = redis
        self.prefix = prefix

    async def _add(self, stream: str, fields: dict[str, str], maxlen: int | None = None) -> str:
        try:
            entry_id = await self.redis.xadd(self.prefix + stream, fields, maxlen=maxlen,
                                             approximate=maxlen is not None)
        except Exception as exc:  # any Redis failure is a task failure the workflow may retry
            raise errors.CustomError("Redis.ConnectionError", f"Cannot publish to stream '{stream}': {exc}") from None
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    def handler(self, arn: str) -> Callable[[Json, Any], Awaitable[Json]]:
        """The handler for one of :data:`STREAM_RESOURCES`."""
        return {XADD: self.xadd, SQS_SEND: self.sqs_send, SNS_PUBLISH: self.sns_publish,
                EVENTS_PUT: self.put_events}[arn]

    async def xadd(self, params: Json, context: Any) -> Json:
        """``redis:xadd``."""
        if not isinstance(params, Mapping) or not isinstance(params.get("Stream"), str) or not params["Stream"]:
            raise _runtime("The redis:xadd integration needs a Stream name")
        if "Message" not in params:
            raise _runtime("The redis:xadd integration needs a Message")
        maxlen = params.get("MaxLen")
        if maxlen is not None and (isinstance(maxlen, bool) or not isinstance(maxlen, int) or maxlen <= 0):
            raise _runtime("MaxLen must be a positive integer")
        entry_id = await self._add(params["Stream"], {"source": "redis", "message": _text(params["Message"])},
                                   maxlen)
        return {"MessageId": entry_id, "Stream": params["Stream"]}

    async def sqs_send(self, params: Json, context: Any) -> Json:
        """``sqs:sendMessage``: the queue is the last segment of QueueUrl."""
        if not isinstance(params, Mapping) or not isinstance(params.get("QueueUrl"), str):
            raise _runtime("The sqs:sendMessage integration needs a QueueUrl")
        if "MessageBody" not in params:
            raise _runtime("The sqs:sendMessage integration needs a MessageBody")
        body = _text(params["MessageBody"])
        queue = params["QueueUrl"].rstrip("/").rsplit("/", 1)[-1]
        fields = {"source": "sqs", "message": body}
        if isinstance(params.get("MessageGroupId"), str):
            fields["group-id"] = params["MessageGroupId"]
        await self._add(f"sqs:{queue}", fields)
        return {"MD5OfMessageBody": hashlib.md5(body.encode()).hexdigest(), "MessageId": new_uuid(),
                **_metadata()}

    async def sns_publish(self, params: Json, context: Any) -> Json:
        """``sns:publish``: the stream is named after the topic (last segment of the ARN)."""
        target = (params.get("TopicArn") or params.get("TargetArn")) if isinstance(params, Mapping) else None
        if not isinstance(target, str):
            raise _runtime("The sns:publish integration needs a TopicArn or TargetArn")
        if "Message" not in params:
            raise _runtime("The sns:publish integration needs a Message")
        fields = {"source": "sns", "message": _text(params["Message"])}
        if isinstance(params.get("Subject"), str):
            fields["subject"] = params["Subject"]
        await self._add(f"sns:{target.rsplit(':', 1)[-1]}", fields)
        return {"MessageId": new_uuid(), **_metadata()}

    async def put_events(self, params: Json, context: Any) -> Json:
        """``events:putEvents``: one stream entry per event, in stream ``events:<bus>``."""
        entries = params.get("Entries") if isinstance(params, Mapping) else None
        if not isinstance(entries, list) or not entries:
            raise _runtime("The events:putEvents integration needs a non-empty Entries list")
        out = []
        for entry in entries:
            if not isinstance(entry, Mapping):
                raise _runtime("Each putEvents entry must be a JSON object")
            bus, fields = event_fields(entry)
            await self._add(f"events:{bus}", fields)
            out.append({"EventId": fields["event-id"]})
        return {"Entries": out, "FailedEntryCount": 0}


def event_fields(entry: Mapping[str, Json]) -> tuple[str, dict[str, str]]:
    """The bus and the stream entry of one PutEvents entry (``Source``, ``DetailType``, ``Detail``,
    ``Resources``, ``Time``, ``EventBusName``); the entry carries a new ``event-id`` and the event time.
    """
    bus = entry.get("EventBusName") or "default"
    bus = bus.rsplit("/", 1)[-1] if isinstance(bus, str) else "default"
    fields = {"source": "events", "message": _text(entry.get("Detail", {})),
              "detail-type": _text(entry.get("DetailType", "")),
              "event-source": _text(entry.get("Source", "")),
              "event-id": new_uuid(),
              "time": entry["Time"] if isinstance(entry.get("Time"), str) else time.strftime(
                  "%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if isinstance(entry.get("Resources"), list):
        fields["resources"] = dumps(entry["Resources"])
    return bus, fields
