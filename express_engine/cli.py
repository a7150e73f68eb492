"""The ``express-engine`` command line.

``execute`` and ``validate`` run in process; the Redis-backed commands (``serve``, ``worker``,
``create-state-machine``, ``start``, ``start-sync``, ``bench``) live in their own modules and are
registered here. Every command prints JSON on stdout and never a traceback for bad input.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

import anyio

from .errors import Diagnostic
from .jsonutil import dumps
from .service_errors import ServiceError

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def run_async(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a coroutine function on asyncio, with uvloop when it is installed."""
    try:
        import uvloop  # noqa: F401

        options = {"use_uvloop": True}
    except ImportError:  # pragma: no cover - uvloop missing on this platform
        options = {}
    return anyio.run(fn, *args, backend="asyncio", backend_options=options)


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


def time_scale(text: str) -> float:
    """The ``--time-scale`` argument: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0 (0 skips waits), not {text!r}")
    return value


def usage_error(message: str) -> int:
    """Print a UsageError object (bad command-line input) and return its exit status."""
    emit({"status": "ERROR", "error": "UsageError", "cause": message})
    return EXIT_INVALID


def invalid_definition(diagnostics: list[Diagnostic], message: str) -> int:
    """Print the INVALID_DEFINITION object and return its exit code."""
    emit({"status": "INVALID_DEFINITION", "error": "InvalidDefinition", "cause": message,
          "diagnostics": [d.to_dict() for d in diagnostics]})
    return EXIT_INVALID


def cmd_execute(args: argparse.Namespace) -> int:
    """``execute``: run one execution in process and print the StartSyncExecution response."""
    from .runtime.engine import Engine
    from .service_errors import InvalidDefinition

    definition = read_text_file(args.definition, "definition file")
    if args.input is not None and args.input_file is not None:
        return usage_error("give either --input or --input-file, not both")
    input_text = read_text_file(args.input_file, "input file") if args.input_file is not None else args.input
    engine = Engine(time_scale=args.time_scale)
    for spec in args.handler or ():
        try:
            engine.handlers.register_spec(spec)
        except ValueError as exc:
            return usage_error(str(exc))
    try:
        record = engine.create_state_machine(args.name, definition)  # validates and compiles, once
    except InvalidDefinition as exc:
        return invalid_definition(exc.diagnostics, exc.message)
    except ServiceError as exc:  # e.g. InvalidName for --name
        return usage_error(exc.message)
    try:
        response = run_async(engine.start_sync_execution, record, input_text)
    except ServiceError as exc:
        emit({"status": "INVALID_INPUT", "error": exc.code, "cause": exc.message})
        return EXIT_INVALID
    emit(response)
    return EXIT_OK if response["status"] == "SUCCEEDED" else EXIT_FAILED


def cmd_validate(args: argparse.Namespace) -> int:
    """``validate``: print ValidateStateMachineDefinition's response for a definition file."""
    from .runtime.engine import Engine

    definition = read_text_file(args.definition, "definition file")
    diagnostics = Engine.validate(definition)
    shown = [d for d in diagnostics if d.severity == "ERROR" or args.severity == "WARNING"]
    failed = any(d.severity == "ERROR" for d in diagnostics)
    emit({"result": "FAIL" if failed else "OK", "diagnostics": [d.to_dict() for d in shown], "truncated": False})
    return EXIT_INVALID if failed else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(prog="express-engine",
                                     description="Run Amazon States Language Express workflows.")
    sub = parser.add_subparsers(dest="command", required=True)

    ex = sub.add_parser("execute", help="run one execution in process and print the StartSyncExecution response")
    ex.add_argument("definition", help="ASL definition file (JSON)")
    ex.add_argument("--input", help="execution input as JSON text (default {})")
    ex.add_argument("--input-file", help="file holding the execution input")
    ex.add_argument("--handler", action="append", metavar="NAME=module:function",
                    help="serve Lambda function NAME (or a resource ARN) with a Python callable; repeatable")
    ex.add_argument("--name", default="local", help="state machine name (default: local)")
    ex.add_argument("--time-scale", type=time_scale, default=1.0,
                    help="multiply Wait/Retry delays by this factor (0 = no waiting)")
    ex.set_defaults(func=cmd_execute)

    va = sub.add_parser("validate", help="validate a definition and print the diagnostics")
    va.add_argument("definition", help="ASL definition file (JSON)")
    va.add_argument("--severity", choices=("ERROR", "WARNING"), default="ERROR")
    va.set_defaults(func=cmd_validate)

    for register in _extensions():
        register(sub)
    return parser


def _extensions() -> list[Callable[[Any], None]]:
    """Sub-commands contributed by the service modules (Redis, HTTP API, benchmarks)."""
    out: list[Callable[[Any], None]] = []
    for module_name in ("express_engine.service.commands", "express_engine.api.commands",
                        "express_engine.benchcli"):
        try:
            module = __import__(module_name, fromlist=["register"])
        except ImportError:
            continue
        out.append(module.register)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``express-engine`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
