"""The supervisor's restart backoff: doubling in a crash loop, back to the shortest after a healthy run."""

from __future__ import annotations

from express_engine.service.process import RestartBackoff, RestartPolicy


def test_backoff_doubles_in_a_crash_loop_and_is_capped() -> None:
    backoff = RestartBackoff(RestartPolicy(first=1.0, max_delay=10.0, healthy_after=30.0))
    assert [backoff.delay(uptime=3.0) for _ in range(7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]


def test_backoff_resets_after_a_healthy_period() -> None:
    backoff = RestartBackoff(RestartPolicy(first=1.0, max_delay=10.0, healthy_after=30.0))
    for _ in range(6):
        backoff.delay(uptime=1.0)
    assert backoff.delay(uptime=1.0) == 10.0
    # The slot then ran for a healthy while before dying again: a fresh start, not the 7th crash in a row.
    assert backoff.delay(uptime=45.0) == 1.0
    assert backoff.delay(uptime=3.0) == 2.0


def test_default_policy_is_one_second_doubling_to_ten_reset_after_thirty() -> None:
    assert RestartPolicy() == RestartPolicy(first=1.0, max_delay=10.0, healthy_after=30.0)
    backoff = RestartBackoff()
    assert [backoff.delay(uptime=29.9) for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff.delay(uptime=30.0) == 1.0
