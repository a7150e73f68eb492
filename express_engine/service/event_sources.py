"""Event sources: start executions from entries of users' own Redis streams (like Lambda event source
mappings for Kinesis, or EventBridge Pipes with a Step Functions target).

A source is a definition in the namespace's registry (hash ``NS:sources``: name -> JSON) naming a
stream, a state machine and how entries become executions. Every worker process runs a
:class:`SourceRunner`, which reads each source's stream with the source's own consumer group
(``express-engine.NS.NAME``, created with the definition at its start position), so one source is
spread over all workers and any number of sources share them.

* **Entry -> input**: a record ``{"eventSource": "redis:stream", "stream", "id", "timestamp", "data"}``
  where ``data`` holds the entry's fields as an object, or (``json_field``) the named field parsed as
  JSON, the other fields then going to ``attributes``. A ``filter`` (an EventBridge event pattern)
  drops records that do not match (acknowledged, counted); an ``input_template`` (an ASL payload
  template, ``"key.$": "$.data.x"``) reshapes each record, or an ``input_path`` (``$.data``) selects
  part of it. ``batch_size`` 1 starts one execution per
  record; more start one per batch, its input the list of records, a batch going out when full or
  ``batch_window`` seconds after its first record.
* **Execution and acknowledgement** (``XACK`` on the user's stream; entries are never deleted from
  it): a source consumed by a worker process (``express-engine worker`` / ``serve``) runs its
  executions in that worker, in its execution slots, and acknowledges an entry once its execution
  finished (so it was accepted, and more). Without a local worker (a :class:`SourceRunner` given only
  a client), ``async`` sources start executions through the engine's start stream and acknowledge
  once the start was accepted (from then on the workers' at-least-once delivery holds it). In
  ``wait`` mode a failed or timed-out execution is retried ``max_retries`` times (first after
  ``retry_delay`` s, doubling), then the batch goes to the source's dead-letter stream
  ``NS:source-dead:NAME`` with the reason, and is acknowledged; in ``async`` mode a failed execution
  is only counted. An entry that can never become an input (a JSON field that is not JSON, an input
  over 256 KiB, an unknown machine) goes to the dead-letter stream at once.
* **Reclaim**: entries a dead worker had read stay pending in the source's group; live workers take
  them over with ``XAUTOCLAIM`` after ``claim_idle`` seconds (entries held by a live worker are
  renewed with ``XCLAIM ... JUSTID``). One delivered more than ``max_deliveries`` times is
  dead-lettered. Delivery is at least once.
* **Back-pressure**: a source reads only as many entries as its worker has free execution slots
  (without a local worker: ``async`` sources only while the start stream holds fewer than
  ``max_queued`` unfinished starts, ``wait`` sources only while fewer than ``max_in_flight`` of their
  executions run).
* **Statistics**: per source, in hash ``NS:source-stats:NAME`` (entries read, filtered, executions
  started, succeeded, failed, retried, dead-lettered), updated with each acknowledgement.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from typing import Any, Literal

import anyio
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .. import errors
from .. import service_errors as api
from ..asl.paths import Env, StaticEnv
from ..asl.templates import compile_template
from ..jsonutil import MAX_PAYLOAD_BYTES, Json, dumpb, dumps, loads
from ..runtime.engine import DEFAULT_ACCOUNT, DEFAULT_REGION
from ..runtime.inputs import checked_input
from .consumer_group import READ_MARGIN, entry_fields
from .event_patterns import EventPattern, compile_pattern
from .keys import RETRYABLE, Backoff, Keys, text
from .registry import Registry

log = logging.getLogger("express_engine.event_sources")

Mode = Literal["async", "wait"]
MODES = ("async", "wait")
#: Pipes' batch limit for a Step Functions target is 10; Lambda's Kinesis mapping allows 10,000.
MAX_BATCH_SIZE = 10_000
MAX_BATCH_WINDOW = 300.0
DEAD_MAXLEN = 100_000
_EMPTY_ENV = StaticEnv({}, {})

#: Statistic counters of a source (fields of its stats hash).
STAT_FIELDS = ("read", "filtered", "started", "succeeded", "failed", "retried", "dead_lettered")


def sources_key(namespace: str) -> str:
    """Hash: source name -> JSON definition."""
    return f"{namespace}:sources"


def group_name(namespace: str, name: str) -> str:
    """The consumer group a source reads its stream with."""
    return f"express-engine.{namespace}.{name}"


def dead_letter_stream(namespace: str, name: str) -> str:
    """The stream a source's given-up entries go to."""
    return f"{namespace}:source-dead:{name}"


def stats_key(namespace: str, name: str) -> str:
    """Hash of a source's counters."""
    return f"{namespace}:source-stats:{name}"


@dataclass(frozen=True, slots=True)
class EventSource:
    """The definition of one event source (what ``create-event-source`` stores)."""

    name: str
    stream: str
    state_machine_arn: str
    batch_size: int = 1
    batch_window: float = 0.0
    start_position: str = "LATEST"
    filter: str | None = None
    input_template: str | None = None
    json_field: str | None = None
    mode: Mode = "async"
    max_retries: int = 2
    retry_delay: float = 1.0
    max_deliveries: int = 5
    #: ``stream``: records as described in the module docstring; ``events``: EventBridge envelopes
    #: (rule targets, see :mod:`.rules`)
    kind: Literal["stream", "events"] = "stream"
    #: for rule targets: the rule (``bus/name``) and the target id
    rule: str | None = None
    target_id: str | None = None
    input_path: str | None = None
    #: a constant input (JSON text) instead of the record (a rule target's ``Input``)
    input: str | None = None
    enabled: bool = True
    #: an EventBridge-style template shaping each record instead of ``input_template`` (:mod:`.input_templates`):
    #: a Pipes ``InputTemplate`` (``<$.path>`` placeholders), or with ``transformer_paths`` a rule target's
    #: ``InputTransformer`` (``<name>`` placeholders for those paths)
    transformer_template: str | None = None
    transformer_paths: dict[str, str] | None = None
    #: the template's reserved variables (``aws.pipes.pipe-arn``, ``aws.events.rule-name``...)
    template_variables: dict[str, str] | None = None
    #: the input is always the list of the batch's records, even of one (as Pipes give Step Functions)
    as_list: bool = False
    #: the stream given-up entries go to (default: :func:`dead_letter_stream`)
    dead_letter: str | None = None
    #: what the Pipes API keeps of a source created as a pipe (``Arn``, ``Source``, ``RoleArn``, ``Tags``...)
    pipe: dict[str, Any] | None = None
    creation_date: float = field(default_factory=lambda: round(time.time(), 3))

    def to_json(self) -> str:
        return dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: bytes | str) -> EventSource:
        doc = loads(raw)
        known = {k: v for k, v in doc.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def describe(self, namespace: str) -> dict[str, Json]:
        """The definition as the CLI and API print it."""
        out: dict[str, Json] = {k: v for k, v in asdict(self).items() if v is not None}
        out["consumerGroup"] = group_name(namespace, self.name)
        out["deadLetterStream"] = self.dead_letter or dead_letter_stream(namespace, self.name)
        out.pop("dead_letter", None)
        return out


def _retry_delay(source: EventSource, attempt: int) -> float:
    """Seconds before retry ``attempt`` (1, 2, ...): ``retry_delay``, doubling (bounded, for endless retries)."""
    return float(source.retry_delay * 2 ** min(attempt - 1, 20))


def _validation(message: str) -> api.ServiceError:
    return api.ValidationException(message)


class Compiled:
    """What a consumer needs of a definition, compiled once: filter, template, input path."""

    def __init__(self, source: EventSource) -> None:
        self.source = source
        self.pattern: EventPattern | None = compile_pattern(source.filter) if source.filter else None
        template: Callable[[Json, Env], Json] | None = None
        if source.input is not None:
            try:
                constant = loads(source.input)
            except ValueError:
                raise _validation("The target's Input is not valid JSON") from None
            template = lambda _record, _env: constant  # noqa: E731
        elif source.input_template is not None:
            try:
                raw = loads(source.input_template)
            except ValueError:
                raise _validation("The input template is not valid JSON") from None
            try:
                template = compile_template(raw, "/InputTemplate")
            except errors.DefinitionError as exc:
                raise _validation(f"Invalid input template: {exc}") from None
        elif source.transformer_template is not None:
            from .input_templates import compile_input_template

            render = compile_input_template(source.transformer_template, source.template_variables,
                                            source.transformer_paths)
            template = lambda record, _env: render(record)  # noqa: E731
        elif source.input_path is not None:
            from ..asl.paths import PathSyntaxError, compile_path

            try:
                path = compile_path(source.input_path)
            except PathSyntaxError:
                raise _validation(f"Invalid InputPath: {source.input_path}") from None
            template = path.get
        self.template = template

    def transform(self, record: Json) -> Json:
        """The execution input of one record (raises ValueError for a record the template cannot shape)."""
        if self.template is None:
            return record
        try:
            return self.template(record, _EMPTY_ENV)
        except (errors.StatesError, LookupError) as exc:
            raise ValueError(f"the input template failed on this entry: {exc}") from None


def validate(source: EventSource) -> Compiled:
    """Check a definition like AWS checks a pipe / mapping (raises ValidationException, InvalidEventPattern)."""
    s = source
    if not s.name or len(s.name) > 256 or not all(c.isalnum() or c in "-_.:" for c in s.name):
        raise _validation(f"Invalid event source name '{s.name}': 1 to 256 letters, digits, '-', '_', '.' or ':'")
    if not s.stream:
        raise _validation("The stream name must not be empty")
    if not 1 <= s.batch_size <= MAX_BATCH_SIZE:
        raise _validation(f"BatchSize must be between 1 and {MAX_BATCH_SIZE}")
    if not 0 <= s.batch_window <= MAX_BATCH_WINDOW:
        raise _validation(f"MaximumBatchingWindowInSeconds must be between 0 and {MAX_BATCH_WINDOW:g}")
    if s.mode not in MODES:
        raise _validation(f"Mode must be one of {', '.join(MODES)}")
    if sum(t is not None for t in (s.input_template, s.input_path, s.transformer_template, s.input)) > 1:
        raise _validation("Give one of an input, an input template or an input path")
    if s.dead_letter is not None and (not s.dead_letter or s.dead_letter == s.stream):
        raise _validation("The dead-letter stream must be named, and not be the source's own stream")
    if s.max_retries < 0 or s.max_deliveries < 1 or s.retry_delay < 0:
        raise _validation("max_retries and retry_delay must be >= 0, max_deliveries >= 1")
    pos = s.start_position
    if pos not in ("LATEST", "TRIM_HORIZON") and not _is_entry_id(pos):
        raise _validation(f"StartingPosition must be LATEST, TRIM_HORIZON or a stream entry id, not '{pos}'")
    return Compiled(s)


def _is_entry_id(value: str) -> bool:
    ms, sep, seq = value.partition("-")
    return ms.isdigit() and (not sep or seq.isdigit())


class EventSources:
    """Event source definitions in Redis: create / get / list / delete."""

    def __init__(self, redis: Any, *, namespace: str = "ee", registry: Registry | None = None) -> None:
        self.redis = redis
        self.namespace = namespace
        self.registry = registry if registry is not None else Registry(redis, namespace=namespace)
        self.key = sources_key(namespace)

    async def create(self, source: EventSource) -> EventSource:
        """Validate and store a source, creating its consumer group at the start position.

        The state machine must exist (StateMachineDoesNotExist). The same name with the same definition
        returns the stored one; another definition raises ResourceConflict (AWS ``ConflictException``).
        """
        validate(source)
        arn = (await self.registry.get(source.state_machine_arn)).arn
        source = replace(source, state_machine_arn=arn)
        existing = await self.redis.hget(self.key, source.name)
        if existing is not None:
            old = EventSource.from_json(existing)
            if replace(old, creation_date=source.creation_date) == source:
                return old
            raise ResourceConflict(f"Event source '{source.name}' already exists with another definition")
        start = {"LATEST": "$", "TRIM_HORIZON": "0"}.get(source.start_position, source.start_position)
        try:
            await self.redis.xgroup_create(source.stream, group_name(self.namespace, source.name), id=start,
                                           mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise _validation(f"Cannot read stream '{source.stream}': {exc}") from None
        if not await self.redis.hsetnx(self.key, source.name, source.to_json()):
            return await self.create(source)  # created concurrently: compare with that one
        return source

    async def replace(self, source: EventSource) -> EventSource:
        """Overwrite a stored definition (its consumer group, and so its position, stays)."""
        validate(source)
        await self.redis.hset(self.key, source.name, source.to_json())
        return source

    async def get(self, name: str) -> EventSource:
        """A source by name; raises ResourceNotFound."""
        raw = await self.redis.hget(self.key, name)
        if raw is None:
            raise api.ResourceNotFound(f"Event source does not exist: '{name}'")
        return EventSource.from_json(raw)

    async def list(self) -> list[EventSource]:
        """Every source of the namespace, by name."""
        raw = await self.redis.hgetall(self.key)
        return sorted((EventSource.from_json(v) for v in raw.values()), key=lambda s: s.name)

    async def delete(self, name: str) -> None:
        """Delete a source and its consumer group (its dead-letter stream stays); ResourceNotFound if unknown."""
        source = await self.get(name)
        await self.redis.hdel(self.key, name)
        with contextlib.suppress(ResponseError):
            await self.redis.xgroup_destroy(source.stream, group_name(self.namespace, name))

    async def stats(self, name: str) -> dict[str, int]:
        """The counters of a source."""
        raw = await self.redis.hgetall(stats_key(self.namespace, name))
        out = dict.fromkeys(STAT_FIELDS, 0)
        out.update({text(k): int(v) for k, v in raw.items()})
        return out


class ResourceConflict(api.ServiceError):
    """AWS ``ConflictException``."""

    code = "ConflictException"


# -- records ---------------------------------------------------------------------------------------------


def _ms_of(entry_id: str) -> int:
    return int(entry_id.partition("-")[0])


def stream_record(stream: str, entry_id: str, fields: dict[bytes, bytes], json_field: str | None,
                  timestamp: int | None = None) -> Json:
    """The record of one stream entry (raises ValueError for an entry that cannot be one)."""
    record: dict[str, Json] = {"eventSource": "redis:stream", "stream": stream, "id": entry_id,
                               "timestamp": _ms_of(entry_id) if timestamp is None else timestamp}
    if json_field is not None:
        key = json_field.encode()
        raw = fields.get(key)
        if raw is None:
            raise ValueError(f"the entry has no field '{json_field}'")
        try:
            record["data"] = loads(raw)
        except ValueError:
            raise ValueError(f"field '{json_field}' of the entry is not JSON") from None
        if len(fields) == 1:
            return record
        fields = {k: v for k, v in fields.items() if k != key}
    try:
        data = {k.decode(): v.decode() for k, v in fields.items()}
    except UnicodeDecodeError:
        raise ValueError("the entry holds fields that are not UTF-8 text") from None
    if json_field is None:
        record["data"] = data
    elif data:
        record["attributes"] = data
    return record


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def event_envelope(entry_id: str, fields: dict[bytes, bytes], bus: str, *, region: str = DEFAULT_REGION,
                   account: str = DEFAULT_ACCOUNT) -> Json:
    """The EventBridge event of one ``events:<bus>`` entry (as written by ``events:putEvents``)."""
    try:
        f = {k.decode(): v.decode() for k, v in fields.items()}
    except UnicodeDecodeError:
        raise ValueError("the entry holds fields that are not UTF-8 text") from None
    raw = f.get("detail", f.get("message", "{}"))
    try:
        detail = loads(raw)
    except ValueError:
        raise ValueError("the event's detail is not JSON") from None
    resources: Json = []
    if "resources" in f:
        try:
            resources = loads(f["resources"])
        except ValueError:
            resources = []
    return {"version": "0", "id": f.get("event-id") or _uuid_of(entry_id, bus),
            "detail-type": f.get("detail-type", ""), "source": f.get("event-source", ""),
            "account": f.get("account") or account, "time": f.get("time") or _iso(_ms_of(entry_id)),
            "region": f.get("region") or region, "resources": resources, "detail": detail}


def _uuid_of(entry_id: str, bus: str) -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"events:{bus}/{entry_id}"))


# -- the consumer ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConsumerOptions:
    """How a process consumes sources (shared by all its sources)."""

    #: entries per XREADGROUP at most
    read_count: int = 500
    #: seconds one XREADGROUP blocks
    block: float = 0.5
    #: async sources: read only while the start stream holds fewer unfinished starts
    max_queued: int = 10_000
    #: wait sources: executions in flight per source in this process
    max_in_flight: int = 100
    claim_idle: float = 30.0
    #: seconds to wait for a sync execution (wait mode)
    timeout: float = 330.0
    #: seconds between looks at the definitions
    refresh: float = 1.0
    grace: float = 30.0


@dataclass(slots=True)
class _Pending:
    """An entry read and not yet acknowledged."""

    entry_id: str
    record: Json
    read_at: float
    #: bytes of the entry's fields (bounds the record's JSON size, bar the metadata)
    size: int = 0
    #: the entry's time (ms), from its id
    timestamp: int = 0


class SourceConsumer:
    """Consumes one source's stream in this process (one consumer of the source's group)."""

    def __init__(self, redis: Any, client: Any, namespace: str, source: EventSource, consumer: str,
                 options: ConsumerOptions, *, region: str = DEFAULT_REGION, account: str = DEFAULT_ACCOUNT,
                 local: Any = None) -> None:
        self.redis = redis
        self.client = client
        #: the worker of this process (``Worker``): executions run in it, not through the start stream
        self.local = local
        self._done: list[str] = []
        self._done_counts: dict[str, int] = {}
        self._done_ready = anyio.Event()
        self._conn: Any = None  # the read loop's own connection
        self._record: Any = None
        self._record_at = 0.0
        self.namespace = namespace
        self.source = source
        self.compiled = Compiled(source)
        #: one record per execution, its input the record itself (else the list of the batch's records)
        self._single = source.batch_size == 1 and not source.as_list
        self.consumer = consumer
        self.options = options
        self.region = region
        self.account = account
        self.group = group_name(namespace, source.name)
        self.dead = source.dead_letter or dead_letter_stream(namespace, source.name)
        self.stats = stats_key(namespace, source.name)
        self.starts = Keys(namespace).starts
        self._buffer: list[_Pending] = []
        self._buffer_since = 0.0
        self._owned: dict[str, float] = {}  # entry id -> monotonic time read (renewed while held)
        self._in_flight = 0
        self._stopping = False
        self._wake = anyio.Event()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    # -- loop ----------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Read, reclaim and dispatch until :meth:`stop`."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._claim_loop, tg)
            tg.start_soon(self._done_loop)
            await self._read_loop(tg)
            with anyio.move_on_after(self.options.grace):
                while self._in_flight:
                    await anyio.sleep(0.02)
            await self._flush_done()
            tg.cancel_scope.cancel()
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await self.redis.connection_pool.release(conn)

    async def _read_loop(self, tg: Any) -> None:
        o, s = self.options, self.source
        backoff = Backoff()
        while not self._stopping:
            try:
                room = await self._room()
                if room <= 0:
                    self._wake = anyio.Event()
                    with anyio.move_on_after(0.02):
                        await self._wake.wait()
                    continue
                block = o.block
                if self._buffer and s.batch_window > 0:
                    block = max(0.001, min(block, self._buffer_since + s.batch_window - time.monotonic()))
                reply = await self._ack_and_read(min(room, o.read_count), int(block * 1000))
                entries = _read_entries(reply)
                await self._take(tg, entries, None)
                await self._flush(tg, force=False)
                backoff.reset()
            except RETRYABLE as exc:
                log.warning("source %s: Redis unreachable (%r); retrying", s.name, exc)
                await anyio.sleep(backoff.next())
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                log.warning("source %s: its consumer group is gone (stream deleted?); waiting", s.name)
                await anyio.sleep(1.0)
        await self._flush(tg, force=True)

    async def _room(self) -> int:
        if self.local is not None:
            return int(min(self.local.free_slots(), self.options.max_in_flight * 10)) - len(self._buffer)
        if self.source.mode == "wait":
            return self.options.max_in_flight - self._in_flight - len(self._buffer)
        return int(self.options.max_queued - await self.redis.xlen(self.starts))

    # -- entries -> records -> executions ---------------------------------------------------------------

    async def _take(self, tg: Any, entries: list[Any], deliveries: dict[str, int] | None) -> None:
        """Turn entries read (or reclaimed) into records; dead-letter the unusable, drop the filtered."""
        s, now = self.source, time.monotonic()
        pattern = self.compiled.pattern
        transform = self.compiled.transform if self.compiled.template is not None else None
        owned = self._owned
        filtered: list[str] = []
        for raw_id, fields in entries:
            if raw_id is None:
                continue
            entry_id = raw_id.decode() if type(raw_id) is bytes else str(raw_id)
            if entry_id in owned:
                continue
            n = deliveries.get(entry_id, 1) if deliveries else 1
            if not fields:
                filtered.append(entry_id)  # trimmed from the stream while pending: nothing left to run
                continue
            if n > s.max_deliveries:
                await self._dead_letter([(entry_id, fields)], f"delivered {n} times without finishing (the limit "
                                        f"is {s.max_deliveries})", n)
                continue
            ts = int(entry_id[:entry_id.index("-")]) if "-" in entry_id else int(entry_id)
            try:
                if s.kind == "events":
                    record = event_envelope(entry_id, fields, s.stream.partition(":")[2], region=self.region,
                                            account=self.account)
                else:
                    record = stream_record(s.stream, entry_id, fields, s.json_field, ts)
            except ValueError as exc:
                await self._dead_letter([(entry_id, fields)], str(exc), n)
                continue
            if pattern is not None and not pattern.matches(record):
                filtered.append(entry_id)
                continue
            if transform is not None:
                try:
                    record = transform(record)
                except ValueError as exc:
                    await self._dead_letter([(entry_id, fields)], str(exc), n)
                    continue
            if not self._buffer:
                self._buffer_since = now
            owned[entry_id] = now
            size = 0
            for k, v in fields.items():
                size += len(k) + len(v)
            self._buffer.append(_Pending(entry_id, record, now, size, ts))
        counts = {"read": len(entries)}
        if filtered:
            counts["filtered"] = len(filtered)
        await self._ack(filtered, counts)

    async def _flush(self, tg: Any, *, force: bool) -> None:
        """Start the full batches in the buffer, and a partial one once its window is over (or forced)."""
        s = self.source
        size = s.batch_size
        ready: list[list[_Pending]] = []
        while len(self._buffer) >= size:
            ready.append(self._buffer[:size])
            self._buffer = self._buffer[size:]
        if self._buffer and (force or s.batch_window <= 0
                             or time.monotonic() >= self._buffer_since + s.batch_window):
            ready.append(self._buffer)
            self._buffer = []
        if self._buffer and ready:
            self._buffer_since = min(p.read_at for p in self._buffer)
        if not ready:
            return
        if self.local is not None:
            await self._run_here(tg, ready)
        elif s.mode == "async":
            await self._start_async(ready)
        else:
            for batch in ready:
                self._in_flight += 1
                tg.start_soon(self._run_wait, batch)

    def _input(self, batch: list[_Pending]) -> str:
        if self._single:
            return dumps(batch[0].record)
        return dumps([p.record for p in batch])

    async def _checked_input(self, batch: list[_Pending]) -> str | None:
        """The batch's execution input, or None once the batch was dead-lettered because AWS would refuse it."""
        doc = self._input(batch)
        try:
            checked_input(doc)
        except api.ServiceError as exc:
            await self._dead_letter_batch(batch, f"{exc.code}: {exc.message}", 1)
            return None
        return doc

    async def _start_async(self, batches: list[list[_Pending]]) -> None:
        """Start one async execution per batch; acknowledge the entries once the starts were accepted."""
        ok: list[tuple[list[_Pending], str]] = []
        for batch in batches:
            doc = await self._checked_input(batch)
            if doc is not None:
                ok.append((batch, doc))
        backoff = Backoff(cap=1.0)
        while ok:
            try:
                await self.client.start_executions(self.source.state_machine_arn, [doc for _, doc in ok])
            except (api.ExecutionLimitExceeded, api.ServiceUnavailable) as exc:
                # (starts before the refused one were accepted: they may run twice, at least once)
                log.info("source %s: start refused (%s); retrying", self.source.name, exc.message)
                await anyio.sleep(backoff.next())
                continue
            except api.ServiceError as exc:  # the machine is gone: these entries cannot run
                for batch, _ in ok:
                    await self._dead_letter_batch(batch, f"{exc.code}: {exc.message}", 1)
                return
            ids = [p.entry_id for batch, _ in ok for p in batch]
            await self._ack(ids, {"started": len(ok)})
            return

    async def _run_wait(self, batch: list[_Pending]) -> None:
        """Run one execution to its end (wait mode), retrying failures; then acknowledge or dead-letter."""
        s = self.source
        try:
            doc = await self._checked_input(batch)
            if doc is None:
                return
            start = partial(self.client.start_sync_execution, s.state_machine_arn, doc, timeout=self.options.timeout)
            # (a missing machine ends the attempts at once; a start refused for another reason is tried again)
            if await self._run_until_success(batch, start, gone=(api.StateMachineDoesNotExist,),
                                             refused=(api.ServiceError,)):
                await self._ack([p.entry_id for p in batch], {"started": 1, "succeeded": 1})
        finally:
            self._in_flight -= 1
            self._wake.set()

    # -- executions run in this process's worker -------------------------------------------------------------

    async def _run_here(self, tg: Any, batches: list[list[_Pending]]) -> None:
        """Run one execution per batch in the local worker; each batch is acknowledged once it finished."""
        try:
            machine = await self._machine()
        except api.StateMachineDoesNotExist as exc:
            for batch in batches:
                await self._dead_letter_batch(batch, f"{exc.code}: {exc.message}", 1)
            return
        inline = self.source.mode == "async" and self.local.runs_inline(machine)
        if inline and self._single:
            await self._run_inline_singles(batches, machine)
            return
        for batch in batches:
            value = batch[0].record if self._single else [p.record for p in batch]
            size = sum(p.size for p in batch) + 200 * len(batch)
            if size > MAX_PAYLOAD_BYTES:
                size = len(dumpb(value))
                if size > MAX_PAYLOAD_BYTES:
                    await self._dead_letter_batch(batch, f"ValidationException: the input is {size} bytes, over the "
                                                  f"limit of {MAX_PAYLOAD_BYTES}", 1)
                    continue
            if inline:
                await self._run_local_once(batch, machine, value, size)
            else:
                self._in_flight += 1
                tg.start_soon(self._run_local_task, batch, machine, value, size)

    async def _machine(self) -> Any:
        """The target's compiled record, looked up again at most once a second (as AWS, executions started
        within a few seconds of an update may run the previous definition)."""
        now = time.monotonic()
        if self._record is None or now - self._record_at > 1.0:
            self._record = await self.local.registry.get(self.source.state_machine_arn)
            self._record_at = now
        return self._record

    async def _run_inline_singles(self, batches: list[list[_Pending]], machine: Any) -> None:
        """The common case, one execution per entry of a machine that never suspends: a plain loop."""
        run = self.local.run_local
        done: list[str] = []
        ok = failed = 0
        for (p, *_) in batches:
            if p.size > MAX_PAYLOAD_BYTES - 1000:
                await self._run_here_checked([p], machine)
                continue
            response = await run(machine, p.record, since_ms=p.timestamp, input_size=p.size + 200)
            if response["status"] == "SUCCEEDED":
                ok += 1
            else:
                failed += 1
            done.append(p.entry_id)
        self._done.extend(done)
        counts = self._done_counts
        for k, v in (("started", ok + failed), ("succeeded", ok), ("failed", failed)):
            if v:
                counts[k] = counts.get(k, 0) + v
        self._done_ready.set()

    async def _run_here_checked(self, batch: list[_Pending], machine: Any) -> None:
        value = batch[0].record
        size = len(dumpb(value))
        if size > MAX_PAYLOAD_BYTES:
            await self._dead_letter_batch(batch, f"ValidationException: the input is {size} bytes, over the "
                                          f"limit of {MAX_PAYLOAD_BYTES}", 1)
            return
        await self._run_local_once(batch, machine, value, size)

    async def _run_local_once(self, batch: list[_Pending], machine: Any, value: Json, size: int) -> None:
        """An async-mode execution: whatever its outcome, the entries are done once it finished."""
        response = await self.local.run_local(machine, value, since_ms=batch[0].timestamp, input_size=size)
        outcome = "succeeded" if response["status"] == "SUCCEEDED" else "failed"
        self._finished(batch, {"started": 1, outcome: 1})

    async def _run_local_task(self, batch: list[_Pending], machine: Any, value: Json, size: int) -> None:
        s = self.source
        try:
            if s.mode == "async":
                await self._run_local_once(batch, machine, value, size)
                return
            run = partial(self.local.run_local, machine, value, since_ms=batch[0].timestamp, input_size=size)
            if await self._run_until_success(batch, run):
                self._finished(batch, {"started": 1, "succeeded": 1})
        finally:
            self._in_flight -= 1
            self._wake.set()

    async def _run_until_success(self, batch: list[_Pending], attempt: Callable[[], Awaitable[dict[str, Any]]], *,
                                 gone: tuple[type[api.ServiceError], ...] = (),
                                 refused: tuple[type[api.ServiceError], ...] = ()) -> bool:
        """Wait mode: run ``attempt`` up to 1 + MaxRetries times until an execution succeeds (True); otherwise
        dead-letter the batch with the last reason (False). A ``gone`` error ends the attempts at once, a
        ``refused`` one counts as a failed attempt that started nothing; any other error propagates."""
        s = self.source
        reason = ""
        for n in range(s.max_retries + 1):
            if n:
                await self._count({"retried": 1})
                await anyio.sleep(_retry_delay(s, n))
            try:
                response = await attempt()
            except gone as exc:
                reason = f"{exc.code}: {exc.message}"
                break
            except refused as exc:
                reason = f"{exc.code}: {exc.message}"
                continue
            if response.get("status") == "SUCCEEDED":
                return True
            reason = f"{response.get('status')}: {response.get('error', '')}: {response.get('cause', '')}"
            await self._count({"started": 1, "failed": 1})
        await self._dead_letter_batch(batch, f"execution failed after {s.max_retries + 1} attempts; last: "
                                      f"{reason}", 1)
        return False

    def _finished(self, batch: list[_Pending], counts: dict[str, int]) -> None:
        """Queue the acknowledgement of a finished batch (sent by :meth:`_done_loop`, many at once)."""
        self._done.extend(p.entry_id for p in batch)
        for k, v in counts.items():
            self._done_counts[k] = self._done_counts.get(k, 0) + v
        self._done_ready.set()

    async def _ack_and_read(self, count: int, block_ms: int) -> Any:
        """Acknowledge the finished entries and read the next ones, in one round trip on the loop's own
        connection (raw replies: no per-entry work in redis-py)."""
        ids, counts = self._done, self._done_counts
        self._done, self._done_counts = [], {}
        stream = self.source.stream
        commands: list[tuple[Any, ...]] = []
        if ids:
            commands.append(("XACK", stream, self.group, *ids))
        for k, v in counts.items():
            commands.append(("HINCRBY", self.stats, k, v))
        commands.append(("XREADGROUP", "GROUP", self.group, self.consumer, "COUNT", count, "BLOCK", block_ms,
                         "STREAMS", stream, ">"))
        conn = self._conn
        try:
            if conn is None:
                self._conn = conn = await self.redis.connection_pool.get_connection()
            await conn.send_packed_command(conn.pack_commands(commands))
            with anyio.fail_after(block_ms / 1000 + READ_MARGIN):
                for _ in commands[:-1]:
                    try:
                        await conn.read_response(timeout=math.inf)
                    except ResponseError as exc:  # (a deleted source's group: nothing to acknowledge)
                        log.info("source %s: acknowledgement failed: %s", self.source.name, exc)
                reply = await conn.read_response(timeout=math.inf)
        except ResponseError:
            raise  # (the connection is fine; those acknowledgements went through)
        except BaseException as exc:
            self._give_back(ids, counts)
            if conn is not None:
                with anyio.CancelScope(shield=True):
                    await conn.disconnect()  # an answer may still be on its way: start afresh
            if isinstance(exc, TimeoutError):
                raise RedisTimeoutError("no answer to XREADGROUP") from None
            raise
        for i in ids:
            self._owned.pop(i, None)
        return reply

    def _give_back(self, ids: list[str], counts: dict[str, int]) -> None:
        self._done[:0] = ids
        for k, v in counts.items():
            self._done_counts[k] = self._done_counts.get(k, 0) + v

    async def _done_loop(self) -> None:
        while True:
            await self._done_ready.wait()
            self._done_ready = anyio.Event()
            await anyio.sleep(0.002)  # (the read loop usually sends them along with its next read first)
            await self._flush_done()

    async def _flush_done(self) -> None:
        while self._done or self._done_counts:
            ids, counts = self._done, self._done_counts
            self._done, self._done_counts = [], {}
            await self._ack(ids, counts)

    # -- acknowledgement, dead letters, statistics ------------------------------------------------------------

    async def _retry(self, fn: Callable[..., Any], *args: Any) -> Any:
        backoff = Backoff()
        while True:
            try:
                return await fn(*args)
            except RETRYABLE:
                await anyio.sleep(backoff.next())

    async def _ack(self, ids: list[str], counts: dict[str, int]) -> None:
        async def send() -> None:
            pipe = self.redis.pipeline(transaction=False)
            if ids:
                pipe.xack(self.source.stream, self.group, *ids)
            for k, v in counts.items():
                if v:
                    pipe.hincrby(self.stats, k, v)
            await pipe.execute(raise_on_error=False)  # (a deleted source's group is gone: nothing to acknowledge)

        if ids or any(counts.values()):
            await self._retry(send)
        for i in ids:
            self._owned.pop(i, None)

    async def _count(self, counts: dict[str, int]) -> None:
        await self._ack([], counts)

    async def _dead_letter_batch(self, batch: list[_Pending], reason: str, deliveries: int) -> None:
        fetched = await self._retry(self._fetch, [p.entry_id for p in batch])
        await self._dead_letter(fetched, reason, deliveries)

    async def _fetch(self, ids: list[str]) -> list[tuple[str, dict[bytes, bytes]]]:
        pipe = self.redis.pipeline(transaction=False)
        for i in ids:
            pipe.xrange(self.source.stream, i, i)
        out = []
        for i, found in zip(ids, await pipe.execute(), strict=True):
            out.append((i, found[0][1] if found else {}))
        return out

    async def _dead_letter(self, entries: list[tuple[str, dict[bytes, bytes]]], reason: str, deliveries: int) -> None:
        """Copy entries to the dead-letter stream with the reason, and acknowledge them."""
        log.warning("source %s: %d entries dead-lettered: %s", self.source.name, len(entries), reason)

        async def send() -> None:
            pipe = self.redis.pipeline(transaction=False)
            now = int(time.time() * 1000)
            for entry_id, fields in entries:
                doc: dict[Any, Any] = dict(fields)
                doc.update({"x-source": self.source.name, "x-stream": self.source.stream, "x-entry-id": entry_id,
                            "x-reason": reason, "x-deliveries": deliveries, "x-time": now})
                pipe.xadd(self.dead, doc, maxlen=DEAD_MAXLEN, approximate=True)
            pipe.xack(self.source.stream, self.group, *[i for i, _ in entries])
            pipe.hincrby(self.stats, "dead_lettered", len(entries))
            await pipe.execute()

        if entries:
            await self._retry(send)
        for i, _ in entries:
            self._owned.pop(i, None)

    # -- reclaim ---------------------------------------------------------------------------------------------

    async def _claim_loop(self, tg: Any) -> None:
        o = self.options
        interval = max(0.05, o.claim_idle / 3)
        while not self._stopping:
            await anyio.sleep(interval)
            try:
                await self._renew()
                await self._claim(tg)
            except RETRYABLE as exc:
                log.info("source %s: reclaim pass failed (%r)", self.source.name, exc)
            except ResponseError as exc:
                if "NOGROUP" not in str(exc) and "no such key" not in str(exc):
                    raise

    async def _renew(self) -> None:
        """Reset the idle time of entries held here (buffered or running) so no one reclaims them."""
        cutoff = time.monotonic() - self.options.claim_idle / 3
        old = [i for i, t in self._owned.items() if t < cutoff]
        for k in range(0, len(old), 1000):
            await self.redis.xclaim(self.source.stream, self.group, self.consumer, 0, old[k:k + 1000], justid=True)
        now = time.monotonic()
        for i in old:
            if i in self._owned:
                self._owned[i] = now

    async def _claim(self, tg: Any) -> None:
        idle_ms = int(self.options.claim_idle * 1000)
        cursor: Any = "0-0"
        while not self._stopping and await self._room() > 0:
            cursor, entries, *_ = await self.redis.xautoclaim(self.source.stream, self.group, self.consumer, idle_ms,
                                                              start_id=cursor, count=self.options.read_count)
            entries = [e for e in entries if e[0] is not None and text(e[0]) not in self._owned]
            if entries:
                log.info("source %s: reclaimed %d idle entries", self.source.name, len(entries))
                ids = [text(e[0]) for e in entries]
                counts = await self._deliveries(ids)
                await self._take(tg, entries, counts)
                await self._flush(tg, force=False)
            if text(cursor) == "0-0":
                return

    async def _deliveries(self, ids: list[str]) -> dict[str, int]:
        lo, hi = min(ids, key=_id_order), max(ids, key=_id_order)
        rows = await self.redis.xpending_range(self.source.stream, self.group, min=lo, max=hi, count=len(ids) + 1000,
                                               consumername=self.consumer)
        wanted = set(ids)
        return {text(r["message_id"]): int(r["times_delivered"]) for r in rows if text(r["message_id"]) in wanted}


def _read_entries(reply: Any) -> list[Any]:
    """The ``(id, fields)`` pairs of an XREADGROUP reply on one stream (RESP2 list or RESP3 dict)."""
    if not reply:
        return []
    if isinstance(reply, dict):
        (value,) = reply.values()
        raw = list(value[0]) if value and isinstance(value[0], list) and value[0] and isinstance(
            value[0][0], list | tuple) else list(value)
    else:
        raw = list(reply[0][1])
    return [(i, entry_fields(f) if isinstance(f, list) else f) for i, f in raw]


def _id_order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class SourceRunner:
    """Runs a :class:`SourceConsumer` for every source of the namespace, following definition changes."""

    def __init__(self, redis: Any, client: Any, *, namespace: str = "ee", consumer: str,
                 options: ConsumerOptions | None = None, region: str = DEFAULT_REGION,
                 account: str = DEFAULT_ACCOUNT, local: Any = None) -> None:
        self.redis = redis
        self.client = client
        #: this process's worker: sources run their executions in it (else they start them through ``client``)
        self.local = local
        self.namespace = namespace
        self.consumer = consumer
        self.options = options or ConsumerOptions()
        self.region = region
        self.account = account
        self._running: dict[str, tuple[str, SourceConsumer, anyio.CancelScope]] = {}
        self._broken: dict[str, str] = {}  # name -> definition this version cannot run
        self._stopping = False
        self._stop = anyio.Event()

    def stop(self) -> None:
        """Stop every consumer (running wait-mode executions get the grace period)."""
        self._stopping = True
        self._stop.set()
        for _, consumer, _ in self._running.values():
            consumer.stop()

    async def run(self) -> None:
        """Follow the definitions until :meth:`stop`."""
        key = sources_key(self.namespace)
        async with anyio.create_task_group() as tg:
            while not self._stopping:
                try:
                    raw = await self.redis.hgetall(key)
                except RETRYABLE:
                    raw = None
                if raw is not None:
                    self._reconcile(tg, {text(k): text(v) for k, v in raw.items()})
                with anyio.move_on_after(self.options.refresh):
                    await self._stop.wait()
            for _, consumer, _ in self._running.values():
                consumer.stop()

    def _reconcile(self, tg: Any, defs: dict[str, str]) -> None:
        for name in list(self._running):
            doc, consumer, _ = self._running[name]
            if defs.get(name) != doc:
                consumer.stop()  # (its entries in hand are flushed or stay pending for a reclaim)
                del self._running[name]
        for name, doc in defs.items():
            if name in self._running or self._broken.get(name) == doc:
                continue
            try:
                source = EventSource.from_json(doc)
                if not source.enabled:
                    self._broken[name] = doc  # (not broken: disabled; not run either)
                    continue
                consumer = SourceConsumer(self.redis, self.client, self.namespace, source, self.consumer, self.options,
                                          region=self.region, account=self.account, local=self.local)
            except Exception as exc:  # a definition this version cannot run: say so once, keep the others going
                log.error("event source %s cannot run: %r", name, exc)
                self._broken[name] = doc
                continue
            scope = anyio.CancelScope()
            self._running[name] = (doc, consumer, scope)
            tg.start_soon(self._run_one, consumer, scope)

    async def _run_one(self, consumer: SourceConsumer, scope: anyio.CancelScope) -> None:
        with scope:
            try:
                await consumer.run()
            except Exception:
                log.exception("event source %s stopped on an error", consumer.source.name)

