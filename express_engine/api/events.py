"""The EventBridge operations of the HTTP API: AWS JSON 1.1, ``X-Amz-Target: AWSEvents.<Operation>``.

Requests and answers follow botocore's ``events`` service model, mapped onto the rules of
:mod:`express_engine.service.rules` (a bus ``B`` is the stream ``events:B``; a target is a state machine,
run as an event source on that stream). PutEvents appends to the same ``events:<bus>`` streams that
workflows' ``events:putEvents`` tasks write to. Errors: ``ValidationException``,
``ResourceNotFoundException``, ``InvalidEventPatternException``, ``SerializationException``.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from .. import service_errors as api
from ..jsonutil import Json
from .operations import Checker, _decode_token, _encode_token

EventsOperation = Callable[[dict[str, Any]], Awaitable[dict[str, Json]]]

TARGET_PREFIX = "AWSEvents."
_NAME_PATTERN = "[\\.\\-_A-Za-z0-9]+"
_DEFAULT_PAGE = 100
#: PutTargets members this engine acts on; a target with another one is refused (FailedEntries)
_TARGET_MEMBERS = frozenset({"Id", "Arn", "RoleArn", "Input", "InputPath", "InputTransformer"})


def _name(c: Checker, field: str, *, required: bool = True) -> str | None:
    value = c.string(field, required=required, max_len=64)
    if value is not None and value and not all((ch.isalnum() and ch.isascii()) or ch in ".-_" for ch in value):
        c.fail(field, value, f"Member must satisfy regular expression pattern: {_NAME_PATTERN}")
    return value


def _list_length(c: Checker, field: str, items: list[Any] | None, most: int) -> None:
    """The 1 to ``most`` members AWS allows in a list member (reported at ``field``)."""
    if items is not None and not 1 <= len(items) <= most:
        c.fail(field, items, "Member must have length greater than or equal to 1" if not items
               else f"Member must have length less than or equal to {most}")


def _objects(c: Checker, items: list[Any] | None, at: str) -> Iterator[tuple[int, dict[str, Any], Checker]]:
    """Each member of a list of structures (numbered from 1) with a Checker of its own members, reported as
    ``<at>.<n>.member.<field>`` with ``c``'s violations; SerializationException for a member that is not an object."""
    for i, item in enumerate(items or (), 1):
        if not isinstance(item, dict):
            raise api.SerializationException(f"Expected an object for '{at}.{i}'")
        inner = Checker(item, f"{at}.{i}.member.")
        inner.problems = c.problems
        yield i, item, inner


def _paged(member: str, items: list[dict[str, Any]], key: str, limit: int | None, token: str | None) -> dict[str, Json]:
    """The answer ``{member: page, NextToken?}``: one page of ``items`` (sorted by ``key``) after the one the token
    names."""
    if token:
        after = _decode_token(token)
        items = [i for i in items if str(i[key]) > after]
    size = limit or _DEFAULT_PAGE
    out: dict[str, Json] = {member: items[:size]}
    if len(items) > size:
        out["NextToken"] = _encode_token(str(items[size - 1][key]))
    return out


class EventsOperations:
    """The EventBridge operations over one namespace's rules (:class:`express_engine.service.rules.Rules`)."""

    def __init__(self, rules: Any) -> None:
        self.rules = rules
        self.table: dict[str, EventsOperation] = {
            "PutRule": self.put_rule, "DescribeRule": self.describe_rule, "ListRules": self.list_rules,
            "DeleteRule": self.delete_rule, "EnableRule": self.enable_rule, "DisableRule": self.disable_rule,
            "PutTargets": self.put_targets, "ListTargetsByRule": self.list_targets_by_rule,
            "RemoveTargets": self.remove_targets, "PutEvents": self.put_events,
        }

    def get(self, name: str) -> EventsOperation | None:
        """The operation called ``name`` (None when it is not served)."""
        return self.table.get(name)

    async def put_rule(self, body: dict[str, Any]) -> dict[str, Json]:
        """PutRule: create or update a rule with an event pattern on a bus."""
        c = Checker(body)
        name = _name(c, "Name")
        pattern = c.string("EventPattern", min_len=0, max_len=4096)
        schedule = c.string("ScheduleExpression", min_len=0, max_len=256)
        state = c.enum("State", ("ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"), "ENABLED")
        description = c.string("Description", min_len=0, max_len=512)
        c.string("RoleArn", max_len=1600)
        c.array("Tags")
        bus = c.string("EventBusName", max_len=1600)
        c.done()
        assert name is not None and state is not None
        if state == "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS":
            raise api.ValidationException("State ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS is only for rules "
                                          "matching AWS CloudTrail events, which this engine does not receive")
        result: dict[str, Json] = await self.rules.put_rule(
            name, event_pattern=pattern, event_bus_name=bus, state=state, description=description,
            schedule_expression=schedule)
        return result

    def _rule_args(self, body: dict[str, Any], field: str = "Name") -> tuple[str, str | None]:
        c = Checker(body)
        name = _name(c, field)
        bus = c.string("EventBusName", max_len=1600)
        c.done()
        assert name is not None
        return name, bus

    async def describe_rule(self, body: dict[str, Any]) -> dict[str, Json]:
        """DescribeRule (ResourceNotFoundException for an unknown rule)."""
        name, bus = self._rule_args(body)
        out: dict[str, Json] = await self.rules.describe_rule(name, bus)
        return out

    async def list_rules(self, body: dict[str, Any]) -> dict[str, Json]:
        """ListRules of one bus, by name, ``Limit`` at a time."""
        c = Checker(body)
        prefix = _name(c, "NamePrefix", required=False)
        bus = c.string("EventBusName", max_len=1600)
        token = c.string("NextToken", max_len=2048)
        limit = c.integer("Limit", lo=1, hi=100)
        c.done()
        rules = (await self.rules.list_rules(bus, prefix))["Rules"]
        return _paged("Rules", rules, "Name", limit, token)

    async def delete_rule(self, body: dict[str, Any]) -> dict[str, Json]:
        """DeleteRule: a rule without targets (ValidationException otherwise, as on AWS)."""
        name, bus = self._rule_args(body)
        Checker(body).boolean("Force")
        await self.rules.delete_rule(name, bus)
        return {}

    async def _set_state(self, body: dict[str, Any], state: str) -> dict[str, Json]:
        name, bus = self._rule_args(body)
        rule = await self.rules.describe_rule(name, bus)
        await self.rules.put_rule(name, event_pattern=rule.get("EventPattern"), event_bus_name=bus, state=state)
        return {}

    async def enable_rule(self, body: dict[str, Any]) -> dict[str, Json]:
        """EnableRule: its targets consume the bus again (from where they stopped)."""
        return await self._set_state(body, "ENABLED")

    async def disable_rule(self, body: dict[str, Any]) -> dict[str, Json]:
        """DisableRule: its targets stop consuming the bus."""
        return await self._set_state(body, "DISABLED")

    async def put_targets(self, body: dict[str, Any]) -> dict[str, Json]:
        """PutTargets: state machines started with each matching event; ``FailedEntries`` for the others."""
        c = Checker(body)
        rule = _name(c, "Rule")
        bus = c.string("EventBusName", max_len=1600)
        targets = c.array("Targets", required=True)
        _list_length(c, "Targets", targets, 100)
        for i, _, inner in _objects(c, targets, "targets"):
            _name(inner, "Id")
            inner.string("Arn", required=True, max_len=1600)
            inner.string("RoleArn", max_len=1600)
            inner.string("Input", min_len=0, max_len=8192)
            inner.string("InputPath", min_len=0, max_len=256)
            transformer = inner.structure("InputTransformer")
            if transformer is not None:
                transformer.string("InputTemplate", required=True, max_len=8192)
                paths = transformer.obj("InputPathsMap")
                if paths is not None and not all(isinstance(v, str) for v in paths.values()):
                    raise api.SerializationException(f"Expected a map of strings for "
                                                     f"'targets.{i}.member.InputTransformer.InputPathsMap'")
        c.done()
        assert rule is not None and targets is not None
        accepted, failed = [], []
        for target in targets:
            unsupported = sorted(set(target) - _TARGET_MEMBERS)
            if unsupported:
                failed.append({"TargetId": target["Id"], "ErrorCode": "ValidationException",
                               "ErrorMessage": f"Target parameters not supported by express-engine: "
                                               f"{', '.join(unsupported)}"})
            else:
                accepted.append(target)
        out: dict[str, Any] = await self.rules.put_targets(rule, accepted, event_bus_name=bus) if accepted else {
            "FailedEntryCount": 0, "FailedEntries": []}
        out["FailedEntries"] = failed + out["FailedEntries"]
        out["FailedEntryCount"] = len(out["FailedEntries"])
        return out

    async def list_targets_by_rule(self, body: dict[str, Any]) -> dict[str, Json]:
        """ListTargetsByRule, by target id, ``Limit`` at a time."""
        c = Checker(body)
        token = c.string("NextToken", max_len=2048)
        limit = c.integer("Limit", lo=1, hi=100)
        c.done()
        rule, bus = self._rule_args(body, "Rule")
        targets = sorted((await self.rules.list_targets_by_rule(rule, bus))["Targets"], key=lambda t: str(t["Id"]))
        return _paged("Targets", targets, "Id", limit, token)

    async def remove_targets(self, body: dict[str, Any]) -> dict[str, Json]:
        """RemoveTargets (their consumer groups go with them)."""
        c = Checker(body)
        ids = c.array("Ids", required=True)
        c.boolean("Force")
        _list_length(c, "Ids", ids, 100)
        if ids is not None and not all(isinstance(i, str) for i in ids):
            raise api.SerializationException("Expected a list of strings for 'Ids'")
        c.done()
        rule, bus = self._rule_args(body, "Rule")
        assert ids is not None
        out: dict[str, Json] = await self.rules.remove_targets(rule, ids, bus)
        return out

    async def put_events(self, body: dict[str, Any]) -> dict[str, Json]:
        """PutEvents: one entry per event on the stream ``events:<bus>`` (``Time``: epoch seconds or text)."""
        from ..service.rules import put_events

        c = Checker(body)
        entries = c.array("Entries", required=True)
        c.string("EndpointId", max_len=50)
        _list_length(c, "entries", entries, 10)
        for i, entry, inner in _objects(c, entries, "entries"):
            for field in ("Source", "DetailType", "Detail"):
                inner.string(field, min_len=0)
            inner.string("EventBusName", max_len=1600)
            inner.string("TraceHeader", max_len=500)
            inner.array("Resources")
            when = entry.get("Time")
            if isinstance(when, (int, float)) and not isinstance(when, bool):
                entry["Time"] = datetime.datetime.fromtimestamp(when, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            elif when is not None and not isinstance(when, str):
                raise api.SerializationException(f"Expected a timestamp for 'entries.{i}.member.Time'")
        c.done()
        assert entries is not None
        result: dict[str, Json] = await put_events(self.rules.redis, entries)
        return result
