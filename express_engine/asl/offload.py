"""Handing a long evaluation over to a thread: the signal, and when an evaluation may give it.

A JSONata evaluation is bounded in time (5 s) but cannot pause half-way: run on the event loop, it would hold
every other execution of its worker until it ends. So an evaluation that has computed for more than
:data:`OFFLOAD_AFTER` seconds on the event loop gives up with :class:`Offload` — where the runtime can run its
state again from the start (the sync states: Pass, Choice, Succeed, Fail, whose only effect before their
expressions is their ``...StateEntered`` event) in a worker thread of a small pool, while the event loop goes
on with the others (the GIL passes between threads every few milliseconds: :func:`sys.getswitchinterval`).
Elsewhere on the loop (a Task's, Wait's, Map's or Parallel's fields, states beside concurrent branches) just the
one evaluation runs again in the pool (:func:`express_engine.runtime.pool.on_loop`); in TestState and in the pool
itself it runs to its end.
"""

from __future__ import annotations

import threading
from typing import Any

#: Seconds an evaluation may compute on the event loop before it is run again in the pool.
OFFLOAD_AFTER = 0.002


class Offload(BaseException):  # (a BaseException: no `except Exception` on the way stops it)
    """This evaluation has computed on the event loop for :data:`OFFLOAD_AFTER` s: run its state in the pool.

    ``evaluation`` names it (the template and its two arguments; set by the template, innermost first): in a
    Task's, Wait's, Map's or Parallel's fields and beside concurrent branches the runtime evaluates just that again in
    the pool, and then runs the code that asked for it again on the loop, with its value ready.
    """

    evaluation: tuple[Any, Any, Any] | None = None

    def name(self, template: Any, states: Any, variables: Any) -> None:
        """Record the evaluation that gave up (the first naming wins: the innermost template)."""
        if self.evaluation is None:
            self.evaluation = (template, states, variables)


class _Restartable:
    """Which thread is running a state that the runtime can run again elsewhere (set by the runtime)."""

    __slots__ = ("thread",)

    def __init__(self) -> None:
        #: the thread's :func:`threading.get_ident` while a run loop runs a sync state on its event loop, else 0
        self.thread = 0


RESTARTABLE = _Restartable()


def may_offload() -> bool:
    """Whether an evaluation that has run long here should give up with :class:`Offload`."""
    return RESTARTABLE.thread == threading.get_ident()
