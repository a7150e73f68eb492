"""The log-sink setting (``stdout``, ``stderr``, ``file:PATH``, ``redis:STREAM``, ``none``), parsed in one place.

A state machine's ``loggingConfiguration.sink``, the workers' ``--log-sink`` and the log router all read it
through :func:`parse_sink_spec`, so a spec is accepted exactly where it can be opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SinkKind = Literal["stdout", "stderr", "file", "redis", "none"]

#: How the accepted forms are listed in error messages.
SINK_FORMS = "stdout, stderr, file:PATH, redis:STREAM, none"


@dataclass(frozen=True, slots=True)
class SinkSpec:
    """A parsed sink setting: its kind and, for ``file`` and ``redis``, the path or stream name."""

    kind: SinkKind
    target: str = ""


def parse_sink_spec(text: object) -> SinkSpec:
    """Parse a sink setting; ValueError (naming the accepted forms) for anything else."""
    if isinstance(text, str):
        if text in ("stdout", "stderr", "none"):
            return SinkSpec(text)  # type: ignore[arg-type]  # (narrowed by the membership test)
        kind, sep, target = text.partition(":")
        if sep and target and kind in ("file", "redis"):
            return SinkSpec(kind, target)  # type: ignore[arg-type]
    raise ValueError(f"unknown log sink {text!r} ({SINK_FORMS})")
