"""Redis key names of one engine namespace, and the shared Redis connection helpers.

Every key of a namespace ``NS`` starts with ``NS:``:

- ``NS:machines`` (hash): state machine ARN -> JSON document (definition, logging, revision, tags...);
- ``NS:revisions`` (hash): state machine ARN -> current revision id (read by the start script); a published
  version is in both hashes too, under its version ARN (``<machine ARN>:<n>``), never changed;
- ``NS:books`` (hash): state machine ARN -> its versions and aliases (JSON);
- ``NS:starts`` (stream, consumer group ``workers``): the start requests not yet finished, each entry
  with fields ``rev`` (the state machine's revision when it was accepted) and ``start`` (JSON: sm, arn,
  name, input, mode, reply, sent, rid, deadline, test_case, ts);
- ``NS:dead`` (stream, ``MAXLEN ~``): start requests given up on, with the reason;
- ``NS:reply:<client id>`` (pub/sub channel): the replies to one client's synchronous starts, each
  message ``"<request id> <payload>"``;
- ``NS:sent:<client id>`` (hash, expires): request id -> outcome of each sync start that client sent
  (entry id or refusal), replaced by the reply once a worker has answered it;
- ``NS:stats`` (hash): consumer name -> JSON statistics of that worker process.
- ``NS:totals`` (hash): executions acknowledged, by status, and their duration histogram (bucket -> count,
  ``duration_ms_sum``), incremented by the acknowledgement script itself: no worker crash can erase them.
- ``NS:sources`` (hash): event source name -> JSON definition; ``NS:source-stats:NAME`` (hash) its
  counters; ``NS:source-dead:NAME`` (stream) its dead letters; ``NS:rules`` (hash): ``bus/rule`` ->
  JSON rule and targets (see :mod:`.event_sources`, :mod:`.rules`).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

import anyio
import redis.asyncio as aredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import BusyLoadingError, ConnectionError, TimeoutError

from ..service_errors import ServiceUnavailable

#: Errors after which a command may succeed once Redis is reachable (again).
RETRYABLE = (ConnectionError, TimeoutError, BusyLoadingError, OSError)

#: The URL schemes redis-py accepts.
URL_SCHEMES = ("redis://", "rediss://", "unix://")

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
    def books(self) -> str:
        """Hash: state machine ARN -> JSON document of its versions and aliases."""
        return f"{self.namespace}:books"

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

    @property
    def totals(self) -> str:
        """Hash of the executions acknowledged (by status) and their duration histogram."""
        return f"{self.namespace}:totals"

    def reply(self, client_id: str) -> str:
        """The pub/sub channel the replies to one client's synchronous starts are published on."""
        return f"{self.namespace}:reply:{client_id}"

    def sent(self, client_id: str) -> str:
        """Hash: request id -> outcome (entry id, 0 or -1), then reply, of each sync start one client sent."""
        return f"{self.namespace}:sent:{client_id}"


def redact_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``, for banners, logs and error messages."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if not password:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


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
    pool.connection_class = hiredis_packing(pool.connection_class)  # type: ignore[arg-type]  # (classes hash)
    return client


def url_problem(url: str) -> str | None:
    """Why ``url`` is not a Redis URL redis-py can use, or None when it is."""
    if not url.startswith(URL_SCHEMES):
        return "no scheme"
    try:
        aredis.ConnectionPool.from_url(url)
    except (ValueError, TypeError) as exc:
        return str(exc)
    return None


async def wait_until_reachable(url: str, seconds: float) -> None:
    """Return once Redis at ``url`` answers PING; raise ServiceUnavailable after ``seconds`` without an answer."""
    deadline = time.monotonic() + seconds
    backoff = Backoff(first=0.1, cap=1.0)
    client = connect(url, socket_connect_timeout=min(max(seconds, 0.1), 5.0), socket_timeout=5.0)
    try:
        while True:
            try:
                await client.ping()
                return
            except RETRYABLE as exc:
                delay = backoff.next()
                if time.monotonic() + delay > deadline:
                    raise ServiceUnavailable(f"cannot reach Redis at {redact_url(url)} within {seconds:g} s: "
                                             f"{str(exc).rstrip('.')}") from None
                await anyio.sleep(delay)
    finally:
        await client.aclose()


class OutageLog:
    """Warnings about an unreachable Redis, rate-limited: the first failure, then one line per ``every`` seconds.

    A reconnect loop calls :meth:`failed` on each failed attempt and :meth:`recovered` once a command
    succeeds again, which logs how long the outage lasted.
    """

    def __init__(self, logger: logging.Logger, every: float = 10.0) -> None:
        self.logger = logger
        self.every = every
        self._since: float | None = None
        self._last = 0.0
        self._failures = 0

    def failed(self, exc: BaseException) -> None:
        """Record one failed attempt; warn if it is the first of an outage or ``every`` seconds passed."""
        now = time.monotonic()
        self._failures += 1
        if self._since is None:
            self._since = self._last = now
            self.logger.warning("Redis unreachable (%s); retrying", exc)
        elif now - self._last >= self.every:
            self._last = now
            self.logger.warning("Redis still unreachable after %.0f s (%d failed attempts): %s",
                                now - self._since, self._failures, exc)

    def recovered(self) -> None:
        """Record a success; after an outage, say that Redis is back."""
        if self._since is not None:
            self.logger.warning("Redis reachable again after %.1f s (%d failed attempts)",
                                time.monotonic() - self._since, self._failures)
            self._since = None
            self._failures = 0


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
            packed: list[bytes] = connection_class.pack_command(self, *args)
            return packed

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
