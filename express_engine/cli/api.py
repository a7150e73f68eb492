"""``express-engine api``: the HTTP API alone (``serve`` runs it together with the workers).

* ``express-engine api --redis-url URL`` - an API server in front of workers that run elsewhere
  (API servers and workers scale independently);
* ``express-engine api --local`` - no Redis at all: executions run inside the API process, like
  Step Functions Local (``--handler NAME=module:function`` serves Lambda functions).

Authentication: ``--credentials KEY:SECRET`` (repeatable) or ``EXPRESS_ENGINE_CREDENTIALS`` turn SigV4
verification on; without credentials the server refuses non-loopback addresses unless
``--allow-anonymous`` is given.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..api.auth import credentials_from_env, parse_credentials
from ..api.server import DEFAULT_MAX_BODY, DEFAULT_PORT, is_loopback
from ..gctune import settle_heap
from .common import (
    EXIT_OK,
    add_wait_for_redis,
    console_wrap,
    egress_args,
    egress_policy,
    emit,
    http_limits,
    redis_reachable,
    run_async,
    sink_spec,
    time_scale,
    usage_error,
)

#: Exit status when the server cannot start (port taken, Redis unreachable).
EXIT_UNAVAILABLE = 3


async def _run(args: argparse.Namespace, auth: dict[str, str] | None, mocks: Any, handlers: Any) -> None:
    egress = egress_policy(args, args.host)
    from ..api.server import serve_http
    from ..integrations import install

    if args.local:
        from ..api.local import local_backend
        from ..runtime.engine import Engine

        engine = Engine(handlers=handlers, time_scale=args.time_scale)
        async with local_backend(engine, mocks=mocks, egress=egress) as (registry, client):
            settle_heap()
            await serve_http(registry, client, host=args.host, port=args.port, auth=auth, mocks=mocks,
                             handlers=handlers, max_body=args.max_body, allow_anonymous=args.allow_anonymous,
                             metrics=not args.no_metrics, request_timeout=args.request_timeout,
                             max_connections=args.max_connections, drain=args.grace, wrap=console_wrap(args, None))
        return
    from ..service.client import Client
    from ..service.keys import connect
    from ..service.registry import Registry

    redis = connect(args.redis_url)
    redis_registry = Registry(redis, namespace=args.namespace)
    redis_client = Client(redis, namespace=args.namespace, registry=redis_registry)
    try:
        # TestState runs in this process: it gets the integrations (http:invoke, nested starts, streams).
        async with install(handlers, client=redis_client, redis=redis, egress=egress):
            settle_heap()
            await serve_http(redis_registry, redis_client, host=args.host, port=args.port, auth=auth, mocks=mocks,
                             handlers=handlers, max_body=args.max_body, allow_anonymous=args.allow_anonymous,
                             metrics=not args.no_metrics, request_timeout=args.request_timeout,
                             max_connections=args.max_connections, drain=args.grace,
                             wrap=console_wrap(args, args.log_sink))
    finally:
        await redis_client.aclose()
        await redis.aclose()


def cmd_api(args: argparse.Namespace) -> int:
    """``api``: serve the AWS-compatible HTTP API until interrupted."""
    from ..runtime.mocks import MockConfig, MockConfigError
    from ..runtime.tasks import HandlerRegistry

    try:
        auth = parse_credentials(args.credentials) if args.credentials else credentials_from_env()
    except ValueError as exc:
        return usage_error(str(exc))
    try:
        mocks = MockConfig.load(args.mock_config) if args.mock_config else MockConfig.from_env()
    except MockConfigError as exc:
        return usage_error(str(exc))
    from ..integrations.aws_config import AwsConfigError, AwsSettings

    try:
        AwsSettings.from_env()  # read again where the integrations are installed; checked here, once
    except AwsConfigError as exc:
        return usage_error(str(exc))
    if not auth and not args.allow_anonymous and not is_loopback(args.host):
        return usage_error(f"refusing to serve {args.host} without authentication: pass --credentials KEY:SECRET "
                           "(or set EXPRESS_ENGINE_CREDENTIALS), or --allow-anonymous")
    try:
        egress_policy(args, args.host)
    except ValueError as exc:
        return usage_error(str(exc))
    handlers = HandlerRegistry()
    for spec in args.handler or ():
        try:
            handlers.register_spec(spec)
        except ValueError as exc:
            return usage_error(str(exc))
    if not args.local:
        unreachable = redis_reachable(args.redis_url, args.wait_for_redis)
        if unreachable is not None:
            return unreachable
    try:
        run_async(_run, args, auth, mocks, handlers)
    except KeyboardInterrupt:
        pass
    except (OSError, BaseExceptionGroup) as exc:  # the port is taken, Redis is unreachable...
        cause = _first(exc)
        if not isinstance(cause, OSError):
            raise
        emit({"status": "ERROR", "error": "ServiceUnavailable", "cause": str(cause)})
        return EXIT_UNAVAILABLE
    return EXIT_OK


def _first(exc: BaseException) -> BaseException:
    """The first leaf of a (possibly nested) exception group."""
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def register(subparsers: Any) -> None:
    """Add the ``api`` sub-command to the ``express-engine`` parser."""
    p = subparsers.add_parser("api", help="serve the AWS-compatible HTTP API only (workers run elsewhere, "
                                          "or --local)")
    p.add_argument("--redis-url", default=os.environ.get("EXPRESS_ENGINE_REDIS_URL", "redis://127.0.0.1:6379/0"),
                   help="Redis of the workers (default: $EXPRESS_ENGINE_REDIS_URL or redis://127.0.0.1:6379/0)")
    p.add_argument("--namespace", default="ee", help="key prefix of the engine in Redis (default: ee)")
    p.add_argument("--local", action="store_true", help="run executions in this process (no Redis)")
    p.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"listen port (default {DEFAULT_PORT})")
    p.add_argument("--credentials", action="append", metavar="KEY:SECRET",
                   help="require SigV4 signatures from this access key; repeatable "
                        "(default: $EXPRESS_ENGINE_CREDENTIALS)")
    p.add_argument("--allow-anonymous", action="store_true",
                   help="serve a non-loopback address without authentication")
    p.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY,
                   help=f"largest request body in bytes (default {DEFAULT_MAX_BODY})")
    p.add_argument("--mock-config", default=None, help="MockConfigFile.json (default: $SFN_MOCK_CONFIG)")
    p.add_argument("--handler", action="append", metavar="NAME=module:function",
                   help="serve Lambda function NAME with a Python callable (--local, and TestState); repeatable")
    p.add_argument("--time-scale", type=time_scale, default=1.0, help="multiply Wait/Retry delays (--local)")
    p.add_argument("--no-metrics", action="store_true", help="do not serve Prometheus metrics at GET /metrics")
    p.add_argument("--grace", type=float, default=30.0,
                   help="seconds requests in flight get to finish on SIGTERM (default 30); then they are "
                        "answered ServiceUnavailable")
    http_limits(p)
    egress_args(p)
    add_wait_for_redis(p)
    p.add_argument("--log-sink", default=None, type=sink_spec,
                   help="the workers' default log sink (redis:STREAM lets the web console list executions)")
    p.add_argument("--no-console", action="store_true", help="do not serve the web console at GET /")
    p.set_defaults(func=cmd_api)
