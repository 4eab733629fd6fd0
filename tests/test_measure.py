"""attnlab.measure: interleaved timing, contention, and peak memory read from the allocator's events."""

from __future__ import annotations

import pytest
import torch

import attnlab
from attnlab import AttnLabError
from attnlab.cost import scores_bytes
from attnlab.measure import (
    RETRY_ABOVE,
    Contention,
    _memory_events,
    interleaved_medians,
    matmul_gflops,
    measure_with_retries,
    peak_memory,
    time_interleaved,
)


def test_interleaved_medians_and_contention():
    calls = {"a": 0, "b": 0}

    def count(name):
        calls[name] += 1

    with Contention() as c:
        times = interleaved_medians(
            {"a": lambda: count("a"), "b": lambda: count("b")}, threads=1, budget_s=0.0, min_rounds=3
        )
    assert c.share is None or 0.0 <= c.share <= 1.0
    assert set(times) == {"a", "b"}
    for t in times.values():
        assert t["rounds"] == 3 and t["median_s"] > 0 and t["iqr_s"] >= 0 and t["number"] >= 1
    assert calls["a"] >= 2 + 3 * times["a"]["number"]  # warm-up, sizing, then every round


def test_retries_keep_the_least_disturbed_attempt(monkeypatch):
    shares = iter([0.9, 0.5, 0.7])

    class Fake:
        def __enter__(self):
            self.share = next(shares)
            return self

        def __exit__(self, *exc):
            pass

    monkeypatch.setattr("attnlab.measure.Contention", Fake)
    _, share, attempts = measure_with_retries({"x": lambda: None}, budget_s=0.0, retries=2, pause_s=0.0)
    assert (share, attempts) == (0.5, 3) and share > RETRY_ABOVE


def test_time_interleaved_and_matmul_gflops_return_positive_numbers():
    times = time_interleaved({"a": lambda: torch.ones(10).sum(), "b": lambda: None}, rounds=2, min_run_time=0.001)
    assert set(times) == {"a", "b"} and all(t > 0 for t in times.values())
    assert matmul_gflops(32, budget_s=0.0) > 0


def test_peak_memory_reads_the_allocator():
    def churn() -> torch.Tensor:
        big = torch.empty(2**18)  # 1 MiB of float32
        del big
        return torch.empty(2**16)  # 256 KiB, returned

    assert peak_memory(churn) == 2**20
    assert peak_memory(lambda: None) == 0


def test_the_profiler_internals_peak_memory_reads_are_still_there():
    """If a torch release changes what _memory_events reads, this fails first, and says what changed."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        x = torch.empty(2**18)
        del x
    events = _memory_events(prof)
    assert [n for _, n in events if abs(n) == 2**20] == [2**20, -(2**20)]  # allocated, then freed
    assert [t for t, _ in events] == sorted(t for t, _ in events)

    class Changed:
        profiler = None

    with pytest.raises(RuntimeError, match=r"changed the profiler internals peak_memory reads"):
        _memory_events(Changed())


def test_peak_memory_sees_the_explicit_paths_scores_and_not_the_tiled_paths():
    q, k, v = (torch.randn(1, 2, 512, 16) for _ in range(3))
    scores = scores_bytes(1, 2, 512, 512)
    with torch.inference_mode():
        manual = peak_memory(lambda: attnlab.scaled_dot_product_attention(q, k, v))
        tiled = peak_memory(lambda: attnlab.scaled_dot_product_attention(q, k, v, impl="tiled", block_size=64))
    assert manual >= 2 * scores  # scores and weights are alive together
    assert tiled < scores / 2


def test_bad_input_says_what_was_expected():
    with pytest.raises(AttnLabError, match=r"no functions to time"):
        time_interleaved({})
    with pytest.raises(AttnLabError, match=r"threads and rounds must be >= 1, got 0 and 3"):
        time_interleaved({"a": lambda: None}, threads=0)
    with pytest.raises(AttnLabError, match=r"the block time must be > 0 seconds, got 0.0"):
        time_interleaved({"a": lambda: None}, min_run_time=0.0)
    with pytest.raises(AttnLabError, match=r"n must be a positive int, got 0"):
        matmul_gflops(0)
