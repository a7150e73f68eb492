"""What every ``express-engine`` command shares: exit codes, JSON output, usage errors, argument types."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from ..errors import Diagnostic
from ..eventloop import run_async
from ..jsonutil import dumps
from ..sink_spec import parse_sink_spec

__all__ = ["EXIT_FAILED", "EXIT_INVALID", "EXIT_OK", "EXIT_UNREACHABLE", "add_wait_for_redis", "check_redis_url",
           "emit", "invalid_definition", "read_text_file", "redis_reachable", "run_async",
           "sink_spec", "time_scale", "usage_error"]

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
#: Exit status when Redis (or the port to serve) cannot be reached.
EXIT_UNREACHABLE = 3


def emit(obj: Any) -> None:
    """Print one JSON object on stdout."""
    sys.stdout.write(dumps(obj) + "\n")
    sys.stdout.flush()


def read_text_file(path: str, what: str) -> str:
    """The UTF-8 text of ``path``; a clear UsageError (exit status 2) instead when it cannot be read."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise SystemExit(usage_error(f"cannot read {what} {path!r}: {exc.strerror}")) from None
    except UnicodeDecodeError:
        raise SystemExit(usage_error(f"{what} {path!r} is not UTF-8 text")) from None


def non_negative(text: str, what: str) -> float:
    """``text`` as a finite number >= 0 (an argparse type); otherwise the usage error "must be <what>"."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value < math.inf:  # (also refuses NaN)
        raise argparse.ArgumentTypeError(f"must be {what}, not {text!r}")
    return value


def time_scale(text: str) -> float:
    """The ``--time-scale`` argument: a finite number >= 0."""
    return non_negative(text, "a finite number >= 0 (0 skips waits)")


def usage_error(message: str) -> int:
    """Print a UsageError object (bad command-line input) and return its exit status."""
    emit({"status": "ERROR", "error": "UsageError", "cause": message})
    return EXIT_INVALID


def invalid_definition(diagnostics: list[Diagnostic], message: str) -> int:
    """Print the INVALID_DEFINITION object and return its exit code."""
    emit({"status": "INVALID_DEFINITION", "error": "InvalidDefinition", "cause": message,
          "diagnostics": [d.to_dict() for d in diagnostics]})
    return EXIT_INVALID


def sink_spec(text: str) -> str:
    """A ``--log-sink`` argument, checked by the same parser the engine and the workers use."""
    try:
        parse_sink_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def http_limits(p: argparse.ArgumentParser) -> None:
    """The HTTP API's connection limits (``api`` and ``serve``)."""
    p.add_argument("--request-timeout", type=_positive, default=30.0,
                   help="seconds a request has to arrive whole, headers and body (default 30); slower ones "
                        "are answered 408 and closed")
    p.add_argument("--max-connections", type=int, default=None,
                   help="open HTTP connections at most (default: 1000, less under a low 'ulimit -n'); "
                        "beyond it new connections are answered 503 and closed")


def egress_args(p: argparse.ArgumentParser) -> None:
    """Where http:invoke (in executions and TestState) may connect."""
    p.add_argument("--http-egress", choices=("auto", "restricted", "open"), default="auto",
                   help="restricted: http:invoke may not reach loopback, link-local or private addresses; "
                        "open: anywhere; auto (default): restricted when the HTTP API listens beyond loopback")
    p.add_argument("--http-allow", action="append", metavar="CIDR|HOST",
                   help="always let http:invoke reach these addresses or host names (comma-separated, repeatable)")
    p.add_argument("--http-deny", action="append", metavar="CIDR|HOST",
                   help="never let http:invoke reach these addresses or host names (comma-separated, repeatable)")


def egress_policy(args: argparse.Namespace, api_host: str | None) -> Any:
    """The EgressPolicy the ``--http-*`` options describe, ``auto`` decided for an API on ``api_host``."""
    from ..integrations.egress import EgressPolicy, parse_entries

    policy = EgressPolicy(args.http_egress, parse_entries(args.http_allow or ()), parse_entries(args.http_deny or ()))
    return policy.resolved(api_host)


def check_redis_url(args: argparse.Namespace) -> int | None:
    """A UsageError (exit status 2) for an unusable ``--redis-url``, else None."""
    from ..service.keys import URL_SCHEMES, redact_url, url_problem

    url = getattr(args, "redis_url", None)
    problem = url_problem(url) if isinstance(url, str) else None
    if problem is None or not isinstance(url, str):
        return None
    return usage_error(f"--redis-url {redact_url(url)!r} is not a usable Redis URL ({problem}): accepted schemes are "
                       f"{', '.join(URL_SCHEMES)}, e.g. redis://127.0.0.1:6379/0")


def wait_time(text: str) -> float:
    """The ``--wait-for-redis`` argument: seconds >= 0, or ``inf`` to wait as long as it takes."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0 (or inf), not {text!r}")
    return value


def add_wait_for_redis(p: argparse.ArgumentParser) -> None:
    """The ``--wait-for-redis SECONDS`` option of the commands that serve (serve, worker, api)."""
    p.add_argument("--wait-for-redis", type=wait_time, default=3.0, metavar="SECONDS",
                   help="at start-up, wait this long for Redis to answer before giving up "
                        "(default 3; inf waits as long as it takes, e.g. under container orchestration)")


def redis_reachable(url: str, seconds: float) -> int | None:
    """None once Redis at ``url`` answers; else print a ServiceUnavailable object and return exit status 3."""
    from ..service.keys import wait_until_reachable
    from ..service_errors import ServiceUnavailable

    try:
        run_async(wait_until_reachable, url, seconds)
    except ServiceUnavailable as exc:
        emit({"status": "ERROR", "error": "ServiceUnavailable",
              "cause": f"{exc.message}. Start Redis, check --redis-url, or pass --wait-for-redis SECONDS "
                       "to wait longer for it"})
        return EXIT_UNREACHABLE
    return None


def console_wrap(args: argparse.Namespace, default_sink: str | None) -> Any:
    """The ``wrap`` that serves the web console in front of the API (None with ``--no-console``)."""
    if getattr(args, "no_console", False):
        return None
    from ..console import with_console

    return with_console(default_sink=default_sink)
