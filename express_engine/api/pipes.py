"""The EventBridge Pipes operations of the HTTP API (REST-JSON under ``/v1/pipes``): stream event sources.

A pipe is an event source (:mod:`express_engine.service.event_sources`) of the namespace, and every
event source is listed as a pipe. Requests and answers follow botocore's ``pipes`` service model:

* ``Source`` names the Redis stream as a Kinesis stream ARN, ``arn:aws:kinesis:REGION:ACCOUNT:stream/NAME``
  -> the stream ``NAME`` (anything after ``stream/``, ``:`` included; any region and account).
* ``Target`` is a state machine ARN; ``TargetParameters.StepFunctionStateMachineParameters.InvocationType``
  ``REQUEST_RESPONSE`` (the default) runs each execution to its end (retries, dead letters: the source's
  ``wait`` mode), ``FIRE_AND_FORGET`` acknowledges once started (``async``). As Pipes give Step Functions,
  the input is always the list of the batch's records, even of one; ``TargetParameters.InputTemplate``
  shapes each record (``<$.data.x>`` placeholders, :mod:`express_engine.service.input_templates`).
* ``SourceParameters.KinesisStreamParameters``: ``StartingPosition`` (``TRIM_HORIZON``, ``LATEST`` or
  ``AT_TIMESTAMP`` with ``StartingPositionTimestamp``), ``BatchSize`` (default 100),
  ``MaximumBatchingWindowInSeconds``, ``MaximumRetryAttempts`` (default -1: retried until it succeeds),
  ``DeadLetterConfig.Arn`` (another stream, as a Kinesis stream ARN; default ``NS:source-dead:NAME``).
  ``SourceParameters.FilterCriteria.Filters[].Pattern``: a record is kept when it matches any of them.
* The tag ``express-engine:json-field`` names an entry field holding JSON, parsed as the record's ``data``.

Errors: ``ValidationException`` (400), ``NotFoundException`` (404), ``ConflictException`` (409).
"""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .. import service_errors as api
from ..jsonutil import Json, dumps, loads
from .operations import Checker, _decode_token, _encode_token

PATH_PREFIX = "/v1/pipes"
JSON_FIELD_TAG = "express-engine:json-field"
DEFAULT_BATCH_SIZE = 100
MAX_RETRY_ATTEMPTS = 10_000


def _error(code: str, status: int) -> type[api.ServiceError]:
    return type(code, (api.ServiceError,), {"code": code, "status": status, "__doc__": f"Pipes ``{code}``."})


NotFoundException = _error("NotFoundException", 404)
ConflictException = _error("ConflictException", 409)
PipesValidationException = _error("ValidationException", 400)

_NAME_RE = re.compile(r"[.\-_A-Za-z0-9]{1,64}")
_ROLE_RE = re.compile(r"arn:(aws[a-zA-Z-]*)?:iam::\d+:role/?[a-zA-Z0-9+=,.@\-_/]+")
_STREAM_ARN_RE = re.compile(r"arn:aws[a-zA-Z-]*:kinesis:[a-z0-9-]*:\d*:stream/(?P<name>.+)", re.S)
_STATE_MACHINE_RE = re.compile(r"arn:aws[a-zA-Z-]*:states:[a-z0-9-]+:\d+:stateMachine:[^:]+")
_SOURCE_KINDS = ("FilterCriteria", "KinesisStreamParameters")
_KINESIS_SUPPORTED = frozenset({"BatchSize", "MaximumBatchingWindowInSeconds", "StartingPosition",
                                "StartingPositionTimestamp", "MaximumRetryAttempts", "DeadLetterConfig",
                                "ParallelizationFactor", "MaximumRecordAgeInSeconds"})


def _fail(message: str) -> api.ServiceError:
    return PipesValidationException(message)


def stream_of(arn: str, what: str = "Source") -> str:
    """The Redis stream a Kinesis stream ARN names (ValidationException for anything else)."""
    m = _STREAM_ARN_RE.fullmatch(arn)
    if m is None:
        raise _fail(f"{what} '{arn}' is not supported: express-engine pipes read Redis streams, named as Kinesis "
                    "stream ARNs (arn:aws:kinesis:REGION:ACCOUNT:stream/STREAM)")
    return m["name"]


def _filter(filters: list[Any]) -> str | None:
    """One event pattern for the pipe's filters (a record passes when it matches any)."""
    patterns = []
    for f in filters:
        pattern = f.get("Pattern") if isinstance(f, dict) else None
        if not isinstance(pattern, str):
            raise api.SerializationException("Expected an object {\"Pattern\": string} in 'FilterCriteria.Filters'")
        try:
            patterns.append(loads(pattern))
        except ValueError:
            raise _fail(f"Invalid filter pattern (not JSON): {pattern}") from None
    if not patterns:
        return None
    return dumps(patterns[0] if len(patterns) == 1 else {"$or": patterns})


#: names of event sources made with the CLI or the Python API (a pipe's own names are stricter)
_SOURCE_NAME_RE = re.compile(r"[.\-_:A-Za-z0-9]{1,256}")


def _path_name(name: str, *, new: bool) -> str:
    if not (_NAME_RE if new else _SOURCE_NAME_RE).fullmatch(name):
        raise _fail(f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must "
                    "satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+")
    return name


class PipesOperations:
    """The Pipes operations over one namespace's event sources."""

    def __init__(self, sources: Any, *, region: str, account: str) -> None:
        self.sources = sources
        self.region = region
        self.account = account

    def arn(self, name: str) -> str:
        """A pipe's ARN."""
        return f"arn:aws:pipes:{self.region}:{self.account}:pipe/{name}"

    def stream_arn(self, stream: str) -> str:
        """A Redis stream as a Kinesis stream ARN."""
        return f"arn:aws:kinesis:{self.region}:{self.account}:stream/{stream}"

    def route(self, method: str, path: str) -> tuple[str, str | None] | None:
        """The operation (and pipe name) a request is for; None for a path this API does not serve."""
        rest = path[len(PATH_PREFIX):]
        if rest in ("", "/"):
            return ("ListPipes", None) if method == "GET" else None
        parts = rest[1:].split("/")
        if len(parts) == 1:
            op = {"POST": "CreatePipe", "GET": "DescribePipe", "DELETE": "DeletePipe", "PUT": "UpdatePipe"}.get(method)
        elif len(parts) == 2 and method == "POST":
            op = {"start": "StartPipe", "stop": "StopPipe"}.get(parts[1])
        else:
            op = None
        return (op, urllib.parse.unquote(parts[0])) if op else None

    async def call(self, op: str, name: str | None, query: Mapping[str, str], body: dict[str, Any]) -> dict[str, Json]:
        """Run one operation, its service errors turned into the Pipes ones."""
        try:
            if op == "ListPipes":
                return await self.list_pipes(query)
            assert name is not None
            _path_name(name, new=op == "CreatePipe")
            if op == "CreatePipe":
                return await self.create_pipe(name, body)
            if op == "UpdatePipe":
                return await self.update_pipe(name, body)
            if op == "DescribePipe":
                return self.describe(await self._get(name))
            if op == "DeletePipe":
                source = await self._get(name)
                await self.sources.delete(name)
                return {**self._summary(source), "DesiredState": "DELETED", "CurrentState": "DELETING",
                        "LastModifiedTime": round(time.time(), 3)}
            return await self._set_running(name, op == "StartPipe")
        except (NotFoundException, ConflictException, PipesValidationException, api.SerializationException):
            raise
        except api.ResourceNotFound as exc:
            raise NotFoundException(exc.message) from None
        except api.ServiceError as exc:
            if exc.code == "ConflictException":
                raise ConflictException(exc.message) from None
            raise _fail(exc.message) from None

    async def _get(self, name: str) -> Any:
        try:
            source = await self.sources.get(name)
        except api.ResourceNotFound:
            source = None
        if source is None or source.kind != "stream":
            raise NotFoundException(f"Pipe {name} does not exist.")
        return source

    # -- create / update -------------------------------------------------------------------------------------

    def _source(self, name: str, body: dict[str, Any], old: Any = None) -> Any:
        """The event source of a CreatePipe (or, with ``old``, UpdatePipe) request."""
        from ..service.event_sources import EventSource

        c = Checker(body)
        description = c.string("Description", min_len=0, max_len=512)
        desired = c.enum("DesiredState", ("RUNNING", "STOPPED"), "RUNNING")
        source_arn = c.string("Source", required=old is None, max_len=1600)
        target = c.string("Target", required=old is None, max_len=1600)
        role = c.string("RoleArn", required=True, max_len=1600)
        sp = c.structure("SourceParameters")
        tp = c.structure("TargetParameters")
        tags = c.obj("Tags")
        enrichment = c.string("Enrichment", min_len=0, max_len=1600)
        log_config = c.obj("LogConfiguration")
        kms = c.string("KmsKeyIdentifier", min_len=0, max_len=2048)
        kinesis = sp.structure("KinesisStreamParameters") if sp is not None else None
        filters = None
        if sp is not None:
            criteria = sp.structure("FilterCriteria")
            filters = criteria.array("Filters") if criteria is not None else None
            if filters is not None and len(filters) > 5:
                criteria.fail("Filters", filters, "Member must have length less than or equal to 5")  # type: ignore[union-attr]
        if kinesis is not None:
            if old is None:
                kinesis.enum("StartingPosition", ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"), required=True)
            kinesis.integer("BatchSize", lo=1, hi=10_000)
            kinesis.integer("MaximumBatchingWindowInSeconds", lo=0, hi=300)
            kinesis.integer("MaximumRetryAttempts", lo=-1, hi=MAX_RETRY_ATTEMPTS)
            kinesis.integer("ParallelizationFactor", lo=1, hi=10)
            kinesis.integer("MaximumRecordAgeInSeconds", lo=-1, hi=604_800)
            dlq = kinesis.structure("DeadLetterConfig")
            if dlq is not None:
                dlq.string("Arn", max_len=1600)
        template = invocation = None
        if tp is not None:
            template = tp.string("InputTemplate", min_len=0, max_len=8192)
            sfn = tp.structure("StepFunctionStateMachineParameters")
            if sfn is not None:
                invocation = sfn.enum("InvocationType", ("REQUEST_RESPONSE", "FIRE_AND_FORGET"))
        c.done()
        assert role is not None
        if not _ROLE_RE.fullmatch(role):
            raise _fail(f"1 validation error detected: Value '{role}' at 'roleArn' failed to satisfy constraint: "
                        "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?"
                        "[a-zA-Z0-9+=,.@\\-_/]+")
        if enrichment or body.get("EnrichmentParameters"):
            raise _fail("Enrichment is not supported by express-engine: shape records with "
                        "TargetParameters.InputTemplate, or enrich in the state machine")
        if kms:
            raise _fail("KmsKeyIdentifier is not supported by express-engine")
        if log_config is not None and log_config.get("Level", "OFF") != "OFF":
            raise _fail("LogConfiguration is not supported by express-engine (executions log through the state "
                        "machine's loggingConfiguration)")
        if sp is not None:
            other = sorted(set(sp.body) - set(_SOURCE_KINDS))
            if other:
                raise _fail(f"SourceParameters.{other[0]} is not supported: express-engine pipes read Redis streams "
                            "(give KinesisStreamParameters)")
        if tp is not None:
            other = sorted(set(tp.body) - {"InputTemplate", "StepFunctionStateMachineParameters"})
            if other:
                raise _fail(f"TargetParameters.{other[0]} is not supported: the target is a Step Functions state "
                            "machine")
        k: dict[str, Any] = dict(kinesis.body) if kinesis is not None else {}
        unsupported = sorted(set(k) - _KINESIS_SUPPORTED)
        if unsupported:
            raise _fail(f"KinesisStreamParameters.{unsupported[0]} is not supported by express-engine")
        if k.get("MaximumRecordAgeInSeconds", -1) != -1:
            raise _fail("KinesisStreamParameters.MaximumRecordAgeInSeconds is not supported by express-engine "
                        "(stream entries do not expire): leave it unset or -1")
        if target is not None and not _STATE_MACHINE_RE.fullmatch(target):
            raise _fail(f"Target '{target}' is not supported: the target of an express-engine pipe is a Step "
                        "Functions state machine ARN (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME)")
        if tags is not None:
            if not all(isinstance(v, str) for v in tags.values()):
                raise api.SerializationException("Expected a map of strings for 'Tags'")
            if not 1 <= len(tags) <= 50:
                raise _fail("Tags must hold between 1 and 50 tags")
        if old is None and kinesis is None:
            raise _fail("SourceParameters.KinesisStreamParameters.StartingPosition is required for a stream source")
        now = round(time.time(), 3)
        if old is not None:  # UpdatePipe: what is not given stays (the stream and its position always do)
            prev = old.pipe or {}
            k = {**(prev.get("KinesisStreamParameters") or {}), **k}
            meta = {**prev, "RoleArn": role, "LastModifiedTime": now}
            if description is not None:
                meta["Description"] = description
            if filters is not None:
                meta["Filters"] = filters
            stream = old.stream
            start = old.start_position
            target = target or old.state_machine_arn
            if tp is None:
                template, invocation = old.transformer_template, ("REQUEST_RESPONSE" if old.mode == "wait"
                                                            else "FIRE_AND_FORGET")
            desired = desired if "DesiredState" in body else ("RUNNING" if old.enabled else "STOPPED")
            filter_text = _filter(filters) if filters is not None else old.filter
            json_field = old.json_field
        else:
            assert source_arn is not None
            stream = stream_of(source_arn)
            meta = {"Arn": self.arn(name), "Source": source_arn, "RoleArn": role, "Tags": tags or {},
                    "LastModifiedTime": now, "Filters": filters or []}
            if description is not None:
                meta["Description"] = description
            position = k["StartingPosition"]
            if position == "AT_TIMESTAMP":
                when = k.get("StartingPositionTimestamp")
                if not isinstance(when, (int, float)) or isinstance(when, bool):
                    raise _fail("StartingPositionTimestamp is required with StartingPosition AT_TIMESTAMP")
                ms = int(when * 1000)
                # (the consumer group delivers entries after this id: the first at the time is included)
                start = f"{ms - 1}-18446744073709551615" if ms > 0 else "0"
            else:
                start = position
            filter_text = _filter(filters or [])
            json_field = (tags or {}).get(JSON_FIELD_TAG)
        meta["KinesisStreamParameters"] = k
        dlq_arn = (k.get("DeadLetterConfig") or {}).get("Arn")
        retries = k.get("MaximumRetryAttempts", -1)
        assert target is not None
        return EventSource(
            name=name, stream=stream, state_machine_arn=target, batch_size=k.get("BatchSize", DEFAULT_BATCH_SIZE),
            batch_window=float(k.get("MaximumBatchingWindowInSeconds", 0)), start_position=start,
            filter=filter_text, transformer_template=template or None, json_field=json_field,
            mode="async" if invocation == "FIRE_AND_FORGET" else "wait",
            max_retries=MAX_RETRY_ATTEMPTS if retries == -1 else retries, as_list=True,
            dead_letter=stream_of(dlq_arn, "DeadLetterConfig.Arn") if dlq_arn else None,
            enabled=desired == "RUNNING", pipe=meta,
            template_variables={"aws.pipes.pipe-arn": str(meta.get("Arn") or self.arn(name)),
                                "aws.pipes.pipe-name": name, "aws.pipes.target-arn": target,
                                "aws.pipes.source-arn": str(meta.get("Source") or self.stream_arn(stream))}
            if template else None,
            **({"creation_date": old.creation_date} if old is not None else {}))

    async def create_pipe(self, name: str, body: dict[str, Any]) -> dict[str, Json]:
        """CreatePipe: a new event source (ConflictException when the name is taken)."""
        source = self._source(name, body)
        try:
            await self.sources.get(name)
            exists = True
        except api.ResourceNotFound:
            exists = False
        if exists:
            exc = ConflictException(f"Pipe {name} already exists.")
            exc.fields = {"resourceId": name, "resourceType": "pipe"}  # type: ignore[attr-defined]
            raise exc
        try:
            created = await self.sources.create(source)
        except api.StateMachineDoesNotExist as exc:
            raise _fail(f"Target {source.state_machine_arn} does not exist: {exc.message}") from None
        return self._summary(created)

    async def update_pipe(self, name: str, body: dict[str, Any]) -> dict[str, Json]:
        """UpdatePipe: its settings (not its source); entries keep flowing from where they were."""
        old = await self._get(name)
        source = self._source(name, body, old)
        try:
            await self.sources.registry.get(source.state_machine_arn)
        except api.StateMachineDoesNotExist as exc:
            raise _fail(f"Target {source.state_machine_arn} does not exist: {exc.message}") from None
        return self._summary(await self.sources.replace(source))

    async def _set_running(self, name: str, running: bool) -> dict[str, Json]:
        source = await self._get(name)
        meta = {**(source.pipe or {}), "LastModifiedTime": round(time.time(), 3)}
        if source.enabled != running:
            source = await self.sources.replace(replace(source, enabled=running, pipe=meta))
        out = self._summary(source)
        out["CurrentState"] = "STARTING" if running else "STOPPING"
        return out

    # -- describe / list -------------------------------------------------------------------------------------

    def _summary(self, source: Any) -> dict[str, Json]:
        meta = source.pipe or {}
        state = "RUNNING" if source.enabled else "STOPPED"
        return {"Arn": meta.get("Arn") or self.arn(source.name), "Name": source.name, "DesiredState": state,
                "CurrentState": state, "CreationTime": source.creation_date,
                "LastModifiedTime": meta.get("LastModifiedTime", source.creation_date)}

    def describe(self, source: Any) -> dict[str, Json]:
        """DescribePipe's answer for an event source (whether made as a pipe or with the CLI)."""
        meta = source.pipe or {}
        kinesis: dict[str, Any] = dict(meta.get("KinesisStreamParameters") or {})
        kinesis.setdefault("BatchSize", source.batch_size)
        kinesis.setdefault("MaximumBatchingWindowInSeconds", int(source.batch_window))
        if "StartingPosition" not in kinesis:
            pos = source.start_position
            if pos in ("LATEST", "TRIM_HORIZON"):
                kinesis["StartingPosition"] = pos
            else:
                kinesis["StartingPosition"] = "AT_TIMESTAMP"
                kinesis["StartingPositionTimestamp"] = int(pos.partition("-")[0]) / 1000
        kinesis.setdefault("MaximumRetryAttempts", source.max_retries)
        if source.dead_letter:
            kinesis.setdefault("DeadLetterConfig", {"Arn": self.stream_arn(source.dead_letter)})
        filters = meta.get("Filters")
        if filters is None:
            filters = [{"Pattern": source.filter}] if source.filter else []
        target: dict[str, Any] = {"StepFunctionStateMachineParameters": {
            "InvocationType": "REQUEST_RESPONSE" if source.mode == "wait" else "FIRE_AND_FORGET"}}
        if source.transformer_template is not None:
            target["InputTemplate"] = source.transformer_template
        tags = dict(meta.get("Tags") or {})
        if source.json_field and JSON_FIELD_TAG not in tags:
            tags[JSON_FIELD_TAG] = source.json_field
        out: dict[str, Any] = {**self._summary(source), "Source": meta.get("Source") or self.stream_arn(source.stream),
                               "SourceParameters": {"FilterCriteria": {"Filters": filters},
                                                    "KinesisStreamParameters": kinesis},
                               "Target": source.state_machine_arn, "TargetParameters": target, "Tags": tags}
        for key in ("Description", "RoleArn"):
            if meta.get(key) is not None:
                out[key] = meta[key]
        if not tags:
            del out["Tags"]
        return out

    async def list_pipes(self, query: Mapping[str, str]) -> dict[str, Json]:
        """ListPipes: the namespace's stream event sources, by name, ``Limit`` at a time."""
        c = Checker(dict(query))
        prefix = c.string("NamePrefix", max_len=64)
        desired = c.enum("DesiredState", ("RUNNING", "STOPPED"))
        current = c.string("CurrentState")
        source_prefix = c.string("SourcePrefix", max_len=1600)
        target_prefix = c.string("TargetPrefix", max_len=1600)
        token = c.string("NextToken", max_len=2048)
        raw_limit = query.get("Limit")
        limit = None
        if raw_limit is not None:
            if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
                c.fail("limit", raw_limit, "Member must have value between 1 and 100")
            else:
                limit = int(raw_limit)
        c.done()
        after = _decode_token(token) if token else None
        items = []
        for source in await self.sources.list():
            if source.kind != "stream" or (after is not None and source.name <= after):
                continue
            item = self.describe(source)
            state = item["DesiredState"]
            if (prefix and not source.name.startswith(prefix)) or (desired and state != desired) \
                    or (current and state != current) \
                    or (source_prefix and not str(item["Source"]).startswith(source_prefix)) \
                    or (target_prefix and not source.state_machine_arn.startswith(target_prefix)):
                continue
            items.append({k: item[k] for k in ("Name", "Arn", "DesiredState", "CurrentState", "CreationTime",
                                               "LastModifiedTime", "Source", "Target")})
        size = limit or 100
        out: dict[str, Json] = {"Pipes": items[:size]}
        if len(items) > size:
            out["NextToken"] = _encode_token(str(items[size - 1]["Name"]))
        return out
