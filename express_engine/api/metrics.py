"""Prometheus metrics of the HTTP API server (``GET /metrics``), the counterpart of AWS's Express metrics.

Two sources are merged at each scrape:

* **cluster-wide**, read from Redis: starts accepted (the ``NS:starts`` stream's ``entries-added``),
  the backlog (stream length, consumer-group lag and pending entries), the dead-letter stream's
  length, the executions acknowledged by status and their duration histogram (``NS:totals``,
  incremented by the acknowledgement script: exact, and monotonic across worker crashes), and the
  statistics every worker process publishes to ``NS:stats`` (reclaimed and dead-lettered starts...),
  summed over the workers. Workers publish those every few seconds, so they lag by up to that interval. Every API server
  of a namespace reports the same cluster-wide values: scrape one, or aggregate them with ``max``.
* **this process**: API requests by operation and HTTP status, requests in flight, and the duration
  of StartExecution / StartSyncExecution requests.

Without Redis (``express-engine api --local``) the execution metrics come from this process's own
starts: starts accepted, and the outcome and duration of synchronous ones.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Iterable, Iterator
from typing import Any

import anyio
import orjson
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from ..histogram import DURATION_BUCKETS

__all__ = ["CONTENT_TYPE", "DURATION_BUCKETS", "ApiMetrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST.encode()


_START_OPERATIONS = frozenset({"StartExecution", "StartSyncExecution"})
_PREFIX = "express_engine_"

#: Worker statistics summed into counters: stats field -> (metric name, help).
_WORKER_COUNTERS: dict[str, tuple[str, str]] = {
    "succeeded": ("executions_succeeded", "Executions that succeeded (all workers)."),
    "failed": ("executions_failed", "Executions that failed (all workers)."),
    "timed_out": ("executions_timed_out", "Executions that timed out (all workers)."),
    "dead_lettered": ("starts_dead_lettered", "Starts moved to the dead-letter stream (all workers)."),
    "sync_expired": ("sync_starts_expired", "Sync starts dropped unrun because their caller had stopped waiting."),
    "lost": ("starts_lost", "Pending starts found deleted from the stream when reclaimed."),
    "reconnects": ("worker_redis_reconnects", "Redis connection failures the workers survived."),
    "log_dropped": ("log_events_dropped", "Execution log events dropped by the workers' log sinks."),
}


class _Buckets:
    """A fixed-bucket histogram kept by this process (cumulative only when exported)."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(DURATION_BUCKETS) + 1)
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(DURATION_BUCKETS, seconds)] += 1
        self.sum += seconds


def _cumulative(counts: list[int]) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    total = 0
    for bound, n in zip((*DURATION_BUCKETS, math.inf), counts, strict=True):
        total += n
        out.append(("+Inf" if bound == math.inf else repr(bound), total))
    return out


def worker_histogram_buckets(raw: dict[int, int]) -> tuple[list[int], float]:
    """Per-bucket counts (over :data:`DURATION_BUCKETS` + Inf) and the approximate sum in seconds of a worker
    latency histogram (``express_engine.histogram.Histogram`` counts: log buckets in milliseconds).

    A worker bucket goes to the first bound at or above its upper edge (never under-reporting a
    latency); the sum uses each bucket's geometric middle (within 1 %: the workers publish no sum).
    """
    from ..histogram import Histogram

    base = Histogram._BASE
    counts = [0] * (len(DURATION_BUCKETS) + 1)
    total = 0.0
    for b, n in raw.items():
        upper = math.exp(b * base) / 1000.0
        counts[bisect.bisect_left(DURATION_BUCKETS, upper)] += n
        total += n * math.exp((b - 0.5) * base) / 1000.0
    return counts, total


class _Families:
    """What ``generate_latest`` collects from: metric families built for one scrape."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(_PREFIX + name, doc, value=value)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(_PREFIX + name, doc, value=value)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class ApiMetrics:
    """Counts of one API process, and the scrape of the cluster's state in Redis (when ``redis`` is given)."""

    def __init__(self, redis: Any = None, namespace: str = "ee", *, scrape_timeout: float = 2.0) -> None:
        self.redis = redis
        self.namespace = namespace
        self.scrape_timeout = scrape_timeout
        self.in_flight = 0
        #: (operation, HTTP status) -> requests
        self.requests: dict[tuple[str, int], int] = {}
        #: start operation -> duration histogram of its requests
        self.durations: dict[str, _Buckets] = {op: _Buckets() for op in sorted(_START_OPERATIONS)}
        #: start operation -> starts accepted (HTTP 200)
        self.started: dict[str, int] = dict.fromkeys(sorted(_START_OPERATIONS), 0)
        #: final status -> sync executions answered by this process
        self.sync_status: dict[str, int] = {}
        #: sync start requests in flight (the executions in flight when there is no Redis)
        self.sync_in_flight = 0

    # -- request hooks (called by the ASGI app) ------------------------------------------------------------

    def begin(self, operation: str) -> float:
        """A request for ``operation`` starts; returns its start time for :meth:`end`."""
        self.in_flight += 1
        if operation == "StartSyncExecution":
            self.sync_in_flight += 1
        return time.perf_counter()

    def end(self, operation: str, status: int, started: float, result: Any) -> None:
        """A request begun with :meth:`begin` was answered with HTTP ``status`` (``result``: the response body)."""
        self.in_flight -= 1
        key = (operation, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        durations = self.durations.get(operation)
        if durations is None:
            return
        durations.observe(time.perf_counter() - started)
        if operation == "StartSyncExecution":
            self.sync_in_flight -= 1
        if status == 200:
            self.started[operation] += 1
            status_text = _sync_status(result)
            if status_text:
                self.sync_status[status_text] = self.sync_status.get(status_text, 0) + 1

    def count(self, operation: str, status: int) -> None:
        """Count a request that never reached an operation (unknown target, bad body...)."""
        key = (operation, status)
        self.requests[key] = self.requests.get(key, 0) + 1

    # -- exposition ----------------------------------------------------------------------------------------

    async def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        families = list(self._process_families())
        if self.redis is None:
            families += self._local_execution_families()
        else:
            families += await self._cluster_families()
        return generate_latest(_Families(families))

    def _process_families(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(_PREFIX + "api_requests", "API requests answered by this process.",
                                       labels=["operation", "code"])
        for (op, status), n in sorted(self.requests.items()):
            requests.add_metric([op, str(status)], n)
        yield requests
        yield _gauge("api_requests_in_flight", "API requests this process is serving now.", self.in_flight)
        durations = HistogramMetricFamily(_PREFIX + "api_start_duration_seconds",
                                          "Duration of the start requests this process served (a sync start "
                                          "lasts as long as its execution).", labels=["operation"])
        for op, h in self.durations.items():
            durations.add_metric([op], _cumulative(h.counts), h.sum)
        yield durations
        started = CounterMetricFamily(_PREFIX + "api_starts_accepted", "Starts this process accepted (HTTP 200).",
                                      labels=["operation"])
        for op, n in self.started.items():
            started.add_metric([op], n)
        yield started
        sync = CounterMetricFamily(_PREFIX + "api_sync_executions", "Sync executions this process answered, by "
                                   "final status.", labels=["status"])
        for final, n in sorted(self.sync_status.items()):
            sync.add_metric([final], n)
        yield sync

    def _local_execution_families(self) -> list[Metric]:
        """Execution metrics when executions run in this process (no Redis, no workers)."""
        s = self.sync_status
        h = self.durations["StartSyncExecution"]
        duration = HistogramMetricFamily(_PREFIX + "execution_duration_seconds",
                                         "Duration of the sync executions this process ran.")
        duration.add_metric([], _cumulative(h.counts), h.sum)
        return [
            _counter("executions_started", "Executions started.", sum(self.started.values())),
            _counter("executions_succeeded", "Executions that succeeded.", s.get("SUCCEEDED", 0)),
            _counter("executions_failed", "Executions that failed.", s.get("FAILED", 0) + s.get("ABORTED", 0)),
            _counter("executions_timed_out", "Executions that timed out.", s.get("TIMED_OUT", 0)),
            duration,
            _gauge("executions_in_flight", "Sync executions running now.", self.sync_in_flight),
        ]

    async def _cluster_families(self) -> list[Metric]:
        try:
            with anyio.fail_after(self.scrape_timeout):
                snapshot = await self._read_redis()
        except Exception:  # Redis unreachable or slow: the process metrics still go out
            return [_gauge("redis_up", "Whether this server could read the engine's state from Redis.", 0)]
        return [_gauge("redis_up", "Whether this server could read the engine's state from Redis.", 1),
                *cluster_families(snapshot)]

    async def _read_redis(self) -> dict[str, Any]:
        ns = self.namespace
        pipe = self.redis.pipeline(transaction=False)
        pipe.xinfo_stream(f"{ns}:starts")
        pipe.xinfo_groups(f"{ns}:starts")
        pipe.xlen(f"{ns}:dead")
        pipe.hgetall(f"{ns}:stats")
        pipe.hgetall(f"{ns}:totals")
        stream, groups, dead, stats, totals = await pipe.execute(raise_on_error=False)
        for reply in (dead, stats, totals):
            if isinstance(reply, Exception):
                raise reply
        if isinstance(stream, Exception):  # the stream does not exist yet: nothing was ever started
            stream, groups = {}, []
        if isinstance(groups, Exception):
            groups = []
        return {"stream": stream, "groups": groups, "dead": dead,
                "workers": [orjson.loads(v) for v in stats.values()],
                "totals": {_text(k): float(v) for k, v in totals.items()},
                "sources": await self._read_sources()}

    async def _read_sources(self) -> list[dict[str, Any]]:
        """Each event source's consumer group (lag, pending), dead-letter stream length and counters."""
        from ..service.event_sources import dead_letter_stream, group_name, sources_key, stats_key

        ns = self.namespace
        defs = await self.redis.hgetall(sources_key(ns))
        if not defs:
            return []
        sources = sorted((_text(name), orjson.loads(doc)) for name, doc in defs.items())
        pipe = self.redis.pipeline(transaction=False)
        for name, doc in sources:
            pipe.xinfo_groups(doc["stream"])
            pipe.xlen(doc.get("dead_letter") or dead_letter_stream(ns, name))
            pipe.hgetall(stats_key(ns, name))
        replies = await pipe.execute(raise_on_error=False)
        out = []
        for i, (name, _) in enumerate(sources):
            groups, dead, stats = replies[3 * i:3 * i + 3]
            wanted = group_name(ns, name)
            group = None if isinstance(groups, Exception) else next(
                (g for g in groups if _text(g.get("name")) == wanted), None)
            out.append({"name": name, "group": group, "dead": 0 if isinstance(dead, Exception) else int(dead),
                        "stats": {} if isinstance(stats, Exception) else {_text(k): int(v) for k, v in stats.items()}})
        return out


def cluster_families(snapshot: dict[str, Any]) -> list[Metric]:
    """Metric families of the cluster state read from Redis (see :meth:`ApiMetrics._read_redis`)."""
    stream = snapshot["stream"]
    group = next((g for g in snapshot["groups"] if _text(g.get("name")) == "workers"), None)
    length = int(stream.get("length", 0))
    pending = int(group["pending"]) if group else 0
    lag = group.get("lag") if group else length
    if lag is None:  # unknown to Redis (deleted entries in the range): every unfinished start not delivered
        lag = max(0, length - pending)
    workers = snapshot["workers"]
    totals = dict.fromkeys(_WORKER_COUNTERS, 0)
    rerun = abandoned = 0
    counts = [0] * (len(DURATION_BUCKETS) + 1)
    duration_sum = 0.0
    for w in workers:
        for k in totals:
            totals[k] += int(w.get(k, 0))
        rerun += int(w.get("redelivered", 0))
        abandoned += int(w.get("sync_abandoned", 0))
        c, s = worker_histogram_buckets({int(b): n for b, n in (w.get("latency_ms") or {}).items()})
        counts = [a + b for a, b in zip(counts, c, strict=True)]
        duration_sum += s
    acked = snapshot.get("totals")
    if acked:  # (counted at acknowledgement: exact; the workers' own figures die with them)
        for k in ("succeeded", "failed", "timed_out"):
            totals[k] = int(acked.get(k, 0))
        counts = [int(acked.get(f"b{i}", 0)) for i in range(len(DURATION_BUCKETS) + 1)]
        duration_sum = acked.get("duration_ms_sum", 0.0) / 1000
    duration = HistogramMetricFamily(
        _PREFIX + "execution_duration_seconds",
        "Execution duration from the start's acceptance to its end, queueing included (all workers).")
    duration.add_metric([], _cumulative(counts), duration_sum)
    reclaimed = CounterMetricFamily(
        _PREFIX + "starts_reclaimed",
        "Starts taken over from a worker that died or stalled: async starts run again (rerun), sync starts "
        "answered with an error instead (abandoned).", labels=["outcome"])
    reclaimed.add_metric(["rerun"], rerun)
    reclaimed.add_metric(["abandoned"], abandoned)
    out: list[Metric] = [
        _counter("executions_started", "Starts accepted into the stream (all API servers and clients).",
                 int(stream.get("entries-added", 0))),
    ]
    for field, (name, doc) in _WORKER_COUNTERS.items():
        out.append(_counter(name, doc, totals[field]))
    out += [
        duration,
        reclaimed,
        _gauge("executions_in_flight", "Starts delivered to a worker and not finished yet (stream pending).",
               pending),
        _gauge("stream_length", "Unfinished starts in the stream (queued or running).", length),
        _gauge("stream_lag", "Starts waiting in the stream for a worker (consumer group lag).", lag),
        _gauge("stream_pending", "Starts delivered to a worker and not acknowledged (consumer group pending).",
               pending),
        _gauge("dead_letter_stream_length", "Entries in the dead-letter stream.", int(snapshot["dead"])),
        _gauge("workers", "Worker processes in the consumer group.", int(group["consumers"]) if group else 0),
        _gauge("worker_stats_published", "Worker processes (live or gone) whose statistics are summed here.",
               len(workers)),
    ]
    return out + source_families(snapshot.get("sources") or [])


#: Event source counters: stats field -> (metric name, label value or None, help).
_SOURCE_COUNTERS: tuple[tuple[str, str, str | None, str], ...] = (
    ("read", "event_source_entries", "read", "Entries an event source read from its stream, by outcome."),
    ("filtered", "event_source_entries", "filtered", ""),
    ("started", "event_source_executions", "started", "Executions an event source started, by outcome (wait mode "
     "knows the outcome)."),
    ("succeeded", "event_source_executions", "succeeded", ""),
    ("failed", "event_source_executions", "failed", ""),
    ("retried", "event_source_retries", None, "Executions an event source retried after a failure (wait mode)."),
    ("dead_lettered", "event_source_dead_lettered", None, "Entries an event source moved to its dead-letter stream."),
)


def source_families(sources: list[dict[str, Any]]) -> list[Metric]:
    """Per event source (label ``source``): lag, pending, dead-letter stream length and counters."""
    if not sources:
        return []
    lag = GaugeMetricFamily(_PREFIX + "event_source_lag", "Entries of an event source's stream not read yet "
                            "(its consumer group's lag).", labels=["source"])
    pending = GaugeMetricFamily(_PREFIX + "event_source_pending", "Entries an event source read and has not "
                                "acknowledged yet (batching, starting or running).", labels=["source"])
    dead = GaugeMetricFamily(_PREFIX + "event_source_dead_letter_stream_length",
                             "Entries in an event source's dead-letter stream.", labels=["source"])
    counters: dict[str, CounterMetricFamily] = {}
    for _, metric, label, doc in _SOURCE_COUNTERS:
        if metric not in counters:
            counters[metric] = CounterMetricFamily(_PREFIX + metric, doc,
                                                   labels=["source", "outcome"] if label else ["source"])
    for src in sources:
        name, group = src["name"], src["group"]
        if group is not None:
            if group.get("lag") is not None:
                lag.add_metric([name], int(group["lag"]))
            pending.add_metric([name], int(group.get("pending", 0)))
        dead.add_metric([name], src["dead"])
        for field, metric, label, _ in _SOURCE_COUNTERS:
            value = src["stats"].get(field, 0)
            counters[metric].add_metric([name, label] if label else [name], value)
    return [lag, pending, dead, *counters.values()]


def _sync_status(result: Any) -> str | None:
    """The ``status`` of a StartSyncExecution response, given as an object or as its JSON bytes."""
    if isinstance(result, dict):
        status = result.get("status")
        return status if isinstance(status, str) else None
    if isinstance(result, bytes):
        # Top-level "status" is the only such key in the response, and a quote inside a JSON string
        # is escaped, so the first match is the field.
        at = result.find(b'"status":"')
        if at >= 0:
            end = result.find(b'"', at + 10)
            return result[at + 10:end].decode() if end > 0 else None
    return None
