"""Live progress on stderr: a ``rich`` panel on a terminal, one plain line a second otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any, Literal

from .loadgen import Plan, Recorder

Mode = Literal["auto", "rich", "plain", "none"]


def _fmt_ms(ms: float) -> str:
    return f"{ms:.2f} ms" if ms < 100 else f"{ms:,.0f} ms"


class Progress:
    """Shows rate, in-flight and errors while a run goes (call :meth:`update` about once a second)."""

    def __init__(self, plan: Plan, mode: Mode = "auto", *, title: str = "") -> None:
        if mode == "auto":
            mode = "rich" if sys.stderr.isatty() and _has_rich() else "plain"
        if mode == "rich" and not _has_rich():
            mode = "plain"
        self.mode = mode
        self.plan = plan
        self.title = title
        self._live: Any = None
        self._last = (time.perf_counter(), 0, 0.0)

    def __enter__(self) -> Progress:
        if self.mode == "rich":
            from rich.console import Console
            from rich.live import Live

            # Refreshed by update() only: no refresh thread competing with the load for the GIL.
            self._live = Live(console=Console(stderr=True), auto_refresh=False, transient=False)
            self._live.__enter__()
        elif self.mode == "plain" and self.title:
            sys.stderr.write(self.title + "\n")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    def update(self, rec: Recorder) -> None:
        """Show the run's state now."""
        if self.mode == "none":
            return
        now = time.perf_counter()
        t_prev, done_prev, rate = self._last
        if now - t_prev >= 0.5:  # else: the final update right after a regular one: keep the last rate
            rate = (rec.completed - done_prev) / (now - t_prev)
            self._last = (now, rec.completed, rate)
        fields = {
            "elapsed": f"{now - rec.t0:6.1f} s",
            "sent": f"{rec.sent:,}",
            "done": f"{rec.completed:,}",
            "rate": f"{rate:,.0f}/s",
            "in-flight": f"{rec.in_flight:,}",
            "errors": f"{rec.error_count:,}",
            "p50": _fmt_ms(rec.latency.percentile(50)) if rec.latency.total else "-",
            "p99": _fmt_ms(rec.latency.percentile(99)) if rec.latency.total else "-",
        }
        if self._live is not None:
            self._live.update(self._render(fields, rec), refresh=True)
        else:
            sys.stderr.write("  ".join(f"{k} {v.strip()}" for k, v in fields.items()) + "\n")
            sys.stderr.flush()

    def _render(self, fields: dict[str, str], rec: Recorder) -> Any:
        from rich.table import Table

        table = Table(title=self.title or None, title_justify="left", expand=False)
        for name in fields:
            table.add_column(name, justify="right", style="red" if name == "errors" and rec.error_count else None)
        table.add_row(*fields.values())
        if rec.errors:
            top = ", ".join(f"{name} x{n:,}" for name, n in sorted(rec.errors.items(), key=lambda kv: -kv[1])[:3])
            table.caption = f"errors: {top}"
        return table


def _has_rich() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True
