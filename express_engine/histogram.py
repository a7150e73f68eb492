"""A mergeable latency histogram: ~2 % relative buckets in milliseconds (workers, API metrics, load tool)."""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable

#: Upper bounds (seconds) of the execution duration histograms (Prometheus ``le``); +Inf is implied.
DURATION_BUCKETS: tuple[float, ...] = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                                       2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


def duration_bucket(seconds: float) -> int:
    """The index in :data:`DURATION_BUCKETS` of the bucket ``seconds`` falls in (its length for +Inf)."""
    return bisect.bisect_left(DURATION_BUCKETS, seconds)


class Histogram:
    """Latencies in milliseconds, bucketed with ~2 % relative precision; histograms add up."""

    _BASE = math.log(1.02)

    def __init__(self, counts: dict[int, int] | None = None) -> None:
        self.counts: dict[int, int] = dict(counts or {})
        self.total = sum(self.counts.values())

    def add(self, ms: float) -> None:
        """Record one latency."""
        b = int(math.log(ms) / self._BASE) + 1 if ms > 0.01 else -233  # everything under 10 µs is one bucket
        self.counts[b] = self.counts.get(b, 0) + 1
        self.total += 1

    def merge(self, other: Histogram) -> None:
        """Add another histogram's counts to this one."""
        for b, n in other.counts.items():
            self.counts[b] = self.counts.get(b, 0) + n
        self.total += other.total

    def percentile(self, p: float) -> float:
        """The latency (upper bucket bound, ms) below which ``p`` percent of the records fall."""
        if not self.total:
            return 0.0
        rank = math.ceil(self.total * p / 100.0)
        seen = 0
        for b in sorted(self.counts):
            seen += self.counts[b]
            if seen >= rank:
                return math.exp(b * self._BASE)
        return 0.0

    def to_dict(self) -> dict[str, int]:
        """JSON-friendly form."""
        return {str(b): n for b, n in self.counts.items()}

    @classmethod
    def from_dict(cls, raw: dict[str, int]) -> Histogram:
        """Inverse of :meth:`to_dict`."""
        return cls({int(b): n for b, n in raw.items()})

    @classmethod
    def merged(cls, many: Iterable[Histogram]) -> Histogram:
        """The sum of several histograms."""
        out = cls()
        for h in many:
            out.merge(h)
        return out
