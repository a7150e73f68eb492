"""``express-engine bench``: load an engine with one workflow and report throughput, latency and resources.

    express-engine bench --target http --endpoint-url http://127.0.0.1:8083 --definition wf.asl.json \\
        --input-file input.json --rate 2000 --duration 30 --report report.json --plot report.png

Targets: ``inprocess`` (an engine in this process), ``redis`` (the start stream, like ``start-sync``)
and ``http`` (the AWS JSON API of ``serve`` / ``api``). ``--rate R`` is an open loop (latency measured
from each start's scheduled time: coordinated omission corrected), ``--concurrency N`` a closed loop.
The summary is printed as JSON on stdout, the live progress on stderr. Implementation:
:mod:`express_engine.bench`.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from .common import EXIT_OK, emit, read_text_file, run_async, time_scale, usage_error

_DESCRIPTION = """\
Load an engine with one workflow; print a JSON summary, write a JSON report and a PNG plot.

  express-engine bench --target http --endpoint-url http://127.0.0.1:8083 --definition wf.asl.json \\
      --input-file input.json --rate 2000 --duration 30 --report report.json --plot report.png

--rate R is an open loop (latency from each start's scheduled time: coordinated omission corrected),
--concurrency N a closed loop. Exit status: 0 done (even with errors: see the summary), 2 bad usage,
3 target unreachable."""

#: Exit status when the target cannot be reached or set up.
EXIT_UNREACHABLE = 3
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def _input_text(args: argparse.Namespace) -> str:
    import orjson

    if args.input is not None and args.input_file is not None:
        raise SystemExit(usage_error("give either --input or --input-file, not both"))
    text = read_text_file(args.input_file, "input file") if args.input_file is not None else (args.input or "{}")
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise SystemExit(usage_error(f"the input is not JSON: {exc}")) from None
    return text


def _check(args: argparse.Namespace) -> str | None:
    """A usage problem with the arguments, or None."""
    if (args.definition is None) == (args.state_machine is None):
        return "give either --definition FILE (creates the state machine) or --state-machine ARN"
    if args.target == "inprocess" and args.definition is None:
        return "--target inprocess needs --definition FILE"
    if args.target == "http" and not args.endpoint_url:
        return "--target http needs --endpoint-url URL"
    if args.rate is not None and args.concurrency is not None:
        return "give either --rate (open loop) or --concurrency (closed loop), not both"
    if args.rate is not None and args.rate <= 0:
        return "--rate must be positive"
    if args.concurrency is not None and args.concurrency < 1:
        return "--concurrency must be at least 1"
    if args.warmup < 0:
        return "--warmup cannot be negative"
    if args.duration is not None and args.duration <= 0:
        return "--duration must be positive"
    if args.count is not None and args.count < 1:
        return "--count must be at least 1"
    if args.max_in_flight < 1 or (args.connections is not None and args.connections < 1):
        return "--max-in-flight and --connections must be at least 1"
    return None


def _target(args: argparse.Namespace, input_text: str) -> Any:
    from ..bench.targets import HttpTarget, InProcessTarget, RedisTarget

    definition = read_text_file(args.definition, "definition file") if args.definition is not None else None
    sync = not args.async_
    if args.target == "inprocess":
        assert definition is not None
        return InProcessTarget(definition, name=args.name, input_text=input_text, sync=sync, handlers=args.handler,
                               time_scale=args.time_scale)
    redis_url = args.redis_url or os.environ.get("EXPRESS_ENGINE_REDIS_URL")
    if args.target == "redis":
        return RedisTarget(redis_url or DEFAULT_REDIS_URL, namespace=args.namespace, definition=definition,
                           state_machine=args.state_machine, name=args.name, input_text=input_text, sync=sync,
                           timeout=args.timeout)
    connections = args.connections or (args.concurrency if args.concurrency else min(args.max_in_flight, 256))
    return HttpTarget(args.endpoint_url, definition=definition, state_machine=args.state_machine, name=args.name,
                      input_text=input_text, sync=sync, timeout=args.timeout, connections=connections,
                      redis_url=None if args.no_redis else redis_url or DEFAULT_REDIS_URL, namespace=args.namespace)


def cmd_bench(args: argparse.Namespace) -> int:
    """``bench``: run the load, print the summary, write the report and the plot."""
    problem = _check(args)
    if problem:
        return usage_error(problem)
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            return usage_error("--plot needs matplotlib: pip install 'express_engine[bench]'")
    if args.handler and args.target != "inprocess":
        return usage_error("--handler serves Lambda functions in process: give the workers --handler instead")
    from ..bench.loadgen import Plan
    from ..bench.report import plot_report, summary, write_report
    from ..bench.run import run_bench
    from ..bench.targets import TargetError

    input_text = _input_text(args)
    duration = args.duration if args.duration is not None or args.count is not None else 10.0
    plan = Plan(rate=args.rate, concurrency=None if args.rate is not None else (args.concurrency or 10),
                duration=duration, count=args.count, max_in_flight=args.max_in_flight,
                drain_timeout=args.drain_timeout)
    try:
        target = _target(args, input_text)
    except ValueError as exc:  # a bad --handler spec
        return usage_error(str(exc))
    try:
        report = run_async(run_bench, target, plan, "none" if args.quiet else args.progress, args.warmup)
    except TargetError as exc:
        emit({"status": "ERROR", "error": "TargetUnavailable", "cause": str(exc)})
        return EXIT_UNREACHABLE
    if args.report:
        write_report(report, args.report)
    if args.plot:
        plot_report(report, args.plot)
    out = summary(report)
    if args.report:
        out["report"] = args.report
    if args.plot:
        out["plot"] = args.plot
    emit(out)
    return EXIT_OK


def register(subparsers: Any) -> None:
    """Add the ``bench`` sub-command to the ``express-engine`` parser."""
    p = subparsers.add_parser(
        "bench", help="load an engine (in process, Redis or HTTP) and report throughput, latency, CPU and memory",
        description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    t = p.add_argument_group("target")
    t.add_argument("--target", choices=("inprocess", "redis", "http"), default="inprocess",
                   help="what to load (default inprocess)")
    t.add_argument("--endpoint-url", help="HTTP API URL (--target http), e.g. http://127.0.0.1:8083")
    t.add_argument("--redis-url", default=None,
                   help="the engine's Redis (--target redis; with http, read for worker statistics) "
                        "(default: $EXPRESS_ENGINE_REDIS_URL or redis://127.0.0.1:6379/0)")
    t.add_argument("--no-redis", action="store_true", help="--target http: do not read worker statistics from Redis")
    t.add_argument("--namespace", default="ee", help="the engine's key prefix in Redis (default ee)")
    t.add_argument("--connections", type=int, default=None,
                   help="--target http: keep-alive connections (default: the concurrency, or 256 at a fixed rate)")
    t.add_argument("--handler", action="append", metavar="NAME=module:function",
                   help="--target inprocess: serve Lambda function NAME with a Python callable; repeatable")
    t.add_argument("--time-scale", type=time_scale, default=1.0, help="--target inprocess: multiply Wait/Retry delays")
    w = p.add_argument_group("workflow")
    w.add_argument("--definition", help="ASL definition file: creates (or updates) the state machine --name")
    w.add_argument("--state-machine", help="an existing state machine's ARN (or name)")
    w.add_argument("--name", default="express-engine-bench", help="state machine name for --definition "
                   "(default express-engine-bench)")
    w.add_argument("--input", help="execution input as JSON text (default {})")
    w.add_argument("--input-file", help="file holding the execution input")
    mode = w.add_mutually_exclusive_group()
    mode.add_argument("--sync", dest="async_", action="store_false", help="StartSyncExecution (default)")
    mode.add_argument("--async", dest="async_", action="store_true",
                      help="StartExecution: latency is the start's acceptance; the report adds the drain time")
    ld = p.add_argument_group("load")
    ld.add_argument("--rate", type=float, default=None, help="open loop: starts per second")
    ld.add_argument("--concurrency", type=int, default=None, help="closed loop: concurrent callers (default 10)")
    ld.add_argument("--duration", type=float, default=None, help="seconds of sending (default 10 unless --count)")
    ld.add_argument("--count", type=int, default=None, help="starts to send")
    ld.add_argument("--warmup", type=float, default=0.0,
                    help="seconds of the same load run first and not recorded (default 0)")
    ld.add_argument("--max-in-flight", type=int, default=10_000,
                    help="open loop: outstanding starts at most (default 10000)")
    ld.add_argument("--timeout", type=float, default=60.0, help="seconds one request may take (default 60)")
    ld.add_argument("--drain-timeout", type=float, default=30.0,
                    help="seconds to wait for outstanding answers (and async executions) at the end (default 30)")
    o = p.add_argument_group("output")
    o.add_argument("--report", metavar="FILE.json", help="write the full JSON report")
    o.add_argument("--plot", metavar="FILE.png", help="draw throughput, latency and CPU over time (matplotlib)")
    o.add_argument("--progress", choices=("auto", "rich", "plain", "none"), default="auto",
                   help="live progress on stderr (default: rich on a terminal, plain lines otherwise)")
    o.add_argument("--quiet", action="store_true", help="no live progress")
    p.set_defaults(func=cmd_bench, async_=False)


def main(argv: list[str] | None = None) -> int:
    """``benchmarks/loadgen.py``: the bench command alone."""
    parser = argparse.ArgumentParser(prog="express-engine-bench")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(["bench", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
