"""The workers' latency histogram: ~2 % buckets, percentiles, merging across workers."""

from __future__ import annotations

from express_engine.histogram import Histogram


def test_percentiles_are_within_the_bucket_precision() -> None:
    h = Histogram()
    for ms in range(1, 1001):  # 1 .. 1000 ms
        h.add(float(ms))
    assert h.total == 1000
    for p, exact in ((50, 500.0), (99, 990.0), (100, 1000.0)):
        assert exact <= h.percentile(p) <= exact * 1.021


def test_tiny_latencies_share_one_bucket_and_empty_is_zero() -> None:
    assert Histogram().percentile(99) == 0.0
    h = Histogram()
    h.add(0.0)
    h.add(0.001)
    assert len(h.counts) == 1 and h.percentile(100) < 0.011


def test_histograms_merge_and_survive_json() -> None:
    a, b = Histogram(), Histogram()
    for ms in (1.0, 2.0, 3.0):
        a.add(ms)
    for ms in (100.0, 200.0):
        b.add(ms)
    merged = Histogram.merged([a, Histogram.from_dict(b.to_dict())])
    assert merged.total == 5
    assert 200.0 <= merged.percentile(100) <= 204.2
    assert 3.0 <= merged.percentile(60) <= 3.07
