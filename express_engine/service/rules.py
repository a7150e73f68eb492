"""EventBridge rules on event buses: events matching a rule's pattern start its state-machine targets.

A bus ``B`` is the stream ``events:B``, where ``events:putEvents`` (from workflows, or
:func:`put_events` from users' producers) appends one entry per event. A rule (hash ``NS:rules``,
``bus/name`` -> JSON) holds an event pattern (:mod:`.event_patterns`); each of its targets is an
event source (:mod:`.event_sources`, kind ``events``) on the bus stream with its own consumer group,
created at ``put_targets`` time (it sees events put from then on), its filter the rule's pattern and its
input the EventBridge event (``version``, ``id``, ``detail-type``, ``source``, ``account``, ``time``,
``region``, ``resources``, ``detail``), or the target's ``Input`` / ``InputPath`` / ``InputTransformer``
(:mod:`.input_templates`). Targets start
async executions, so delivery is at least once, as EventBridge's.

Requests and answers follow the EventBridge API (PutRule, PutTargets, ListRules, ListTargetsByRule,
RemoveTargets, DeleteRule, PutEvents) with its error names.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .. import service_errors as api
from ..integrations.streams import event_fields
from ..jsonutil import Json, dumps, loads
from ..runtime.engine import DEFAULT_ACCOUNT, DEFAULT_REGION
from .event_patterns import compile_pattern
from .event_sources import EventSource, EventSources
from .keys import text
from .registry import Registry

__all__ = ["ResourceNotFoundException", "Rules", "put_events"]

_NAME = re.compile(r"^[.\-_A-Za-z0-9]{1,64}$")
_TARGET_ID = re.compile(r"^[.\-_A-Za-z0-9]{1,64}$")
MAX_TARGETS = 5


class ResourceNotFoundException(api.ServiceError):
    """EventBridge's ``ResourceNotFoundException``."""

    code = "ResourceNotFoundException"


def _bus(name: str | None) -> str:
    bus = name or "default"
    return bus.rsplit("/", 1)[-1]


def source_name(bus: str, rule: str, target_id: str) -> str:
    """The event source a rule's target runs as."""
    return f"rule.{bus}.{rule}.{target_id}"


class Rules:
    """Rules and their targets, stored in Redis beside the namespace's state machines."""

    def __init__(self, redis: Any, *, namespace: str = "ee", registry: Registry | None = None,
                 region: str = DEFAULT_REGION, account: str = DEFAULT_ACCOUNT) -> None:
        self.redis = redis
        self.namespace = namespace
        self.registry = registry if registry is not None else Registry(redis, namespace=namespace)
        self.sources = EventSources(redis, namespace=namespace, registry=self.registry)
        self.key = f"{namespace}:rules"
        self.region = region
        self.account = account

    def _arn(self, bus: str, name: str) -> str:
        path = name if bus == "default" else f"{bus}/{name}"
        return f"arn:aws:events:{self.region}:{self.account}:rule/{path}"

    async def _get(self, name: str, bus: str) -> dict[str, Any]:
        raw = await self.redis.hget(self.key, f"{bus}/{name}")
        if raw is None:
            raise ResourceNotFoundException(f"Rule {name} does not exist on EventBus {bus}.")
        doc: dict[str, Any] = loads(raw)
        return doc

    async def _save(self, doc: dict[str, Any]) -> None:
        await self.redis.hset(self.key, f"{doc['EventBusName']}/{doc['Name']}", dumps(doc))

    async def put_rule(self, name: str, *, event_pattern: str | None = None, event_bus_name: str | None = None,
                       state: str = "ENABLED", description: str | None = None,
                       schedule_expression: str | None = None) -> dict[str, str]:
        """PutRule: create or update a rule; returns ``{"RuleArn": ...}``."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise api.ValidationException(
                f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must "
                "satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+")
        if schedule_expression is not None:
            raise api.ValidationException("ScheduleExpression is not supported by this engine: only event patterns")
        if event_pattern is None:
            raise api.ValidationException("Parameter(s) EventPattern or ScheduleExpression must be specified.")
        compile_pattern(event_pattern)  # raises InvalidEventPatternException
        if state not in ("ENABLED", "DISABLED"):
            raise api.ValidationException(f"State must be ENABLED or DISABLED, not '{state}'")
        bus = _bus(event_bus_name)
        try:
            doc = await self._get(name, bus)
        except ResourceNotFoundException:
            doc = {"Name": name, "Arn": self._arn(bus, name), "EventBusName": bus, "Targets": {}}
        doc.update({"EventPattern": event_pattern, "State": state})
        if description is not None:
            doc["Description"] = description
        await self._save(doc)
        for target in doc["Targets"].values():  # the pattern lives in each target's source too
            await self._replace_source(bus, doc, target)
        return {"RuleArn": doc["Arn"]}

    async def describe_rule(self, name: str, event_bus_name: str | None = None) -> dict[str, Json]:
        """DescribeRule."""
        doc = await self._get(name, _bus(event_bus_name))
        return _public(doc)

    async def list_rules(self, event_bus_name: str | None = None, name_prefix: str | None = None) -> dict[str, Json]:
        """ListRules of one bus: ``{"Rules": [...]}``, by name."""
        bus = _bus(event_bus_name)
        rules = []
        for key, raw in (await self.redis.hgetall(self.key)).items():
            k = text(key)
            if k.startswith(f"{bus}/") and (not name_prefix or k[len(bus) + 1:].startswith(name_prefix)):
                rules.append(_public(loads(raw)))
        return {"Rules": sorted(rules, key=lambda r: str(r["Name"]))}

    async def delete_rule(self, name: str, event_bus_name: str | None = None) -> None:
        """DeleteRule: only a rule without targets (as on AWS); no error for an unknown rule."""
        bus = _bus(event_bus_name)
        try:
            doc = await self._get(name, bus)
        except ResourceNotFoundException:
            return
        if doc["Targets"]:
            raise api.ValidationException("Rule can't be deleted since it has targets.")
        await self.redis.hdel(self.key, f"{bus}/{name}")

    async def put_targets(self, rule: str, targets: list[Mapping[str, Any]],
                          event_bus_name: str | None = None) -> dict[str, Json]:
        """PutTargets: state machines (``Arn``) started with each matching event; ``FailedEntries`` for the rest."""
        bus = _bus(event_bus_name)
        doc = await self._get(rule, bus)
        failed: list[dict[str, str]] = []
        for target in targets:
            tid = target.get("Id")
            if not isinstance(tid, str) or not _TARGET_ID.match(tid):
                raise api.ValidationException(f"Invalid target Id: '{tid}'")
            arn = target.get("Arn")
            if not isinstance(arn, str) or ":states:" not in arn or ":stateMachine:" not in arn:
                failed.append({"TargetId": tid, "ErrorCode": "ValidationException",
                               "ErrorMessage": "Only Step Functions state machine ARNs are supported as targets"})
                continue
            if tid not in doc["Targets"] and len(doc["Targets"]) >= MAX_TARGETS:
                failed.append({"TargetId": tid, "ErrorCode": "LimitExceededException",
                               "ErrorMessage": f"A rule can have at most {MAX_TARGETS} targets"})
                continue
            given = [k for k in ("Input", "InputPath", "InputTransformer") if target.get(k) is not None]
            if len(given) > 1:
                failed.append({"TargetId": tid, "ErrorCode": "ValidationException",
                               "ErrorMessage": "Only one of Input, InputPath, or InputTransformer can be provided."})
                continue
            entry = {k: target[k] for k in ("Id", "Arn", "Input", "InputPath", "InputTransformer", "RoleArn")
                     if k in target}
            try:
                await self._replace_source(bus, doc, entry)
            except api.ServiceError as exc:
                failed.append({"TargetId": tid, "ErrorCode": exc.code, "ErrorMessage": exc.message})
                continue
            doc["Targets"][tid] = entry
        await self._save(doc)
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}

    async def list_targets_by_rule(self, rule: str, event_bus_name: str | None = None) -> dict[str, Json]:
        """ListTargetsByRule."""
        doc = await self._get(rule, _bus(event_bus_name))
        return {"Targets": list(doc["Targets"].values())}

    async def remove_targets(self, rule: str, ids: list[str], event_bus_name: str | None = None) -> dict[str, Json]:
        """RemoveTargets (their consumer groups go with them)."""
        bus = _bus(event_bus_name)
        doc = await self._get(rule, bus)
        for tid in ids:
            if doc["Targets"].pop(tid, None) is not None:
                with contextlib.suppress(api.ResourceNotFound):
                    await self.sources.delete(source_name(bus, rule, tid))
        await self._save(doc)
        return {"FailedEntryCount": 0, "FailedEntries": []}

    async def _replace_source(self, bus: str, doc: Mapping[str, Any], target: Mapping[str, Any]) -> None:
        """Create (or re-create, keeping its consumer group) the event source of one target."""
        name = source_name(bus, doc["Name"], target["Id"])
        transformer = target.get("InputTransformer")
        if transformer is not None and (not isinstance(transformer, Mapping)
                                        or not isinstance(transformer.get("InputTemplate"), str)):
            raise api.ValidationException("InputTransformer must hold an InputTemplate (and an InputPathsMap)")
        source = EventSource(
            name=name, stream=f"events:{bus}", state_machine_arn=target["Arn"], kind="events",
            filter=doc["EventPattern"], rule=f"{bus}/{doc['Name']}", target_id=target["Id"],
            input=target.get("Input"), input_path=target.get("InputPath"),
            transformer_template=transformer["InputTemplate"] if transformer else None,
            transformer_paths=dict(transformer.get("InputPathsMap") or {}) if transformer else None,
            template_variables={"aws.events.rule-arn": doc["Arn"], "aws.events.rule-name": doc["Name"]}
            if transformer else None,
            enabled=doc.get("State", "ENABLED") == "ENABLED")
        try:
            old = await self.sources.get(name)
        except api.ResourceNotFound:
            await self.sources.create(source)
            return
        source = replace(source, creation_date=old.creation_date)
        if source != old:
            await self.sources.replace(source)


def _public(doc: Mapping[str, Any]) -> dict[str, Json]:
    return {k: v for k, v in doc.items() if k != "Targets"}


async def put_events(redis: Any, entries: list[Mapping[str, Any]]) -> dict[str, Json]:
    """PutEvents from a producer: one entry per event on stream ``events:<bus>`` (as ``events:putEvents``)."""
    if not isinstance(entries, list) or not 1 <= len(entries) <= 10:
        raise api.ValidationException("Entries must hold between 1 and 10 events")
    out: list[dict[str, str]] = []
    failed = 0
    pipe = redis.pipeline(transaction=False)
    for entry in entries:
        missing = [f for f in ("Source", "DetailType", "Detail") if not isinstance(entry, Mapping) or
                   not entry.get(f)]
        if missing:
            failed += 1
            out.append({"ErrorCode": "InvalidArgument",
                        "ErrorMessage": f"Parameter(s) {', '.join(missing)} must be specified."})
            continue
        detail = entry["Detail"]
        if isinstance(detail, str):
            try:
                if not isinstance(loads(detail), dict):
                    raise ValueError
            except ValueError:
                failed += 1
                out.append({"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."})
                continue
        bus, fields = event_fields(entry)
        pipe.xadd(f"events:{bus}", fields)
        out.append({"EventId": fields["event-id"]})
    await pipe.execute()
    return {"Entries": out, "FailedEntryCount": failed}
