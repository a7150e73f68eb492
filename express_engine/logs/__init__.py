"""Execution logs: CloudWatch-format events, sinks (stdout, file, Redis stream) and buffering."""

from .buffer import BufferedSink
from .format import MAX_LOGGED_DATA_BYTES, format_batch, format_event
from .router import LogRouter
from .sinks import FileSink, MemorySink, RedisStreamSink, Sink, StreamSink, open_sink

__all__ = [
    "MAX_LOGGED_DATA_BYTES",
    "BufferedSink",
    "FileSink",
    "LogRouter",
    "MemorySink",
    "RedisStreamSink",
    "Sink",
    "StreamSink",
    "format_batch",
    "format_event",
    "open_sink",
]
