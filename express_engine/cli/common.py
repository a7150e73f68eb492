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

__all__ = ["EXIT_FAILED", "EXIT_INVALID", "EXIT_OK", "emit", "invalid_definition", "read_text_file",
           "run_async", "sink_spec", "time_scale", "usage_error"]

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


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


def sink_spec(text: str) -> str:
    """A ``--log-sink`` argument, checked by the same parser the engine and the workers use."""
    try:
        parse_sink_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def console_wrap(args: argparse.Namespace, default_sink: str | None) -> Any:
    """The ``wrap`` that serves the web console in front of the API (None with ``--no-console``)."""
    if getattr(args, "no_console", False):
        return None
    from ..console import with_console

    return with_console(default_sink=default_sink)
