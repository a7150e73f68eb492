"""Reading executions back from a large Redis log stream: every request reads a bounded number of entries."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from express_engine.console.logreader import PAGE, LogStreamReader

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:bulk"
OTHER = "arn:aws:states:us-east-1:123456789012:stateMachine:other"
EXECUTIONS = 10_000  # x 5 events = 50,000 stream entries


#: Writes the stream server-side (100,000 XADDs from Python would take seconds): ``EXECUTIONS`` executions of 5
#: events, alternately of MACHINE and OTHER; every 7th fails.
FILL = """
local n = tonumber(ARGV[1])
for i = 0, n - 1 do
  local machine = (i % 2 == 0) and ARGV[2] or ARGV[3]
  local arn = machine .. ':run-' .. i .. ':id-' .. i
  local failed = (i % 7 == 0)
  local kinds = {'ExecutionStarted', 'PassStateEntered', 'PassStateExited', 'PassStateEntered',
                 failed and 'ExecutionFailed' or 'ExecutionSucceeded'}
  for k = 1, 5 do
    local details = '{}'
    if k >= 2 and k <= 4 then details = '{"name":"P"}' end
    if k == 5 and failed then details = '{"error":"Boom","cause":"execution ' .. i .. '"}' end
    local when = string.format('%d', 1700000000000 + i * 10 + k)
    redis.call('XADD', KEYS[1], '*', 'message', '{"id":"' .. k .. '","type":"' .. kinds[k] .. '","details":' ..
      details .. ',"previous_event_id":"' .. (k - 1) .. '","event_timestamp":"' .. when ..
      '","execution_arn":"' .. arn .. '","redrive_count":"0"}')
  end
end
return n
"""


class CountingRedis:
    """Forwards XREVRANGE and counts the entries it returned."""

    def __init__(self, redis: Any) -> None:
        self.redis, self.read = redis, 0

    async def xrevrange(self, *args: Any, **kwargs: Any) -> Any:
        entries = await self.redis.xrevrange(*args, **kwargs)
        self.read += len(entries)
        return entries


@pytest.fixture(scope="module")
def bulk_stream(console_valkey: str) -> Iterator[str]:
    import redis

    client = redis.Redis.from_url(console_valkey)
    stream = "ee:bulk-logs"
    client.delete(stream)
    client.eval(FILL, 1, stream, EXECUTIONS, MACHINE.replace(":stateMachine:", ":express:"),
                OTHER.replace(":stateMachine:", ":express:"))
    yield console_valkey
    client.delete(stream)
    client.close()


@asynccontextmanager
async def connected(url: str) -> AsyncIterator[Any]:
    from express_engine.service.keys import connect

    redis = connect(url)
    try:
        yield redis
    finally:
        await redis.aclose()


async def test_listing_reads_one_page_whatever_the_stream_length(bulk_stream: str) -> None:
    async with connected(bulk_stream) as redis:
        await _listing(redis, "ee:bulk-logs")


async def _listing(redis: Any, stream: str) -> None:
    assert await redis.xlen(stream) == EXECUTIONS * 5
    counting = CountingRedis(redis)
    reader = LogStreamReader(counting, stream)
    page = await reader.recent(machine_arn=MACHINE, limit=50)
    assert [e.execution_arn.split(":")[-2] for e in page.executions] == \
        [f"run-{i}" for i in range(EXECUTIONS - 2, EXECUTIONS - 102, -2)]
    assert counting.read <= PAGE and page.next_token
    newest = page.executions[0].to_json()
    assert newest["status"] in ("SUCCEEDED", "FAILED") and newest["durationMs"] == 4 and newest["events"] == 5
    # The next page starts where this one stopped: no execution twice, none skipped.
    second = await reader.recent(machine_arn=MACHINE, limit=50, before=page.next_token)
    assert second.executions[0].execution_arn.split(":")[-2] == f"run-{EXECUTIONS - 102}"
    # A status filter reads further, still bounded.
    failed = await reader.recent(machine_arn=MACHINE, status="FAILED", limit=10)
    assert len(failed.executions) == 10 and {e.error for e in failed.executions} == {"Boom"}
    # A token deep in the stream reads from there, not from the top.
    sixth = (await redis.xrange(stream, count=6))[5][0].decode()  # run-1's first event
    counting.read = 0
    oldest = await reader.recent(before=f"({sixth}", limit=5)
    assert counting.read == 5 and [e.execution_arn.split(":")[-2] for e in oldest.executions] == ["run-0"]


async def test_one_execution_is_read_from_its_log_id(bulk_stream: str) -> None:
    async with connected(bulk_stream) as redis:
        await _one(redis, "ee:bulk-logs")


async def _one(redis: Any, stream: str) -> None:
    counting = CountingRedis(redis)
    reader = LogStreamReader(counting, stream)
    deep = (await reader.recent(machine_arn=MACHINE, limit=1, before=None, until_ms=None))
    arn = deep.executions[0].execution_arn
    events = await reader.events(arn, deep.executions[0].log_id)
    assert events is not None and events[0]["type"] == "ExecutionStarted" and len(events) == 5
    # Without its log id, an old execution is still found within the scan bound, and a missing one is not.
    old = MACHINE.replace(":stateMachine:", ":express:") + ":run-100:id-100"
    found = await reader.events(old)
    assert found is not None and len(found) == 5
    assert await LogStreamReader(redis, stream, max_scan=5000).events(old) is None
