"""The Redis-backed service: state machine registry, start client, workers and their CLI commands."""

from .client import Client, ExecutionLimitExceeded
from .keys import Keys, connect
from .registry import Registry
from .worker import Worker, WorkerOptions

__all__ = ["Client", "ExecutionLimitExceeded", "Keys", "Registry", "Worker", "WorkerOptions", "connect"]
