"""Worker processes: the entry point of one process and a supervisor running several.

``run_worker_process(spec)`` runs one :class:`Worker` with signal handling (first SIGTERM/SIGINT:
graceful stop; second: immediate cancel). :func:`supervise` starts ``P`` such processes, restarts
any that dies (with backoff) and forwards a stop to all of them. Children run in their own process
group, so a terminal's Ctrl-C reaches only the supervisor, which stops each child exactly once; a
child whose supervisor disappears stops by itself.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import anyio

from ..gctune import settle_heap
from ..jsonutil import dumps
from ..runtime.tasks import HandlerRegistry
from .keys import connect
from .worker import Worker, WorkerOptions

log = logging.getLogger("express_engine.supervisor")


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """Everything a worker process needs (picklable: it crosses the process boundary)."""

    redis_url: str
    options: WorkerOptions = field(default_factory=WorkerOptions)
    #: ``NAME=module:function`` handler specs
    handlers: tuple[str, ...] = ()
    #: MockConfigFile.json path
    mock_config: str | None = None
    log_level: str = "WARNING"
    #: print the final statistics as JSON on stderr
    print_stats: bool = True
    #: where http:invoke may connect (an EgressPolicy; None: anywhere)
    egress: Any = None


def setup_logging(level: str) -> None:
    """Diagnostics to stderr (stdout carries execution logs)."""
    logging.basicConfig(stream=sys.stderr, level=getattr(logging, level.upper(), logging.WARNING),
                        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")


def load_handlers(specs: tuple[str, ...] | list[str]) -> HandlerRegistry:
    """A handler registry from ``NAME=module:function`` specs (raises ValueError for a bad one)."""
    handlers = HandlerRegistry()
    for spec in specs:
        handlers.register_spec(spec)
    return handlers


def load_mock_config(path: str | None) -> Any:
    """The MockConfigFile.json at ``path`` (or ``SFN_MOCK_CONFIG``), or None."""
    from ..runtime.mocks import MockConfig

    return MockConfig.load(path) if path else MockConfig.from_env()


def run_worker_process(spec: ProcessSpec, *, own_group: bool = False) -> int:
    """Run one worker in this process until it is stopped by a signal; returns the exit status."""
    from ..eventloop import run_async

    if own_group:
        os.setpgid(0, 0)
    setup_logging(spec.log_level)
    handlers = load_handlers(spec.handlers)
    mock_config = load_mock_config(spec.mock_config)
    settle_heap()
    stats = run_async(_worker_main, spec, handlers, mock_config)
    if spec.print_stats:
        sys.stderr.write(dumps({"worker": stats}) + "\n")
    return 0


async def _worker_main(spec: ProcessSpec, handlers: HandlerRegistry, mock_config: Any) -> dict[str, Any]:
    from ..integrations import install
    from .client import Client
    from .event_sources import ConsumerOptions, SourceRunner

    redis = connect(spec.redis_url)
    worker = Worker(redis, spec.options, handlers=handlers, mock_config=mock_config)
    client = Client(redis, namespace=spec.options.namespace, registry=worker.registry)
    # Event sources and rule targets of the namespace, consumed by every worker process.
    sources = SourceRunner(redis, client, namespace=spec.options.namespace, consumer=worker.consumer,
                           options=ConsumerOptions(claim_idle=spec.options.claim_idle, grace=spec.options.grace),
                           region=spec.options.region, account=spec.options.account, local=worker)
    try:
        # Task resources served by the engine itself (http:invoke, nested starts, Redis streams).
        async with (install(handlers, client=client, redis=redis, region=spec.options.region, egress=spec.egress),
                    anyio.create_task_group() as tg):
            tg.start_soon(_stop_on_signal, worker, tg.cancel_scope)
            tg.start_soon(_stop_when_orphaned, worker)
            tg.start_soon(sources.run)
            await worker.run()
            sources.stop()
            tg.cancel_scope.cancel()
    finally:
        await client.aclose()
        await redis.aclose()
    # (a second stop signal cancels worker.run(): its statistics so far are still the worker's)
    out = worker.stats.to_dict()
    out.pop("latency_ms", None)
    return out


async def _stop_on_signal(worker: Worker, scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        stopping = False
        async for _ in signals:
            if stopping:
                log.warning("second stop signal: cancelling running executions now")
                scope.cancel()
                return
            stopping = True
            log.info("stop signal: finishing running executions (grace %.1f s)", worker.options.grace)
            worker.stop()


async def _stop_when_orphaned(worker: Worker) -> None:
    parent = os.getppid()
    while True:
        await anyio.sleep(1.0)
        if os.getppid() != parent:
            log.warning("supervisor gone: stopping")
            worker.stop()
            return


def _child(spec: ProcessSpec) -> None:
    sys.exit(run_worker_process(spec, own_group=True))


class Stop:
    """Stop requests of a supervisor: the first signal asks for a graceful stop, a second one hurries it."""

    def __init__(self) -> None:
        self.requested = anyio.Event()
        self.hurry = anyio.Event()

    async def watch_signals(self) -> None:
        """Translate SIGTERM/SIGINT into :attr:`requested`, then :attr:`hurry` (run until cancelled).

        Signals less than a second apart count as one: an embedded server (uvicorn) re-raises the
        signal it caught when it has shut down.
        """
        first = 0.0
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for _ in signals:
                if not self.requested.is_set():
                    first = time.monotonic()
                    self.requested.set()
                elif time.monotonic() - first > 1.0 and not self.hurry.is_set():
                    log.warning("second stop signal: cancelling running executions now")
                    self.hurry.set()


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """How a supervisor paces the restarts of a worker slot whose process exited.

    The first restart waits ``first`` seconds, each further death in a row doubles the wait up to
    ``max_delay``; a process that stayed up ``healthy_after`` seconds starts the slot afresh.
    """

    first: float = 1.0
    max_delay: float = 10.0
    healthy_after: float = 30.0


class RestartBackoff:
    """The restart delays of one worker slot under a :class:`RestartPolicy`.

    The wait doubles with each death (``first`` after the first ... at most ``max_delay``) and starts again
    from ``first`` once a process has stayed up for ``healthy_after`` seconds: one crash after hours of
    service is not the sixth of a crash loop.
    """

    def __init__(self, policy: RestartPolicy = RestartPolicy()) -> None:
        self.policy = policy
        self.deaths = 0

    def delay(self, uptime: float) -> float:
        """Record a death after ``uptime`` seconds of running; returns the wait before the restart."""
        policy = self.policy
        if uptime >= policy.healthy_after:
            self.deaths = 0
        self.deaths += 1
        return float(min(policy.max_delay, policy.first * 2 ** min(self.deaths - 1, 30)))


@dataclass(slots=True)
class WorkerCount:
    """How many worker processes of a supervisor are running (read by ``GET /health``)."""

    wanted: int = 0
    alive: int = 0


async def supervise(spec: ProcessSpec, processes: int, stop: Stop, workers: WorkerCount | None = None,
                    restart: RestartPolicy = RestartPolicy()) -> None:
    """Run ``processes`` worker processes until a stop is requested, restarting any that exits early."""
    ctx = multiprocessing.get_context("spawn")
    children: list[Any] = [None] * processes
    backoff = [RestartBackoff(restart) for _ in range(processes)]
    started = [0.0] * processes
    next_start = [0.0] * processes
    count = workers if workers is not None else WorkerCount()
    count.wanted = processes

    def launch(i: int) -> None:
        proc = ctx.Process(target=_child, args=(spec,), name=f"express-engine-worker-{i}", daemon=False)
        proc.start()
        children[i] = proc
        started[i] = time.monotonic()
        log.info("worker process %d started (pid %s)", i, proc.pid)

    for i in range(processes):
        launch(i)
    try:
        while not stop.requested.is_set():
            count.alive = sum(1 for p in children if p is not None and p.exitcode is None)
            with anyio.move_on_after(0.2):
                await stop.requested.wait()
            now = time.monotonic()
            for i, proc in enumerate(children):
                if proc is not None and proc.exitcode is None:
                    continue
                if proc is not None:
                    uptime = now - started[i]
                    delay = backoff[i].delay(uptime)
                    log.error("worker process %d (pid %s) exited with status %s after %.1f s; restarting in %.2f s",
                              i, proc.pid, proc.exitcode, uptime, delay)
                    children[i] = None
                    next_start[i] = now + delay
                if not stop.requested.is_set() and now >= next_start[i]:
                    launch(i)
    finally:
        count.alive = 0
        await _stop_children([c for c in children if c is not None], spec.options.grace + 10.0, stop.hurry)


def _signal_all(children: list[Any]) -> None:
    for proc in children:
        if proc.exitcode is None and proc.pid:
            os.kill(proc.pid, signal.SIGTERM)


async def _stop_children(children: list[Any], timeout: float, hurry: anyio.Event) -> None:
    """SIGTERM every child (a second SIGTERM when hurried), then wait; SIGKILL what outlives ``timeout``."""
    _signal_all(children)
    hurried = False
    deadline = time.monotonic() + timeout
    with anyio.CancelScope(shield=True):
        while any(p.exitcode is None for p in children) and time.monotonic() < deadline:
            if hurry.is_set() and not hurried:
                hurried = True
                _signal_all(children)
            await anyio.sleep(0.05)
        for proc in children:
            if proc.exitcode is None:
                log.error("worker process pid %s did not stop within %.0f s: killing it", proc.pid, timeout)
                proc.kill()
                proc.join(1.0)


async def supervise_until_signal(spec: ProcessSpec, processes: int,
                                 restart: RestartPolicy = RestartPolicy()) -> None:
    """:func:`supervise` until SIGTERM/SIGINT (the ``worker --processes P`` command)."""
    stop = Stop()
    async with anyio.create_task_group() as tg:
        tg.start_soon(stop.watch_signals)
        await supervise(spec, processes, stop, restart=restart)
        tg.cancel_scope.cancel()
