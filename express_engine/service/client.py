"""Submitting starts to the Redis stream: async starts (at-least-once) and sync starts (at-most-once).

A start is accepted by one Lua script (``ENQUEUE``) that, atomically per start, checks that the state
machine exists, applies the backlog bound and ``XADD``s the request stamped with the machine's
current revision. Async starts issued concurrently are sent together: the first caller sends every
start queued behind it in one script call (auto-batching), so many producers cost few round trips.

A sync start pipelines the script and an ``XREAD BLOCK`` on its own reply stream, so the caller
waits for the worker's reply in a single round trip. The script creates the reply stream when it
accepts the start, which marks the start as enqueued: a sync start resent after a lost connection
is never enqueued twice, and since reading a stream (unlike popping a list) consumes nothing, a reply
lost in transit is read again.

Backlog policy: workers delete each entry once it is finished, so the stream holds exactly the
unfinished starts. Instead of trimming (``MAXLEN`` would silently discard accepted starts that no
worker has read yet), the script refuses new starts while the stream holds ``max_backlog`` entries:
the caller gets ``ExecutionLimitExceeded`` and may retry later. ``MAXLEN ~`` caps the append-only
streams instead (dead letters, Redis log sinks).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import orjson

from .. import service_errors as api
from ..runtime.engine import check_name, new_uuid, parse_input
from .keys import RETRYABLE, Backoff, Keys, text
from .registry import Registry

#: Default bound on unfinished starts (see the module docstring).
DEFAULT_MAX_BACKLOG = 1_000_000

ExecutionLimitExceeded = api.ExecutionLimitExceeded

ENQUEUE = """
local limit = tonumber(ARGV[1])
local ttl = ARGV[2]
local stale = tonumber(ARGV[3])
for i = 4, 3 + stale do
  redis.call('UNLINK', ARGV[i])
end
local backlog = redis.call('XLEN', KEYS[1])
local out = {}
for i = 4 + stale, #ARGV, 3 do
  local sm, reply, doc = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local result
  if reply ~= '' and redis.call('EXISTS', reply) == 1 then
    result = 'DUP'
  else
    local rev = redis.call('HGET', KEYS[2], sm)
    if not rev then
      result = 0
    elseif limit > 0 and backlog >= limit then
      result = -1
    else
      result = redis.call('XADD', KEYS[1], '*', 'start', '{"rev":"' .. rev .. '",' .. string.sub(doc, 2))
      backlog = backlog + 1
    end
    if reply ~= '' then
      if result == 0 then
        redis.call('XADD', reply, '0-2', 'error', 'StateMachineDoesNotExist')
      elseif result == -1 then
        redis.call('XADD', reply, '0-2', 'error', 'ExecutionLimitExceeded')
      else
        redis.call('XADD', reply, '0-1', 'accepted', result)
      end
      redis.call('PEXPIRE', reply, ttl)
    end
  end
  out[#out + 1] = result
end
return out
"""
# KEYS[1] starts stream, KEYS[2] revisions hash; ARGV[1] backlog bound (0: none), ARGV[2] reply expiry in
# ms, ARGV[3] the number of finished calls' reply streams that follow (deleted here, saving a round trip),
# then per start: state machine ARN, reply stream ('' for async), start document (a JSON object, to
# which the script adds the machine's current "rev"; one field per entry keeps reading it cheap).
# Returns per start the entry id, 0 (no such state machine), -1 (backlog full) or 'DUP' (sync start
# already accepted).
# A sync start's reply stream is created here (entry 0-1 "accepted", or 0-2 "error" when refused), so
# it doubles as the "already enqueued" marker and the caller's XREAD after 0-1 returns the outcome.


@dataclass(slots=True)
class _Start:
    """One start request on its way to the stream."""

    state_machine_arn: str
    arn: str
    doc: bytes
    start_date: float
    reply: str = ""
    error: BaseException | None = None
    done: anyio.Event = field(default_factory=anyio.Event)


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
        self._stale_replies: list[str] = []

    # -- requests ----------------------------------------------------------------------------------

    def _request(self, state_machine_arn: str, input: str | None, name: str | None, test_case: str | None,
                 *, sync: bool, timeout: float = 0.0) -> _Start:
        """Validate a start like AWS does and build its stream document."""
        # ``ARN#TestCase`` selects a mocked test case, as with Step Functions Local.
        sm_arn, _, case = (state_machine_arn.partition("#") if isinstance(state_machine_arn, str)
                           else (state_machine_arn, "", ""))
        sm_arn = self.registry.arn(sm_arn)
        value = parse_input(input)
        if name is None:
            name = new_uuid()
        else:
            check_name(name)
        parts = sm_arn.split(":")
        arn = f"arn:aws:states:{parts[3]}:{parts[4]}:express:{parts[6]}:{name}:{new_uuid()}"
        now = time.time()
        doc: dict[str, Any] = {"sm": sm_arn, "arn": arn, "name": name, "input": value,
                               "mode": "sync" if sync else "async", "ts": now * 1000}
        reply = ""
        if sync:
            reply = self.keys.reply(new_uuid())
            doc["reply"] = reply
            doc["deadline"] = (now + timeout) * 1000
        if test_case or case:
            doc["test_case"] = test_case or case
        return _Start(sm_arn, arn, orjson.dumps(doc), now, reply)

    def _ttl_ms(self, timeout: float = 0.0) -> int:
        """How long a sync start's reply stream may outlive its caller (normally the caller deletes it)."""
        return int((timeout + 60.0) * 1000)

    # -- async starts ------------------------------------------------------------------------------------

    async def start_execution(self, state_machine_arn: str, input: str | None = None, name: str | None = None, *,
                              test_case: str | None = None) -> dict[str, Any]:
        """Accept an async (at-least-once) start; returns StartExecution's ``{executionArn, startDate}``.

        Raises InvalidArn, InvalidName, InvalidExecutionInput, ValidationException (input too large),
        StateMachineDoesNotExist, ExecutionLimitExceeded (backlog full), ServiceUnavailable (Redis
        unreachable for ``retry_for`` seconds). A start retried after a lost connection may run twice.
        """
        req = self._request(state_machine_arn, input, name, test_case, sync=False)
        self._queue.append(req)
        if not self._sending:
            await self._send_queue()
        await req.done.wait()
        if req.error is not None:
            raise req.error
        return {"executionArn": req.arn, "startDate": req.start_date}

    async def start_executions(self, state_machine_arn: str, inputs: Sequence[str | None], *,
                               test_case: str | None = None) -> list[dict[str, Any]]:
        """Accept many async starts of one machine in as few round trips as possible.

        Returns one StartExecution response per input, in order; raises the first error (starts
        before it were accepted).
        """
        reqs = [self._request(state_machine_arn, i, None, test_case, sync=False) for i in inputs]
        for i in range(0, len(reqs), self.max_batch):
            chunk = reqs[i:i + self.max_batch]
            await self._send(chunk)
            for req in chunk:
                if req.error is not None:
                    raise req.error
        return [{"executionArn": r.arn, "startDate": r.start_date} for r in reqs]

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
                req.done.set()
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
                req.done.set()
            raise
        for req, res in zip(batch, results, strict=True):
            if res == 0:
                req.error = api.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{req.state_machine_arn}'")
            elif res == -1:
                req.error = self._backlog_full()
            req.done.set()

    async def _call(self, args: list[Any]) -> list[Any]:
        deadline = time.monotonic() + self.retry_for
        backoff = Backoff()
        while True:
            try:
                return await self._script(keys=[self.keys.starts, self.keys.revisions], args=args)
            except RETRYABLE as exc:
                delay = backoff.next()
                if time.monotonic() + delay > deadline:
                    raise api.ServiceUnavailable(f"Redis is unreachable: {exc}") from None
                await anyio.sleep(delay)

    def _backlog_full(self) -> api.ServiceError:
        return ExecutionLimitExceeded(f"Execution Limit Exceeded: {self.max_backlog} starts are waiting for a "
                                      "worker; retry later")

    # -- sync starts ---------------------------------------------------------------------------------------

    async def start_sync_execution(self, state_machine_arn: str, input: str | None = None, name: str | None = None,
                                   *, test_case: str | None = None, timeout: float = 330.0) -> dict[str, Any]:
        """Run one execution on a worker and return the StartSyncExecution response.

        At-most-once: the start is enqueued once and never re-run; if its worker dies the reply is
        an InternalFailure. Raises the errors of :meth:`start_execution`, and ServiceUnavailable when
        no reply came within ``timeout`` seconds.
        """
        req = self._request(state_machine_arn, input, name, test_case, sync=True, timeout=timeout)
        deadline = time.monotonic() + timeout
        backoff = Backoff()
        # Reply streams of finished calls are deleted by the next call's script (no round trip of their own).
        stale, self._stale_replies = self._stale_replies, []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise api.ServiceUnavailable(f"No worker replied within {timeout:g} s (is a worker running?)")
                try:
                    async with self.redis.pipeline(transaction=False) as pipe:
                        pipe.eval(ENQUEUE, 2, self.keys.starts, self.keys.revisions, self.max_backlog,
                                  self._ttl_ms(timeout), len(stale), *stale, req.state_machine_arn, req.reply,
                                  req.doc)
                        pipe.xread({req.reply: "0-1"}, count=1, block=max(1, int(left * 1000)))
                        got = (await pipe.execute())[-1]
                    stale = []
                except RETRYABLE:
                    # Resending is safe: the reply stream marks the start as enqueued, and reading it
                    # (unlike popping a list) loses nothing when the connection breaks.
                    await anyio.sleep(min(backoff.next(), max(0.0, deadline - time.monotonic())))
                    continue
                if got:
                    break
        finally:
            stale.append(req.reply)
            self._stale_replies += stale
        # RESP2: [[key, [(id, fields)]]]; RESP3: {key: [[(id, fields)]]}
        fields = (next(iter(got.values()))[0] if isinstance(got, dict) else got[0][1])[0][1]
        if b"error" in fields or "error" in fields:
            code = text(fields.get(b"error") or fields.get("error"))
            if code == "StateMachineDoesNotExist":
                raise api.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{req.state_machine_arn}'")
            raise self._backlog_full()
        doc = orjson.loads(fields.get(b"reply") or fields.get("reply"))
        if "__type" in doc:
            raise _error(doc["__type"], doc.get("message", ""))
        return doc
