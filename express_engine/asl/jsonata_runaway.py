"""AWS's runaway errors for a JSONata evaluation past its bounds (depth, time, memory)."""

from __future__ import annotations

from jsonata.jexception import JException

__all__ = ["MEMORY", "STACK_OVERFLOW", "TIMEOUT", "Runaway"]

# Runaway messages: AWS's (jsonata-js test harness wording, one space after each full stop) [3P, measured].
STACK_OVERFLOW = ("Stack overflow error: Check for non-terminating recursive function. "
                  "Consider rewriting as tail-recursive.")
TIMEOUT = "Expression evaluation timeout: Check for infinite loop"
MEMORY = "Expression evaluation memory limit exceeded: Check for excessive memory usage"


class Runaway(JException):
    """A bound was exceeded. A JException so that jsonata-python's ``and``/``or`` re-raise it as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message, -1)
        self.message = message
