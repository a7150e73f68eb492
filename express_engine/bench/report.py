"""The benchmark report (JSON) and its plot (PNG: throughput, latency and CPU over time)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import orjson

from ..histogram import Histogram
from .loadgen import Plan, Recorder

#: Percentiles reported (name -> percent).
PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p99.9": 99.9}
REPORT_VERSION = 1


def latency_summary(h: Histogram, *, exact_min: float | None = None, exact_max: float | None = None,
                    total_ms: float | None = None) -> dict[str, Any]:
    """Percentiles (ms, upper bucket bounds: within 2 %) of a latency histogram, with min/max/mean when known."""
    top = exact_max if exact_max is not None and h.total else math.inf
    out: dict[str, Any] = {name: round(min(h.percentile(p), top), 3) for name, p in PERCENTILES.items()}
    if exact_min is not None and math.isfinite(exact_min):
        out["min"] = round(exact_min, 3)
    if exact_max is not None:
        out["max"] = round(exact_max, 3)
    if total_ms is not None and h.total:
        out["mean"] = round(total_ms / h.total, 3)
    out["count"] = h.total
    return out


def histogram_buckets(h: Histogram) -> list[dict[str, float]]:
    """The histogram as ``[{"le": upper bound in ms, "count": n}]`` (per bucket, ascending; ~2 % wide)."""
    return [{"le": round(math.exp(b * Histogram._BASE), 4), "count": n} for b, n in sorted(h.counts.items())]


def build_report(*, target: dict[str, Any], plan: Plan, rec: Recorder, resources: dict[str, Any],
                 drain: dict[str, Any] | None = None, started_at: str, input_bytes: int) -> dict[str, Any]:
    """The JSON report of one run."""
    send_window = max(1e-9, rec.last_send - rec.t0)
    elapsed = max(1e-9, rec.last_done - rec.t0, send_window)
    abandoned = rec.sent - rec.completed
    latency = latency_summary(rec.latency, exact_min=rec.min_ms, exact_max=rec.max_ms, total_ms=rec.latency_sum_ms)
    latency["coordinated_omission_corrected"] = plan.open_loop
    latency["histogram"] = histogram_buckets(rec.latency)
    report: dict[str, Any] = {
        "version": REPORT_VERSION,
        "tool": "express-engine bench",
        "started_at": started_at,
        "host": {"cpus": os.cpu_count(), "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None},
        "target": {**target, "input_bytes": input_bytes},
        "load": {
            "model": "open" if plan.open_loop else "closed",
            "rate": plan.rate,
            "concurrency": plan.concurrency,
            "duration_s": plan.duration,
            "count": plan.count,
            "max_in_flight": plan.max_in_flight if plan.open_loop else plan.concurrency,
            "drain_timeout_s": plan.drain_timeout,
        },
        "counts": {
            "sent": rec.sent,
            "completed": rec.completed,
            "succeeded": rec.succeeded,
            "errors": rec.error_count,
            "abandoned": abandoned,
        },
        "statuses": dict(sorted(rec.statuses.items())),
        "errors": dict(sorted(rec.errors.items(), key=lambda kv: -kv[1])),
        "send_window_s": round(send_window, 3),
        "elapsed_s": round(elapsed, 3),
        "throughput": {
            "offered_per_s": plan.rate,
            "sent_per_s": round(rec.sent / send_window, 1),
            "completed_per_s": round(rec.completed / elapsed, 1),
            "succeeded_per_s": round(rec.succeeded / elapsed, 1),
        },
        "latency_ms": latency,
        "timeline": timeline(rec),
        "resources": resources,
    }
    if plan.open_loop:
        report["service_time_ms"] = latency_summary(rec.service)
        report["max_send_lag_ms"] = round(rec.max_send_lag_ms, 3)
    if drain is not None:
        report["async_drain"] = drain
    return report


def timeline(rec: Recorder) -> list[dict[str, Any]]:
    """Per-second rows: sends, completions, errors, in-flight, latency percentiles, CPU.

    The last row may cover less than a second (``span_s``): rates are its counts divided by it.
    """
    rows = []
    end = max(rec.last_done, rec.last_send) - rec.t0
    for i, s in enumerate(rec.seconds):
        row: dict[str, Any] = {"t": i, "sent": s.sent, "completed": s.completed, "errors": s.errors,
                               "in_flight": s.in_flight}
        if end < i + 1:
            row["span_s"] = round(max(0.001, end - i), 3)
        if s.latency.total:
            row.update(p50_ms=round(s.latency.percentile(50), 3), p99_ms=round(s.latency.percentile(99), 3),
                       max_ms=round(s.max_ms, 3))
        if s.client_cpu_percent is not None:
            row["client_cpu_percent"] = s.client_cpu_percent
        if s.worker_cpu_percent is not None:
            row["worker_cpu_percent"] = s.worker_cpu_percent
        if s.server_cpu_percent is not None:
            row["server_cpu_percent"] = s.server_cpu_percent
        rows.append(row)
    return rows


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The few figures printed on stdout at the end of a run."""
    lat = report["latency_ms"]
    out = {
        "target": report["target"]["kind"],
        "mode": report["target"]["mode"],
        "load": report["load"]["model"],
        "counts": report["counts"],
        "throughput": report["throughput"],
        "latency_ms": {k: lat[k] for k in (*PERCENTILES, "max") if k in lat},
        "errors": report["errors"],
    }
    workers = report["resources"]["workers"]["total"]
    out["worker_cpu_percent"] = workers.get("cpu_percent")
    return out


def write_report(report: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write the report as indented JSON."""
    Path(path).write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")


def plot_report(report: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Draw throughput, latency and CPU over time into a PNG (matplotlib, Agg backend)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise RuntimeError("--plot needs matplotlib: pip install 'express_engine[bench]'") from exc
    # A last row of a fraction of a second makes a meaningless rate spike: leave it out of the picture.
    rows = [r for r in report["timeline"] if r.get("span_s", 1.0) >= 0.5]
    t = [r["t"] + r.get("span_s", 1.0) / 2 for r in rows]

    def rate(key: str) -> list[float]:
        return [r[key] / r.get("span_s", 1.0) for r in rows]

    marker = "o" if len(rows) <= 20 else None
    has_cpu = any("worker_cpu_percent" in r or "client_cpu_percent" in r for r in rows)
    fig, axes = plt.subplots(3 if has_cpu else 2, 1, sharex=True, figsize=(10, 8 if has_cpu else 6), dpi=100)
    ax = axes[0]
    ax.plot(t, rate("completed"), label="completed/s", color="tab:blue", marker=marker)
    ax.plot(t, rate("sent"), label="sent/s", color="tab:gray", linestyle="--")
    if any(r["errors"] for r in rows):
        ax.plot(t, rate("errors"), label="errors/s", color="tab:red", marker=marker)
    ax.set_ylabel("per second")
    ax.set_ylim(bottom=0)
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    target = report["target"]
    load = report["load"]
    shape = f"rate {load['rate']:g}/s" if load["model"] == "open" else f"concurrency {load['concurrency']}"
    ax.set_title(f"express-engine bench: {target['kind']} {target['mode']}, {load['model']} loop ({shape})")
    ax = axes[1]
    lat_t = [x for x, r in zip(t, rows, strict=True) if "p50_ms" in r]
    for key, color in (("p50_ms", "tab:green"), ("p99_ms", "tab:orange"), ("max_ms", "tab:red")):
        ax.plot(lat_t, [r[key] for r in rows if "p50_ms" in r], label=key.replace("_ms", ""), color=color,
                marker=marker)
    ax.set_ylabel("latency (ms)")
    if lat_t and max((r["max_ms"] for r in rows if "max_ms" in r), default=0) > 0:
        from matplotlib.ticker import FuncFormatter

        ax.set_yscale("log")
        plain = FuncFormatter(lambda v, _: f"{v:g}")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if str(v)[0] in "235" else ""))
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3, which="both")
    if has_cpu:
        ax = axes[2]
        for key, label, color in (("client_cpu_percent", "load generator", "tab:gray"),
                                  ("worker_cpu_percent", "workers", "tab:purple"),
                                  ("server_cpu_percent", "serve (HTTP API)", "tab:brown")):
            pts = [(x, r[key]) for x, r in zip(t, rows, strict=True) if key in r]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], label=label, color=color, marker=marker)
        ax.set_ylabel("CPU (% of a core)")
        ax.set_ylim(bottom=0)
        ax.legend(loc="best", fontsize="small")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
