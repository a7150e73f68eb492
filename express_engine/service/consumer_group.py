"""The worker's commands on the starts stream and its consumer group (see :mod:`.worker` for the protocol).

Each function is one exchange with Redis, with no state of its own: reading entries together with the
acknowledgement of finished ones, the ``CLIENT REPLY SKIP`` probe, the pending-entries queries the
recovery and reclaim paths need, dead-lettering, and joining and leaving the group.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from typing import Any

import anyio
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .keys import GROUP, RETRYABLE, Keys

log = logging.getLogger("express_engine.worker")

#: Acknowledge finished entries in one command: answer each sync start (record the reply in its client's
#: hash of sync starts sent, if the request is still there, and publish it on the client's reply channel
#: as "<request id> <payload>"), XACK the entries, count each execution XACK really acknowledged (a FINISH
#: sent twice counts once; so does a start run twice) in the totals hash, and XDEL the entries. KEYS[1] starts
#: stream, KEYS[2] totals hash; ARGV[1] group, ARGV[2] number of ids, the ids, as many tags ("" or
#: "<status> <duration bucket> <duration ms>"), then (reply channel, sent-starts hash, request id, payload)
#: quadruples.
FINISH = """
local n = tonumber(ARGV[2])
local ids = {}
local counts = {}
local sum = 0
for i = 1, n do
  local id, tag = ARGV[2 + i], ARGV[2 + n + i]
  ids[i] = id
  if tag ~= '' and redis.call('XACK', KEYS[1], ARGV[1], id) == 1 then
    local status, bucket, ms = string.match(tag, '^(%S+) (%d+) (%S+)$')
    counts[status] = (counts[status] or 0) + 1
    counts['b' .. bucket] = (counts['b' .. bucket] or 0) + 1
    sum = sum + tonumber(ms)
  end
end
for i = 3 + 2 * n, #ARGV, 4 do
  local sent, rid, payload = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if redis.call('HEXISTS', sent, rid) == 1 then
    redis.call('HSET', sent, rid, payload)
  end
  redis.call('PUBLISH', ARGV[i], rid .. ' ' .. payload)
end
for field, c in pairs(counts) do
  redis.call('HINCRBY', KEYS[2], field, c)
end
if sum > 0 then
  redis.call('HINCRBYFLOAT', KEYS[2], 'duration_ms_sum', string.format('%.3f', sum))
end
redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
redis.call('XDEL', KEYS[1], unpack(ids))
return n
"""

#: A finished entry: (entry id, where its sync reply goes or None, reply payload, tag: "" or the execution's
#: "<status> <duration bucket> <duration ms>" for the totals).
Done = tuple[str, tuple[str, str, str] | None, bytes | None, str]

#: Entries per FINISH call at most (Lua's unpack() limit is about 8000 values).
MAX_FINISH = 4000

#: Seconds an XREADGROUP may take beyond its BLOCK time before the connection counts as broken.
READ_MARGIN = 10.0


def entry_id(raw: bytes | str) -> str:
    """An entry id as text."""
    return raw.decode() if isinstance(raw, bytes) else raw


def _id_key(entry: str) -> tuple[int, int]:
    ms, _, seq = entry.partition("-")
    return int(ms), int(seq or 0)


def entry_fields(flat: list[bytes]) -> dict[bytes, bytes]:
    """An entry's ``[field, value, ...]`` as a dict (the usual two fields, rev and start, without zip)."""
    if len(flat) == 4:
        return {flat[0]: flat[1], flat[2]: flat[3]}
    return dict(zip(flat[::2], flat[1::2], strict=False))


def finish_args(batch: list[Done]) -> list[Any]:
    """FINISH's arguments for ``batch``: group, number of ids, the ids, their tags, then the sync replies."""
    args: list[Any] = [GROUP, len(batch)]
    args += [entry for entry, _, _, _ in batch]
    args += [tag for _, _, _, tag in batch]
    for _, reply, payload, _ in batch:
        if reply:
            args += (*reply, payload)
    return args


async def ack_and_read(conn: Any, keys: Keys, consumer: str, acks: list[Done], count: int, block_ms: int,
                       skip_replies: bool) -> list[tuple[Any, dict[bytes, bytes] | None]]:
    """Acknowledge ``acks`` (FINISH) and read the next entries (XREADGROUP) in one write and one read.

    FINISH's own answer is skipped (``CLIENT REPLY SKIP``) when ``skip_replies``: it would only wake
    this process once more per round to say "done", and a FINISH that may not have run is simply sent
    again (acknowledging, deleting and answering twice changes nothing for anyone). Since Redis runs a
    connection's commands in order, XREADGROUP's answer means FINISH has run. EVAL, not EVALSHA: a
    skipped NOSCRIPT error would go unnoticed. Returns the entries read, as ``(id, fields)`` pairs.
    A connection left in doubt (no answer in time, cancelled) is disconnected.
    """
    commands: list[tuple[Any, ...]] = []
    if acks:
        if skip_replies:
            commands.append(("CLIENT", "REPLY", "SKIP"))
        commands.append(("EVAL", FINISH, 2, keys.starts, keys.totals, *finish_args(acks)))
    commands.append(("XREADGROUP", "GROUP", GROUP, consumer, "COUNT", count, "BLOCK", block_ms,
                     "STREAMS", keys.starts, ">"))
    try:
        await conn.send_packed_command(conn.pack_commands(commands))
        with anyio.fail_after(block_ms / 1000 + READ_MARGIN):
            if acks and not skip_replies:
                try:
                    await conn.read_response(timeout=math.inf)  # FINISH's answer
                except ResponseError as exc:
                    log.warning("acknowledging %d entries failed (they stay pending): %s", len(acks), exc)
            reply = await conn.read_response(timeout=math.inf)
    except TimeoutError:
        await conn.disconnect()
        raise RedisTimeoutError("no answer to XREADGROUP") from None
    except ResponseError:
        raise  # (the connection is fine)
    except BaseException:
        with anyio.CancelScope(shield=True):  # (also when cancelled: stopping)
            await conn.disconnect()  # an answer may still be on its way: start afresh
        raise
    if not reply:
        return []
    # RESP3: {stream: entries}; RESP2: [[stream, entries]]; each entry [id, [field, value, ...]]
    raw = next(iter(reply.values())) if isinstance(reply, dict) else reply[0][1]
    return [(raw_id, entry_fields(fields) if fields else None) for raw_id, fields in raw]


async def probe_reply_skip(redis: Any) -> bool:
    """Whether this Redis honours ``CLIENT REPLY SKIP`` (some proxies and managed services refuse it)."""
    conn = await redis.connection_pool.get_connection()
    try:
        # Honoured: PING's answer is skipped and the first answer is ECHO's. Refused: an error, PONG, then ECHO's.
        await conn.send_packed_command(conn.pack_commands([("CLIENT", "REPLY", "SKIP"), ("PING",),
                                                           ("ECHO", "probe")]))
        try:
            await conn.read_response()
        except ResponseError:
            await conn.read_response()
            await conn.read_response()
            return False
        return True
    except BaseException:
        await conn.disconnect()
        raise
    finally:
        await redis.connection_pool.release(conn)


async def ensure_group(redis: Any, keys: Keys) -> None:
    """Create the starts stream and its consumer group if they do not exist."""
    try:
        await redis.xgroup_create(keys.starts, GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def leave_group(redis: Any, keys: Keys, consumer: str) -> None:
    """Remove ``consumer`` from the group if it holds no pending entry (which would be lost with it)."""
    try:
        mine = await redis.xpending_range(keys.starts, GROUP, min="-", max="+", count=1, consumername=consumer)
        if not mine:
            await redis.xgroup_delconsumer(keys.starts, GROUP, consumer)
    except (*RETRYABLE, ResponseError):
        pass


async def pending(redis: Any, keys: Keys, consumer: str, page: int) -> dict[str, int]:
    """All entries pending under ``consumer`` -> times delivered (XPENDING, ``page`` at a time)."""
    found: dict[str, int] = {}
    low = "-"
    while True:
        rows = await redis.xpending_range(keys.starts, GROUP, min=low, max="+", count=page, consumername=consumer)
        for row in rows:
            found[entry_id(row["message_id"])] = row["times_delivered"]
        if len(rows) < page:
            return found
        low = "(" + entry_id(rows[-1]["message_id"])


async def deliveries(redis: Any, keys: Keys, consumer: str, ids: list[str], slack: int) -> dict[str, int]:
    """How many times each of ``ids`` (pending under ``consumer``) was delivered.

    ``slack``: how many other entries of ``consumer`` may lie between the lowest and highest of ``ids``.
    """
    ordered = sorted(ids, key=_id_key)
    rows = await redis.xpending_range(keys.starts, GROUP, min=ordered[0], max=ordered[-1],
                                      count=len(ids) + slack, consumername=consumer)
    wanted = set(ids)
    return {i: row["times_delivered"] for row in rows if (i := entry_id(row["message_id"])) in wanted}


async def fetch(redis: Any, keys: Keys, ids: Iterable[str]) -> list[tuple[str, dict[bytes, bytes] | None]]:
    """The entries ``ids`` as ``(id, fields)`` pairs (None for an entry no longer there)."""
    ids = list(ids)
    pipe = redis.pipeline(transaction=False)
    for i in ids:
        pipe.xrange(keys.starts, i, i)
    found = await pipe.execute()
    return [(i, rows[0][1] if rows else None) for i, rows in zip(ids, found, strict=True)]


async def dead_letter(redis: Any, keys: Keys, entry: str, doc: dict[Any, Any], maxlen: int) -> None:
    """Append ``doc`` to the dead-letter stream (``MAXLEN ~ maxlen``) and acknowledge and delete ``entry``."""
    pipe = redis.pipeline(transaction=False)
    pipe.xadd(keys.dead, doc, maxlen=maxlen, approximate=True)
    pipe.xack(keys.starts, GROUP, entry)
    pipe.xdel(keys.starts, entry)
    await pipe.execute()


async def prune_consumers(redis: Any, keys: Keys, consumer: str, idle_ms: int = 3_600_000) -> None:
    """Forget consumers other than ``consumer`` silent for ``idle_ms`` that hold nothing (dead processes)."""
    for c in await redis.xinfo_consumers(keys.starts, GROUP):
        name = entry_id(c["name"])
        if c["pending"] == 0 and c["idle"] > idle_ms and name != consumer:
            await redis.xgroup_delconsumer(keys.starts, GROUP, name)
