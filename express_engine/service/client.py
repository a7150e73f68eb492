"""Submitting starts to the Redis stream: async starts (at-least-once) and sync starts (at-most-once).

A start is accepted by one Lua script (``ENQUEUE``, sent with ``EVALSHA``) that, atomically per start,
checks that the state machine exists, applies the backlog bound and ``XADD``s the request stamped with
the machine's current revision. Starts issued concurrently are sent together: async ones by the first
caller, which sends every start queued behind it in one script call; sync ones by a sender task
(auto-batching), so many producers cost few round trips.

Sync replies are multiplexed: each :class:`Client` subscribes to one reply channel
(``NS:reply:<client id>``) that workers publish every reply to, as ``"<request id> <payload>"``, and
one reader task hands each to the waiting request (while any is waiting). Pub/sub costs the reader no
command per reply, but a message published while its connection is down is gone; so the script records
each accepted sync start's outcome in the client's hash ``NS:sent:<client id>`` (request id -> entry
id or refusal; a worker replaces it with the reply before publishing), and the reader looks up the
requests still waiting there every time it (re)subscribes, after every quiet second, and for any
request that has waited longer than ``CATCH_UP_AFTER`` seconds. The record
also marks the start as enqueued: a sync start resent after a lost connection is never enqueued
twice, it gets the recorded outcome (or its reply). Finished requests are forgotten (``HDEL``) along
with later script calls, or by the reader when idle; the hash expires ``timeout + 60`` s after the
last sync start that needed it, so a crashed client leaves no garbage behind.

Backlog policy: workers delete each entry once it is finished, so the stream holds exactly the
unfinished starts. Instead of trimming (``MAXLEN`` would silently discard accepted starts that no
worker has read yet), the script refuses new starts while the stream holds ``max_backlog`` entries:
the caller gets ``ExecutionLimitExceeded`` and may retry later. ``MAXLEN ~`` caps the append-only
streams instead (dead letters, Redis log sinks).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import orjson

from .. import service_errors as api
from ..runtime.ids import check_name, new_uuid
from ..runtime.inputs import checked_input
from ..runtime.mocks import split_test_case
from ..runtime.versions import is_alias_arn
from .keys import RETRYABLE, Backoff, Keys
from .registry import Registry

log = logging.getLogger("express_engine.client")

#: Default bound on unfinished starts (see the module docstring).
DEFAULT_MAX_BACKLOG = 1_000_000

ExecutionLimitExceeded = api.ExecutionLimitExceeded

ENQUEUE = """
local limit = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local stale = tonumber(ARGV[3])
if stale > 0 then
  redis.call('HDEL', KEYS[3], unpack(ARGV, 4, 3 + stale))
end
local backlog = redis.call('XLEN', KEYS[1])
local out = {}
local revs = {}
local sync = false
for i = 4 + stale, #ARGV, 3 do
  local sm, rid, doc = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local result = false
  if rid ~= '' then
    sync = true
    result = redis.call('HGET', KEYS[3], rid)
    if result then
      result = tonumber(result) or result
    end
  end
  if not result then
    local rev = revs[sm]
    if rev == nil then
      rev = redis.call('HGET', KEYS[2], sm)
      revs[sm] = rev
    end
    if not rev then
      result = 0
    elseif limit > 0 and backlog >= limit then
      result = -1
    else
      result = redis.call('XADD', KEYS[1], '*', 'rev', rev, 'start', doc)
      backlog = backlog + 1
    end
    if rid ~= '' then
      redis.call('HSET', KEYS[3], rid, result)
    end
    if result ~= 0 and result ~= -1 then
      result = 1
    end
  end
  out[#out + 1] = result
end
if sync and redis.call('PTTL', KEYS[3]) < ttl then
  redis.call('PEXPIRE', KEYS[3], ttl)
end
return out
"""
# KEYS[1] starts stream, KEYS[2] revisions hash, KEYS[3] the client's hash of sync starts sent; ARGV[1]
# backlog bound (0: none), ARGV[2] expiry of KEYS[3] in ms (only ever lengthened), ARGV[3] the number of
# finished sync requests' ids that follow (forgotten from KEYS[3] here, saving a round trip), then per
# start: state machine ARN, request id ('' for async), start document (a JSON object). Each entry has two
# fields: ``rev`` (the machine's current revision, looked up once per machine per call) and ``start`` (the
# document as sent: no string building in Lua, which cost Redis a third more per start). Returns per start 1
# (accepted: an integer, cheaper to answer and read than the entry id), 0 (no such state machine) or -1
# (backlog full); a sync start already sent gets what is recorded for it (its entry id, 0 or -1, or its reply
# if a worker has answered), and is not enqueued again.

#: Finished sync requests' ids forgotten per script call at most (Lua's unpack() limit is about 8000).
MAX_STALE = 1_000

#: A sync request waiting this long (seconds) is looked up in the sent-starts hash, even while replies flow.
CATCH_UP_AFTER = 2.0


@dataclass(slots=True)
class _Start:
    """One start request on its way to the stream."""

    state_machine_arn: str
    arn: str
    doc: bytes
    start_date: float
    rid: str = ""
    error: BaseException | None = None
    #: set once the outcome is known (only single async starts wait on it: created by their caller)
    done: anyio.Event | None = None
    #: sync starts: monotonic deadline, and the future the outcome (reply payload or error) is set on
    deadline: float = 0.0
    ttl_ms: int = 0
    future: asyncio.Future[bytes] | None = None

    def settle(self) -> None:
        """Wake the caller waiting for this start's outcome, if one waits."""
        if self.done is not None:
            self.done.set()


def _error(code: str, message: str) -> api.ServiceError:
    cls = getattr(api, code, None)
    if code == "ExecutionLimitExceeded":
        cls = ExecutionLimitExceeded
    if not (isinstance(cls, type) and issubclass(cls, api.ServiceError)):
        return api.InternalFailure(f"{code}: {message}")
    return cls(message)


class Client:
    """Submits starts of state machines stored in a :class:`Registry` to the namespace's stream."""

    def __init__(self, redis: Any, *, namespace: str = "ee", registry: Registry | None = None,
                 max_backlog: int = DEFAULT_MAX_BACKLOG, max_batch: int = 1_000, retry_for: float = 10.0) -> None:
        self.redis = redis
        self.keys = Keys(namespace)
        self.registry = registry if registry is not None else Registry(redis, namespace=namespace)
        self.max_backlog = max_backlog
        self.max_batch = max_batch
        self.retry_for = retry_for
        self._script = redis.register_script(ENQUEUE)
        self._queue: list[_Start] = []
        self._sending = False
        #: this client's reply channel and its hash of sync starts sent (see the module docstring)
        self.client_id = new_uuid()
        self._reply_channel = self.keys.reply(self.client_id)
        self._sent = self.keys.sent(self.client_id)
        self._keys = [self.keys.starts, self.keys.revisions, self._sent]
        self._sync_queue: list[_Start] = []
        self._sync_sender: asyncio.Task[None] | None = None
        self._waiting: dict[str, _Start] = {}  # request id -> the sync start its caller waits for
        self._rids = itertools.count(1)  # request ids: unique within this client (its channel and hash)
        self._reader: asyncio.Task[None] | None = None
        self._delivered = 0  # replies read from the channel so far (the reader's "quiet second" test)
        self._reader_down_since: float | None = None  # when the reply channel's connection last failed
        self._closing = False  # set by aclose: the background tasks end at their next check even if not cancelled
        self._stale: list[str] = []  # finished sync requests' ids, forgotten by the next script call
        #: state machine name or ARN as given -> (its ARN, the prefix of its executions' ARNs)
        self._arns: dict[str, tuple[str, str]] = {}

    async def aclose(self) -> None:
        """Stop the background tasks (sync sender, reply reader); call it before closing the Redis client.

        A task left running would take a connection from the closed pool again and leave it open. Sync
        starts still waiting fail with ServiceUnavailable; finished ones are forgotten when the hash expires.
        """
        self._closing = True  # (a cancellation can be lost: see _ended)
        tasks = [t for t in (self._sync_sender, self._reader) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        for req in list(self._waiting.values()):
            self._fail(req, api.ServiceUnavailable("The client was closed before the execution's reply arrived"))

    # -- requests ----------------------------------------------------------------------------------

    async def _routed(self, state_machine_arn: str) -> tuple[str, str | None]:
        """``(what to start, alias ARN or None)``: an alias ARN is replaced by the version its routing picks."""
        sm_arn, case = split_test_case(state_machine_arn)
        if not is_alias_arn(sm_arn):
            return state_machine_arn, None
        version_arn = await self.registry.route(sm_arn)
        return (f"{version_arn}#{case}" if case else version_arn), sm_arn

    def _request(self, state_machine_arn: str, input: str | None, name: str | None, test_case: str | None,
                 *, sync: bool, timeout: float = 0.0, alias: str | None = None) -> _Start:
        """Validate a start like AWS does and build its stream document."""
        # ``ARN#TestCase`` selects a mocked test case, as with Step Functions Local.
        sm_arn, case = (split_test_case(state_machine_arn) if isinstance(state_machine_arn, str)
                        else (state_machine_arn, None))
        sm_arn, prefix = (isinstance(sm_arn, str) and self._arns.get(sm_arn)) or self._arn_prefixes(sm_arn)
        data = checked_input(input)
        if name is None:
            name = new_uuid()
        else:
            check_name(name)
        arn = f"{prefix}{name}:{new_uuid()}"
        now = time.time()
        doc: dict[str, Any] = {"sm": sm_arn, "arn": arn, "name": name, "mode": "sync" if sync else "async",
                               "ts": now * 1000}
        rid = ""
        if sync:
            rid = str(next(self._rids))
            doc["reply"] = self._reply_channel
            doc["sent"] = self._sent
            doc["rid"] = rid
            doc["deadline"] = (now + timeout) * 1000
        if test_case or case:
            doc["test_case"] = test_case or case
        if alias:
            doc["alias"] = alias
        # The input goes in as the text it came as (checked, never parsed into a value here): "input" is last.
        return _Start(sm_arn, arn, b"".join((orjson.dumps(doc)[:-1], b',"input":', data, b"}")), now, rid)

    def _arn_prefixes(self, name_or_arn: str) -> tuple[str, str]:
        """The state machine ARN for a name or ARN (raises InvalidArn), and its execution ARNs' prefix."""
        sm_arn = self.registry.arn(name_or_arn)
        parts = sm_arn.split(":")
        known = sm_arn, f"arn:aws:states:{parts[3]}:{parts[4]}:express:{parts[6]}:"
        if len(self._arns) >= 1024:  # (a cache: callers may name any number of machines)
            self._arns.clear()
        self._arns[name_or_arn] = known
        return known

    def _ttl_ms(self, timeout: float = 0.0) -> int:
        """How long the sent-starts hash outlives a sync start's caller."""
        return int((timeout + 60.0) * 1000)

    # -- async starts ------------------------------------------------------------------------------------

    async def start_execution(self, state_machine_arn: str, input: str | None = None, name: str | None = None, *,
                              test_case: str | None = None) -> dict[str, Any]:
        """Accept an async (at-least-once) start; returns StartExecution's ``{executionArn, startDate}``.

        Raises InvalidArn, InvalidName, InvalidExecutionInput, ValidationException (input too large),
        StateMachineDoesNotExist, ExecutionLimitExceeded (backlog full), ServiceUnavailable (Redis
        unreachable for ``retry_for`` seconds). A start retried after a lost connection may run twice.
        """
        target, alias = (await self._routed(state_machine_arn) if _qualified(state_machine_arn)
                         else (state_machine_arn, None))
        req = self._request(target, input, name, test_case, sync=False, alias=alias)
        req.done = done = anyio.Event()
        self._queue.append(req)
        if not self._sending:
            await self._send_queue()
        await done.wait()
        if req.error is not None:
            raise req.error
        return {"executionArn": req.arn, "startDate": round(req.start_date, 3)}

    async def start_executions(self, state_machine_arn: str, inputs: Sequence[str | None], *,
                               test_case: str | None = None) -> list[dict[str, Any]]:
        """Accept many async starts of one machine in as few round trips as possible.

        Returns one StartExecution response per input, in order; raises the first error (starts
        before it were accepted).
        """
        if is_alias_arn(split_test_case(state_machine_arn)[0]):
            reqs = []
            for one in inputs:  # (an alias picks a version for each start)
                target, alias = await self._routed(state_machine_arn)
                reqs.append(self._request(target, one, None, test_case, sync=False, alias=alias))
        else:
            reqs = [self._request(state_machine_arn, i, None, test_case, sync=False) for i in inputs]
        for i in range(0, len(reqs), self.max_batch):
            chunk = reqs[i:i + self.max_batch]
            await self._send(chunk)
            for req in chunk:
                if req.error is not None:
                    raise req.error
        return [{"executionArn": r.arn, "startDate": round(r.start_date, 3)} for r in reqs]

    async def _send_queue(self) -> None:
        """Send every queued start (this caller leads; concurrent callers just wait for their event)."""
        self._sending = True
        try:
            await anyio.lowlevel.checkpoint()  # let concurrent callers queue behind us
            while self._queue:
                batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
                await self._send(batch)
        finally:
            self._sending = False
            for req in self._queue:  # only left when we were cancelled: nobody else would send them
                req.error = api.ServiceUnavailable("The start was not sent: its sender was cancelled")
                req.settle()
            self._queue = []

    async def _send(self, batch: list[_Start]) -> None:
        args: list[Any] = [self.max_backlog, self._ttl_ms(), 0]
        for req in batch:
            args += (req.state_machine_arn, "", req.doc)
        try:
            results = await self._call(args)
        except BaseException as exc:
            err = exc if isinstance(exc, api.ServiceError) else api.ServiceUnavailable(
                "The start was not accepted: its request to Redis was interrupted")
            for req in batch:
                req.error = err
                req.settle()
            raise
        for req, res in zip(batch, results, strict=True):
            req.error = self._refusal(req, res)
            req.settle()

    async def _call(self, args: list[Any]) -> list[Any]:
        deadline = time.monotonic() + self.retry_for
        backoff = Backoff()
        while True:
            try:
                result: list[Any] = await self._script(keys=self._keys, args=args)
                return result
            except RETRYABLE as exc:
                delay = backoff.next()
                if time.monotonic() + delay > deadline:
                    raise api.ServiceUnavailable(f"Redis is unreachable: {exc}") from None
                await anyio.sleep(delay)

    def _refusal(self, req: _Start, result: Any) -> api.ServiceError | None:
        """The error for a start the script refused (0: no such machine, -1: backlog full), else None."""
        if result == 0:
            return api.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{req.state_machine_arn}'")
        if result == -1:
            return ExecutionLimitExceeded(f"Execution Limit Exceeded: {self.max_backlog} starts are waiting for a "
                                          "worker; retry later")
        return None

    # -- sync starts ---------------------------------------------------------------------------------------

    async def start_sync_execution(self, state_machine_arn: str, input: str | None = None, name: str | None = None,
                                   *, test_case: str | None = None, timeout: float = 330.0) -> dict[str, Any]:
        """Run one execution on a worker and return the StartSyncExecution response.

        At-most-once: the start is enqueued once and never re-run; if its worker dies the reply is
        an InternalFailure. Raises the errors of :meth:`start_execution`, and ServiceUnavailable when
        no reply came within ``timeout`` seconds.
        """
        response: dict[str, Any] = orjson.loads(await self.start_sync_execution_json(
            state_machine_arn, input, name, test_case=test_case, timeout=timeout))
        return response

    async def start_sync_execution_json(self, state_machine_arn: str, input: str | None = None,
                                        name: str | None = None, *, test_case: str | None = None,
                                        timeout: float = 330.0) -> bytes:
        """:meth:`start_sync_execution`, answered with the response as the worker serialised it (JSON bytes)."""
        target, alias = (await self._routed(state_machine_arn) if _qualified(state_machine_arn)
                         else (state_machine_arn, None))
        req = self._request(target, input, name, test_case, sync=True, timeout=timeout, alias=alias)
        loop = asyncio.get_running_loop()
        req.deadline = time.monotonic() + timeout
        req.ttl_ms = self._ttl_ms(timeout)
        req.future = future = loop.create_future()
        # A bare timer rather than asyncio.timeout(): this runs for every request, and costs a fifth as much.
        expiry = loop.call_later(timeout, _expire, future, timeout)
        self._waiting[req.rid] = req
        try:
            self._sync_queue.append(req)
            if self._sync_sender is None:
                self._sync_sender = loop.create_task(self._send_sync())
            if self._reader is None:
                self._reader = loop.create_task(self._read_replies())
            payload: bytes = await future
        finally:
            expiry.cancel()
            del self._waiting[req.rid]
            self._stale.append(req.rid)
        if payload.startswith(api.ERROR_BODY_PREFIX):
            doc = orjson.loads(payload)
            raise _error(doc["__type"], doc.get("message", ""))
        return payload

    async def _send_sync(self) -> None:
        """Send the queued sync starts, as many per script call as are waiting (one task, while any is)."""
        try:
            while self._sync_queue and not self._closing:
                batch, self._sync_queue = self._sync_queue[:self.max_batch], self._sync_queue[self.max_batch:]
                await self._send_sync_batch(batch)
        finally:
            self._sync_sender = None
            for req in self._sync_queue:  # only left when we were cancelled (the event loop is closing)
                self._fail(req, api.ServiceUnavailable("The start was not sent: its sender was cancelled"))
            self._sync_queue = []

    async def _send_sync_batch(self, batch: list[_Start]) -> None:
        backoff = Backoff()
        give_up = time.monotonic() + self.retry_for
        while True:
            # Requests whose caller gave up (timed out, cancelled) are not sent again: that caller got its
            # error; a start that a broken call did enqueue still runs at most once, its reply unread.
            batch = [r for r in batch if r.future is not None and not r.future.done()]
            if not batch or self._closing:
                return
            stale = self._take_stale()
            args: list[Any] = [self.max_backlog, max(r.ttl_ms for r in batch), len(stale), *stale]
            for req in batch:
                args += (req.state_machine_arn, req.rid, req.doc)
            try:
                results = await self._script(keys=self._keys, args=args)
                break
            except RETRYABLE as exc:
                # Resending is safe: the script recorded each start it accepted, and answers a resend with that.
                self._stale[:0] = stale
                now = time.monotonic()
                left = max(r.deadline for r in batch) - now
                if left <= 0:
                    return  # every caller has timed out by now
                delay = backoff.next()
                if now + delay > give_up:  # as for async starts: ServiceUnavailable after retry_for seconds
                    for req in batch:
                        self._fail(req, api.ServiceUnavailable(f"Redis is unreachable: {exc}"))
                    return
                await asyncio.sleep(min(delay, left))
            except Exception as exc:  # not a connection problem: resending would not help
                for req in batch:
                    self._fail(req, exc)
                return
        for req, res in zip(batch, results, strict=True):
            refusal = self._refusal(req, res)
            if refusal is not None:
                self._fail(req, refusal)
            elif isinstance(res, bytes) and res[:1] == b"{":  # a resend, answered while we were away
                self._resolve(req.rid, res)

    @staticmethod
    def _fail(req: _Start, error: BaseException) -> None:
        if req.future is not None and not req.future.done():
            req.future.set_exception(error)

    def _take_stale(self) -> list[str]:
        """Up to MAX_STALE ids of finished sync requests, taken off the list to be forgotten now."""
        stale, self._stale = self._stale[:MAX_STALE], self._stale[MAX_STALE:]
        return stale

    def _resolve(self, rid: str, payload: bytes) -> None:
        req = self._waiting.get(rid)
        if req is not None and req.future is not None and not req.future.done():
            req.future.set_result(payload)

    async def _read_replies(self) -> None:
        """Hand each reply published on this client's channel to its waiting request (one task, while any waits)."""
        backoff = Backoff()
        try:
            while not self._closing:
                if self._waiting:
                    await self._subscribed(backoff)
                elif self._stale:  # nothing waits: forget the finished requests (and their replies) now
                    stale = self._take_stale()
                    with contextlib.suppress(*RETRYABLE):
                        await self.redis.hdel(self._sent, *stale)
                else:
                    return  # (no await between this check and the reset below: a new caller starts a reader)
        finally:
            self._reader = None

    def _reply_connection(self) -> Any:
        """A connection of its own for the reply channel, speaking RESP2.

        With RESP3 (redis-py's default since 8.0) every message is a push notification, which redis-py
        logs at debug level by formatting the whole message first: 2-3 times the cost of reading it.
        """
        pool = self.redis.connection_pool
        return pool.connection_class(**{**pool.connection_kwargs, "protocol": 2})

    async def _subscribed(self, backoff: Backoff) -> None:
        """Deliver replies from one subscription of the reply channel while requests wait.

        A pump task reads the channel without a timeout (a timed read costs more than the message); this
        task wakes every second to forget finished requests and look for replies recorded but never seen.
        """
        conn = self._reply_connection()
        pump: asyncio.Task[None] | None = None
        try:
            await conn.connect()
            await conn.send_command("SUBSCRIBE", self._reply_channel)
            pump = asyncio.get_running_loop().create_task(self._pump(conn, backoff))
            while self._waiting and not self._closing:
                delivered = self._delivered
                await asyncio.wait((pump,), timeout=1.0)
                if pump.done():
                    pump.result()  # raises what ended it
                    return
                if self._stale:
                    await self.redis.hdel(self._sent, *self._take_stale())
                # However a message got lost, a caller waits at most a few seconds longer, never until
                # its timeout: after a quiet second every waiting request is looked up, and under a steady
                # flow of replies every request waiting longer than CATCH_UP_AFTER.
                if self._delivered == delivered:
                    await self._catch_up(list(self._waiting))
                else:
                    since = time.time() - CATCH_UP_AFTER
                    await self._catch_up([rid for rid, req in self._waiting.items() if req.start_date < since])
        except Exception as exc:
            if not isinstance(exc, RETRYABLE):
                log.warning("reading the sync reply channel %s failed: %r", self._reply_channel, exc)
            elif self._reader_down_since is None:
                self._reader_down_since = time.monotonic()
            elif time.monotonic() - self._reader_down_since > self.retry_for:
                # Redis has been gone too long for any reply to arrive: answer the waiting callers now.
                for req in list(self._waiting.values()):
                    self._fail(req, api.ServiceUnavailable(f"Redis is unreachable: {exc}"))
            await asyncio.sleep(backoff.next())
        finally:
            # The connection first: disconnect() closes the socket before it first awaits, so a cancellation
            # of this task (aclose) arriving now leaves nothing open, and a pump still reading ends on the EOF.
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                if pump is not None:
                    pump.cancel()
                await conn.disconnect()
                if pump is not None:
                    await _ended(pump)

    async def _pump(self, conn: Any, backoff: Backoff) -> None:
        """Read the reply channel's messages and resolve their requests, until cancelled or disconnected."""
        resolve = self._resolve
        while True:
            response = await conn.read_response(timeout=math.inf, disconnect_on_error=False)
            kind = response[0]
            if kind == b"message":
                self._delivered += 1
                rid, _, payload = response[2].partition(b" ")
                resolve(rid.decode(), payload)
            elif kind == b"subscribe":
                self._reader_down_since = None
                # (Re)subscribed: replies published while we were not are recorded in the hash.
                await self._catch_up(list(self._waiting))
                backoff.reset()

    async def _catch_up(self, rids: list[str]) -> None:
        """Resolve those of ``rids`` whose reply is already recorded in the sent-starts hash."""
        for i in range(0, len(rids), 1000):
            chunk = rids[i:i + 1000]
            for rid, value in zip(chunk, await self.redis.hmget(self._sent, chunk), strict=True):
                if value is not None and value[:1] == b"{":
                    self._resolve(rid, value)


async def _ended(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait for its end, cancelling it again while it runs on.

    On Python 3.11 a cancellation can be lost: ``asyncio.wait_for``, which redis-py wraps around every write
    when a socket timeout is set (its default since 8.0), returns normally when the write completes in the
    loop turn the cancellation arrives in (bpo-42130; ``wait_for`` was rewritten in 3.12). The task then reads
    on, and a single cancellation would leave it (and its connection) running for good.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait((task,), timeout=0.05)


def _qualified(arn: str) -> bool:
    """Whether ``arn`` may be a version or alias ARN (a cheap test: most starts name a machine)."""
    return isinstance(arn, str) and arn.count(":") >= 7


def _expire(future: asyncio.Future[bytes], timeout: float) -> None:
    if not future.done():
        future.set_exception(api.ServiceUnavailable(f"No worker replied within {timeout:g} s (is a worker running?)"))
