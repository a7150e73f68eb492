"""Redis key names of one engine namespace, and the shared Redis connection helpers.

Every key of a namespace ``NS`` starts with ``NS:``:

- ``NS:machines`` (hash): state machine ARN -> JSON document (definition, logging, revision, tags...);
- ``NS:revisions`` (hash): state machine ARN -> current revision id (read by the start script);
- ``NS:starts`` (stream, consumer group ``workers``): the start requests not yet finished, each entry
  with fields ``rev`` (the state machine's revision when it was accepted) and ``start`` (JSON: sm, arn,
  name, input, mode, reply, sent, rid, deadline, test_case, ts);
- ``NS:dead`` (stream, ``MAXLEN ~``): start requests given up on, with the reason;
- ``NS:reply:<client id>`` (pub/sub channel): the replies to one client's synchronous starts, each
  message ``"<request id> <payload>"``;
- ``NS:sent:<client id>`` (hash, expires): request id -> outcome of each sync start that client sent
  (entry id or refusal), replaced by the reply once a worker has answered it;
- ``NS:stats`` (hash): consumer name -> JSON statistics of that worker process;
- ``NS:sources`` (hash): event source name -> JSON definition; ``NS:source-stats:NAME`` (hash) its
  counters; ``NS:source-dead:NAME`` (stream) its dead letters; ``NS:rules`` (hash): ``bus/rule`` ->
  JSON rule and targets (see :mod:`.event_sources`, :mod:`.rules`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache
from typing import Any

import redis.asyncio as aredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import BusyLoadingError, ConnectionError, TimeoutError

#: Errors after which a command may succeed once Redis is reachable (again).
RETRYABLE = (ConnectionError, TimeoutError, BusyLoadingError, OSError)

#: The consumer group every worker joins.
GROUP = "workers"


@dataclass(frozen=True, slots=True)
class Keys:
    """The key names of one namespace."""

    namespace: str = "ee"

    @property
    def machines(self) -> str:
        """Hash: state machine ARN -> JSON document."""
        return f"{self.namespace}:machines"

    @property
    def revisions(self) -> str:
        """Hash: state machine ARN -> revision id."""
        return f"{self.namespace}:revisions"

    @property
    def starts(self) -> str:
        """Stream of pending start requests."""
        return f"{self.namespace}:starts"

    @property
    def dead(self) -> str:
        """Dead-letter stream."""
        return f"{self.namespace}:dead"

    @property
    def stats(self) -> str:
        """Hash of per-worker statistics."""
        return f"{self.namespace}:stats"

    def reply(self, client_id: str) -> str:
        """The pub/sub channel the replies to one client's synchronous starts are published on."""
        return f"{self.namespace}:reply:{client_id}"

    def sent(self, client_id: str) -> str:
        """Hash: request id -> outcome (entry id, 0 or -1), then reply, of each sync start one client sent."""
        return f"{self.namespace}:sent:{client_id}"


def connect(url: str, **kwargs: Any) -> aredis.Redis:
    """A ``redis.asyncio`` client for ``url`` with the settings the service relies on.

    Replies are bytes, and redis-py does not retry on its own: a command whose connection broke may
    or may not have run, and the callers (workers, clients) decide what is safe to resend.
    """
    kwargs.setdefault("retry", Retry(NoBackoff(), 0))
    kwargs.setdefault("socket_connect_timeout", 5.0)
    if not url.startswith("unix:"):
        kwargs.setdefault("socket_keepalive", True)
    client = aredis.from_url(url, decode_responses=False, **kwargs)
    pool = client.connection_pool
    pool.connection_class = hiredis_packing(pool.connection_class)
    return client


@cache
def hiredis_packing(connection_class: type[Any]) -> type[Any]:
    """``connection_class`` packing commands with hiredis (C) instead of redis-py's Python packer.

    redis.asyncio packs in Python: ~14 us for one start script call, ~44 us for a worker's batch of
    eight sync replies; hiredis takes a fifth of that. Without hiredis the class is returned as is.
    """
    try:
        from hiredis import pack_command
    except ImportError:  # pragma: no cover - hiredis is a dependency
        return connection_class

    def pack(self: Any, *args: Any) -> list[bytes]:
        head = args[0]
        if (" " in head) if isinstance(head, str) else (isinstance(head, bytes) and b" " in head):
            args = (*head.split(), *args[1:])  # "CLIENT SETNAME" etc. are sent as separate words, as redis-py does
        try:
            return [pack_command(args)]
        except TypeError:  # redis-py's own packer raises its DataError for values it cannot send
            return connection_class.pack_command(self, *args)

    return type(connection_class.__name__, (connection_class,), {"pack_command": pack, "__module__": __name__})


class Backoff:
    """Exponential backoff with full jitter, for reconnect loops."""

    def __init__(self, first: float = 0.05, cap: float = 2.0) -> None:
        self.first = first
        self.cap = cap
        self._next = first

    def reset(self) -> None:
        """Start again from the shortest delay (after a success)."""
        self._next = self.first

    def next(self) -> float:
        """The delay to wait now (and double the next one)."""
        delay = random.uniform(self._next / 2, self._next)
        self._next = min(self._next * 2, self.cap)
        return delay


def text(value: bytes | str) -> str:
    """A Redis reply as text, whatever the client's ``decode_responses``."""
    return value.decode() if isinstance(value, bytes) else value
