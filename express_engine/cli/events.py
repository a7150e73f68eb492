"""Event-source and rule sub-commands: executions started from users' streams and from event buses.

``create-event-source`` / ``list-event-sources`` / ``get-event-source`` / ``delete-event-source`` manage
stream event sources (:mod:`express_engine.service.event_sources`); ``put-rule`` / ``put-targets`` /
``list-rules`` / ``list-targets-by-rule`` / ``remove-targets`` / ``delete-rule`` / ``put-events`` speak
EventBridge's API over the ``events:<bus>`` streams (:mod:`express_engine.service.rules`). Every command
prints JSON; errors as the other Redis commands print them.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from .. import service_errors as api
from ..jsonutil import loads
from .common import EXIT_OK, emit
from .service import _common, _request


def _json_arg(value: str | None, what: str) -> Any:
    if value is None:
        return None
    try:
        return loads(value)
    except ValueError:
        raise api.ValidationException(f"{what} is not valid JSON") from None


# -- event sources ----------------------------------------------------------------------------------------


async def _create_source(redis: Any, args: argparse.Namespace) -> int:
    from ..service.event_sources import EventSource, EventSources

    name = args.name or re.sub(r"[^A-Za-z0-9_.:-]", "-", args.stream)[:256]
    for value, what in ((args.filter, "--filter"), (args.input_template, "--input-template")):
        _json_arg(value, what)
    source = EventSource(name=name, stream=args.stream, state_machine_arn=args.state_machine,
                         batch_size=args.batch_size, batch_window=args.batch_window,
                         start_position=args.start_position, filter=args.filter, input_template=args.input_template,
                         input_path=args.input_path,
                         json_field=args.json_field, mode=args.mode, max_retries=args.max_retries,
                         retry_delay=args.retry_delay, max_deliveries=args.max_deliveries)
    created = await EventSources(redis, namespace=args.namespace).create(source)
    emit(created.describe(args.namespace))
    return EXIT_OK


async def _list_sources(redis: Any, args: argparse.Namespace) -> int:
    from ..service.event_sources import EventSources

    sources = EventSources(redis, namespace=args.namespace)
    emit({"eventSources": [s.describe(args.namespace) for s in await sources.list()]})
    return EXIT_OK


async def _get_source(redis: Any, args: argparse.Namespace) -> int:
    from ..service.event_sources import EventSources

    sources = EventSources(redis, namespace=args.namespace)
    out = (await sources.get(args.name)).describe(args.namespace)
    out["stats"] = await sources.stats(args.name)
    emit(out)
    return EXIT_OK


async def _delete_source(redis: Any, args: argparse.Namespace) -> int:
    from ..service.event_sources import EventSources

    await EventSources(redis, namespace=args.namespace).delete(args.name)
    emit({})
    return EXIT_OK


# -- rules -----------------------------------------------------------------------------------------------


def _rules(redis: Any, args: argparse.Namespace) -> Any:
    from ..service.rules import Rules

    return Rules(redis, namespace=args.namespace)


async def _put_rule(redis: Any, args: argparse.Namespace) -> int:
    emit(await _rules(redis, args).put_rule(args.name, event_pattern=args.event_pattern,
                                            event_bus_name=args.event_bus_name, state=args.state,
                                            description=args.description))
    return EXIT_OK


async def _put_targets(redis: Any, args: argparse.Namespace) -> int:
    rules = _rules(redis, args)
    targets = _json_arg(args.targets, "--targets") or []
    if not isinstance(targets, list):
        raise api.ValidationException("--targets must be a JSON list of {Id, Arn, Input?, InputPath?}")
    if args.state_machine:
        targets.append({"Id": args.id or "1", "Arn": rules.registry.arn(args.state_machine)})
    if not targets:
        raise api.ValidationException("give --targets JSON or --state-machine NAME")
    emit(await rules.put_targets(args.rule, targets, event_bus_name=args.event_bus_name))
    return EXIT_OK


async def _list_rules(redis: Any, args: argparse.Namespace) -> int:
    emit(await _rules(redis, args).list_rules(args.event_bus_name, args.name_prefix))
    return EXIT_OK


async def _list_targets(redis: Any, args: argparse.Namespace) -> int:
    emit(await _rules(redis, args).list_targets_by_rule(args.rule, args.event_bus_name))
    return EXIT_OK


async def _remove_targets(redis: Any, args: argparse.Namespace) -> int:
    emit(await _rules(redis, args).remove_targets(args.rule, args.ids, args.event_bus_name))
    return EXIT_OK


async def _delete_rule(redis: Any, args: argparse.Namespace) -> int:
    await _rules(redis, args).delete_rule(args.name, args.event_bus_name)
    emit({})
    return EXIT_OK


async def _put_events(redis: Any, args: argparse.Namespace) -> int:
    from ..service.rules import put_events

    entries = _json_arg(args.entries, "--entries")
    emit(await put_events(redis, entries))
    return EXIT_OK


def register(subparsers: Any) -> None:
    """Add the event-source and rule sub-commands to the ``express-engine`` parser."""
    p = subparsers.add_parser("create-event-source", help="start executions from the entries of a Redis stream")
    _common(p)
    p.add_argument("--stream", required=True, help="the stream to consume (your producers' own)")
    p.add_argument("--state-machine", required=True, help="state machine name or ARN")
    p.add_argument("--name", default=None, help="event source name (default: the stream name)")
    p.add_argument("--batch-size", type=int, default=1,
                   help="entries per execution (default 1; more: the input is the list of records)")
    p.add_argument("--batch-window", type=float, default=0.0,
                   help="seconds to wait for a batch to fill (default 0: start what was read)")
    p.add_argument("--start-position", default="LATEST",
                   help="LATEST (default: entries added from now on), TRIM_HORIZON (all) or an entry id")
    p.add_argument("--filter", default=None, help="EventBridge event pattern (JSON) records must match")
    p.add_argument("--input-template", default=None,
                   help='ASL payload template shaping each record, e.g. \'{"order.$": "$.data.order"}\'')
    p.add_argument("--input-path", default=None,
                   help="JSONPath selecting each record's input instead (e.g. $.data); not with --input-template")
    p.add_argument("--json-field", default=None, help="entry field holding JSON: parsed as the record's data")
    p.add_argument("--mode", choices=("async", "wait"), default="async",
                   help="acknowledge once started (async, default) or once finished (wait: retries, dead letters)")
    p.add_argument("--max-retries", type=int, default=2, help="wait mode: retries of a failed execution (default 2)")
    p.add_argument("--retry-delay", type=float, default=1.0, help="wait mode: first retry delay, doubling (s)")
    p.add_argument("--max-deliveries", type=int, default=5,
                   help="deliveries of an entry (reclaims after a worker died) before it is dead-lettered")
    p.set_defaults(func=lambda a: _request(_create_source, a))

    p = subparsers.add_parser("list-event-sources", help="list the event sources")
    _common(p)
    p.set_defaults(func=lambda a: _request(_list_sources, a))
    p = subparsers.add_parser("get-event-source", help="an event source's definition and counters")
    _common(p)
    p.add_argument("--name", required=True)
    p.set_defaults(func=lambda a: _request(_get_source, a))
    p = subparsers.add_parser("delete-event-source", help="delete an event source (and its consumer group)")
    _common(p)
    p.add_argument("--name", required=True)
    p.set_defaults(func=lambda a: _request(_delete_source, a))

    def bus(p: argparse.ArgumentParser) -> None:
        _common(p)
        p.add_argument("--event-bus-name", default=None, help="event bus (default: default)")

    p = subparsers.add_parser("put-rule", help="EventBridge PutRule: a rule with an event pattern on a bus")
    bus(p)
    p.add_argument("--name", required=True)
    p.add_argument("--event-pattern", required=True, help="EventBridge event pattern (JSON)")
    p.add_argument("--state", choices=("ENABLED", "DISABLED"), default="ENABLED")
    p.add_argument("--description", default=None)
    p.set_defaults(func=lambda a: _request(_put_rule, a))

    p = subparsers.add_parser("put-targets", help="EventBridge PutTargets: state machines a rule starts")
    bus(p)
    p.add_argument("--rule", required=True)
    p.add_argument("--targets", default=None, help='JSON list, e.g. \'[{"Id": "1", "Arn": "arn:aws:states:..."}]\'')
    p.add_argument("--state-machine", default=None, help="shorthand: one target, this state machine (name or ARN)")
    p.add_argument("--id", default=None, help="the shorthand target's Id (default 1)")
    p.set_defaults(func=lambda a: _request(_put_targets, a))

    p = subparsers.add_parser("list-rules", help="EventBridge ListRules")
    bus(p)
    p.add_argument("--name-prefix", default=None)
    p.set_defaults(func=lambda a: _request(_list_rules, a))
    p = subparsers.add_parser("list-targets-by-rule", help="EventBridge ListTargetsByRule")
    bus(p)
    p.add_argument("--rule", required=True)
    p.set_defaults(func=lambda a: _request(_list_targets, a))
    p = subparsers.add_parser("remove-targets", help="EventBridge RemoveTargets")
    bus(p)
    p.add_argument("--rule", required=True)
    p.add_argument("--ids", nargs="+", required=True)
    p.set_defaults(func=lambda a: _request(_remove_targets, a))
    p = subparsers.add_parser("delete-rule", help="EventBridge DeleteRule (a rule without targets)")
    bus(p)
    p.add_argument("--name", required=True)
    p.set_defaults(func=lambda a: _request(_delete_rule, a))

    p = subparsers.add_parser("put-events", help="EventBridge PutEvents onto the events:<bus> streams")
    _common(p)
    p.add_argument("--entries", required=True,
                   help='JSON list, e.g. \'[{"Source": "shop", "DetailType": "Order", "Detail": "{}"}]\'')
    p.set_defaults(func=lambda a: _request(_put_events, a))
