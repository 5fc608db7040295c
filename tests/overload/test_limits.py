"""The limit algorithms, driven by simulated latencies and a simulated clock."""

from __future__ import annotations

import pytest

from actuator.overload.limits import MIN_SAMPLES, AimdLimit, FixedLimit, GradientLimit, Limit


def saturated_server(slots: int, service: float) -> callable:  # type: ignore[valid-type]
    """Latency of a server with ``slots`` workers when ``in_flight`` requests share them."""
    return lambda in_flight: service * max(1.0, in_flight / slots)


def run_windows(
    limit: Limit,
    windows: int,
    latency_of,
    *,
    offered: int | None = None,
    start: float = 0.0,
    window: float = 0.1,
) -> float:
    """Feed ``windows`` windows of samples; ``offered`` caps the requests in flight."""
    now = start
    for _ in range(windows):
        in_flight = limit.limit if offered is None else min(offered, limit.limit)
        for _ in range(MIN_SAMPLES):
            now += window / (MIN_SAMPLES - 1) * 1.01
            limit.on_sample(now, latency_of(in_flight), in_flight)
        now += 1e-6
    return now


def test_a_fixed_limit_never_moves() -> None:
    limit = FixedLimit(7)
    run_windows(limit, 50, lambda n: 10.0)
    assert limit.limit == 7


def test_gradient_limit_settles_near_the_servers_capacity_under_overload() -> None:
    latency = saturated_server(slots=8, service=0.02)
    limit = GradientLimit(initial=100, min_limit=1, max_limit=1000)
    # Learn the unloaded latency first: the app uses a few slots, the limit stays.
    now = run_windows(limit, 30, latency, offered=4)
    assert limit.limit == 100
    run_windows(limit, 200, latency, start=now)
    # Where latency is tolerance (1.5x) the no-load latency: 1.5 * 8 = 12 in flight,
    # give or take one window's growth.
    assert 10 <= limit.limit <= 14


def test_gradient_limit_of_a_small_capacity_queues_no_more_than_the_tolerance() -> None:
    # Two slots: with Gradient2's headroom while shrinking, the limit would settle
    # near 5 (latency 2.6x the no-load); without it, where latency is 1.5x.
    latency = saturated_server(slots=2, service=0.02)
    limit = GradientLimit(initial=20, min_limit=1)
    now = run_windows(limit, 300, latency)
    seen = []
    for _ in range(100):
        now = run_windows(limit, 1, latency, start=now)
        seen.append(limit.limit)
    assert max(seen) <= 4
    assert min(seen) >= 2


def test_gradient_limit_grows_while_latency_stays_flat_and_the_limit_is_used() -> None:
    limit = GradientLimit(initial=10, min_limit=1, max_limit=1000)
    run_windows(limit, 100, lambda n: 0.02)
    # queue_size (4) times smoothing (0.2) per window.
    assert limit.limit == pytest.approx(10 + 100 * 0.8, abs=2)


def test_gradient_limit_does_not_grow_when_the_app_uses_less_than_half_of_it() -> None:
    limit = GradientLimit(initial=50)
    run_windows(limit, 100, lambda n: 0.02, offered=10)
    assert limit.limit == 50


def test_gradient_limit_shrinks_at_most_half_the_smoothing_per_window() -> None:
    limit = GradientLimit(initial=100, min_limit=1, smoothing=0.2)
    now = run_windows(limit, 20, lambda n: 0.01, offered=60)
    before = limit.estimate
    run_windows(limit, 1, lambda n: 10.0, start=now)  # a thousand times slower
    # Half the smoothing (0.2) of a gradient of 0.5, and no headroom while shrinking.
    assert limit.estimate == pytest.approx(before * 0.9)


def test_gradient_limit_stays_within_its_bounds() -> None:
    low = GradientLimit(initial=20, min_limit=5, max_limit=30)
    now = run_windows(low, 20, lambda n: 0.01)
    run_windows(low, 200, lambda n: 1.0, start=now)
    assert low.limit == 5
    high = GradientLimit(initial=20, min_limit=5, max_limit=30)
    run_windows(high, 200, lambda n: 0.01)
    assert high.limit == 30


def test_gradient_long_latency_comes_down_quickly_after_a_long_overload() -> None:
    limit = GradientLimit(initial=20, long_window=600)
    now = run_windows(limit, 50, lambda n: 1.0)  # a long slow period sets the long RTT
    slow = limit.long_rtt.value
    run_windows(limit, 20, lambda n: 0.01, start=now)
    # The 5% pull-down per window outpaces the 600-window average (0.3% per window).
    assert limit.long_rtt.value < slow * 0.95**20 * 1.01


def test_a_window_with_too_few_samples_does_not_move_the_limit() -> None:
    limit = GradientLimit(initial=20, window=0.1)
    for i in range(MIN_SAMPLES - 1):
        limit.on_sample(i * 0.2, 5.0, 20)  # each sample closes a window of one
    assert limit.estimate == 20.0


def test_aimd_backs_off_when_latency_passes_the_threshold_and_creeps_up_otherwise() -> None:
    limit = AimdLimit(initial=100, min_limit=1, latency_threshold=0.1)
    now = run_windows(limit, 3, lambda n: 0.5)
    assert limit.estimate == pytest.approx(100 * 0.9**3)
    before = limit.estimate
    run_windows(limit, 5, lambda n: 0.01, start=now)
    assert limit.estimate == pytest.approx(before + 5)


def test_aimd_settles_where_latency_meets_the_threshold() -> None:
    latency = saturated_server(slots=8, service=0.02)
    limit = AimdLimit(initial=100, min_limit=1, latency_threshold=0.04)
    run_windows(limit, 300, latency)
    # 0.04 s of latency is 16 requests on 8 slots.
    assert 12 <= limit.limit <= 18


def test_aimd_does_not_grow_when_the_app_uses_less_than_half_of_it() -> None:
    limit = AimdLimit(initial=50)
    run_windows(limit, 50, lambda n: 0.01, offered=10)
    assert limit.limit == 50


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: FixedLimit(0), "limit must be >= 1"),
        (lambda: GradientLimit(min_limit=10, max_limit=5), "min_limit"),
        (lambda: GradientLimit(smoothing=0), "smoothing"),
        (lambda: GradientLimit(tolerance=0.5), "tolerance"),
        (lambda: GradientLimit(window=0), "window"),
        (lambda: AimdLimit(backoff=1.0), "backoff"),
        (lambda: AimdLimit(latency_threshold=-1), "latency_threshold"),
    ],
)
def test_invalid_parameters_are_refused_naming_the_parameter(factory, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        factory()


def test_a_limit_that_is_not_an_int_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="limit must be an int"):
        FixedLimit(2.5)  # type: ignore[arg-type]


def test_a_window_stretches_to_collect_enough_samples_at_a_low_rate() -> None:
    limit = AimdLimit(initial=20, latency_threshold=0.1, window=0.1)
    for i in range(MIN_SAMPLES):  # 20 requests a second: ten take half a second
        limit.on_sample(i * 0.05, 1.0, 20)
    assert limit.estimate == pytest.approx(18.0)


def test_gradient_limit_measures_the_no_load_latency_first_at_its_floor() -> None:
    limit = GradientLimit(initial=50, min_limit=2)
    assert limit.probing
    assert limit.limit == 2
    for i in range(MIN_SAMPLES - 1):
        limit.on_sample(i * 0.01, 0.02, 2)
    limit.on_sample(0.5, 9.0, 30)  # started before the probe, at a higher concurrency: ignored
    assert limit.probing
    limit.on_sample(0.6, 0.03, 1)
    assert not limit.probing
    assert limit.limit == 50
    assert limit.long_rtt.value == pytest.approx(0.02)  # the median


def test_gradient_limit_started_under_overload_still_finds_the_capacity() -> None:
    latency = saturated_server(slots=8, service=0.02)
    limit = GradientLimit(initial=100, min_limit=1)
    run_windows(limit, 300, latency)  # saturated from the first request
    assert 8 <= limit.limit <= 16


def test_gradient_limit_measures_the_no_load_latency_again_every_probe_interval() -> None:
    limit = GradientLimit(initial=20, min_limit=1, probe_interval=5.0)
    now = run_windows(limit, 10, lambda n: 0.02)
    assert not limit.probing
    run_windows(limit, 60, lambda n: 0.02, start=now)  # 6 s later
    assert limit.long_rtt.value == pytest.approx(0.02)
    assert limit._next_probe > now + 5.0  # probed again, and scheduled the next
