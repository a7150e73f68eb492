"""The Redis-backed service: state machine registry, start client, workers, event sources and rules."""

from .client import Client, ExecutionLimitExceeded
from .event_patterns import EventPattern, InvalidEventPattern, compile_pattern
from .event_sources import EventSource, EventSources, SourceRunner
from .keys import Keys, connect
from .registry import Registry
from .rules import Rules, put_events
from .worker import Worker, WorkerOptions

__all__ = ["Client", "EventPattern", "EventSource", "EventSources", "ExecutionLimitExceeded", "InvalidEventPattern",
           "Keys", "Registry", "Rules", "SourceRunner", "Worker", "WorkerOptions", "compile_pattern", "connect",
           "put_events"]
