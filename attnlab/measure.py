"""Measuring on the reader's machine: time and peak memory, for chapter 6 and ``benchmarks/`` alike.

Counts (FLOPs, bytes) are in :mod:`attnlab.cost` and are exact. Measurements are not: the machine is
shared with other programs, so timing interleaves the methods round by round (a burst of load from
elsewhere then lands on all of them alike) and reports medians, with an explicit thread count, and
:class:`Contention` says how much of the machine others used meanwhile. Peak memory is read from the CPU
allocator's events through ``torch.profiler``; :func:`_memory_events` is the one place that reads the
profiler's internals, and it fails loudly if a torch release changes them.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import torch
from torch.utils import benchmark

from .errors import _require

__all__ = [
    "RETRIES",
    "RETRY_ABOVE",
    "Contention",
    "interleaved_medians",
    "matmul_gflops",
    "measure_with_retries",
    "peak_memory",
    "time_interleaved",
]

# On a shared machine another process can hold a core for a while; every parallel region then waits for
# it. A measurement taken while others used more than this share of the machine is repeated (at most
# RETRIES more times), and the least disturbed attempt is kept.
RETRY_ABOVE = 0.2
RETRIES = 2


def _busy_seconds() -> float | None:
    """CPU seconds every process on the machine has used since boot (None without /proc/stat)."""
    try:
        fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class Contention:
    """The share of the machine that other processes used while the block ran (0 = we had it alone).

    ``with Contention() as c: ...`` then ``c.share``; None where /proc/stat is missing.
    """

    def __enter__(self) -> Contention:
        self._busy, self._own, self._wall = _busy_seconds(), _own_seconds(), time.perf_counter()
        self.share: float | None = None
        return self

    def __exit__(self, *exc: object) -> None:
        busy = _busy_seconds()
        if busy is None or self._busy is None:
            return
        wall = time.perf_counter() - self._wall
        others = (busy - self._busy) - (_own_seconds() - self._own)
        self.share = min(1.0, max(0.0, others / (wall * (os.cpu_count() or 1))))


def _quartiles(samples: list[float]) -> tuple[float, float]:
    if len(samples) < 2:
        return samples[0], samples[0]
    q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return q1, q3


def interleaved_medians(
    fns: Mapping[str, Callable[[], object]],
    *,
    threads: int = 1,
    budget_s: float = 2.0,
    min_rounds: int = 5,
    max_rounds: int = 31,
    block_s: float = 0.01,
) -> dict[str, dict[str, float | int]]:
    """Median seconds per call of each function, timed in interleaved rounds, under ``torch.inference_mode``.

    Every function is called once to warm up (dispatch, allocation, lazy initialisation), then once more
    to size its block (``number`` calls take at least ``block_s``). Rounds run until ``budget_s`` is
    spent, at least ``min_rounds`` and at most ``max_rounds``; each round times one block of every function.

    Shapes:
        {name: fn()} → {name: {"median_s", "iqr_s", "rounds", "number"}}
    """
    _require(len(fns) >= 1, "no functions to time")
    _require(threads >= 1 and min_rounds >= 1, f"threads and rounds must be >= 1, got {threads} and {min_rounds}")
    _require(block_s > 0, f"the block time must be > 0 seconds, got {block_s}")
    timers: dict[str, tuple[benchmark.Timer, int]] = {}
    round_s = 0.0
    with torch.inference_mode():
        for name, fn in fns.items():
            fn()
            start = time.perf_counter()
            fn()
            once = max(time.perf_counter() - start, 1e-7)
            number = max(1, round(block_s / once))
            timers[name] = (benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=threads), number)
            round_s += once * number
        rounds = max(min_rounds, min(max_rounds, int(budget_s / round_s)))
        samples: dict[str, list[float]] = {name: [] for name in fns}
        for _ in range(rounds):
            for name, (timer, number) in timers.items():
                samples[name].append(timer.timeit(number).median)  # seconds per call in this block
    result = {}
    for name, s in samples.items():
        q1, q3 = _quartiles(s)
        result[name] = {"median_s": statistics.median(s), "iqr_s": q3 - q1, "rounds": rounds, "number": timers[name][1]}
    return result


def time_interleaved(
    fns: Mapping[str, Callable[[], object]], *, threads: int = 1, rounds: int = 3, min_run_time: float = 0.02
) -> dict[str, float]:
    """Median seconds per call of each function over ``rounds`` interleaved rounds (blocks of at least
    ``min_run_time`` seconds): :func:`interleaved_medians` with a fixed number of rounds.

    Shapes:
        {name: fn()} → {name: seconds}
    """
    times = interleaved_medians(
        fns, threads=threads, budget_s=0.0, min_rounds=rounds, max_rounds=rounds, block_s=min_run_time
    )
    return {name: t["median_s"] for name, t in times.items()}


def measure_with_retries(
    fns: Mapping[str, Callable[[], object]],
    *,
    threads: int = 1,
    budget_s: float = 2.0,
    retries: int = 0,
    pause_s: float = 2.0,
) -> tuple[dict, float | None, int]:
    """:func:`interleaved_medians`, repeated (at most ``retries`` times) while other processes use more
    than :data:`RETRY_ABOVE` of the machine.

    Returns the least disturbed attempt's times, its contention share, and how many attempts were made.
    """
    attempts: list[tuple[dict, float | None]] = []
    while len(attempts) <= retries:
        with Contention() as contention:
            times = interleaved_medians(fns, threads=threads, budget_s=budget_s)
        attempts.append((times, contention.share))
        if contention.share is None or contention.share <= RETRY_ABOVE:
            break
        time.sleep(pause_s)  # bursts of load from elsewhere often pass in seconds
    times, share = min(attempts, key=lambda a: a[1] or 0.0)
    return times, share, len(attempts)


def matmul_gflops(n: int = 512, *, threads: int = 1, budget_s: float = 0.2, retries: int = 0) -> float:
    """This machine's float32 (n, n) @ (n, n) throughput right now, in GFLOP/s (2·n³ FLOPs per product):
    the ceiling attention is held to.

    Shapes:
        n → GFLOP/s
    """
    _require(isinstance(n, int) and n > 0, f"n must be a positive int, got {n}")
    a, b = torch.randn(n, n), torch.randn(n, n)
    times, _, _ = measure_with_retries({"matmul": lambda: a @ b}, threads=threads, budget_s=budget_s, retries=retries)
    return 2 * n**3 / times["matmul"]["median_s"] / 1e9


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence the profiler's start/stop lines, which its C++ side writes straight to file descriptor 2."""
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def _memory_events(prof: torch.profiler.profile) -> list[tuple[int, int]]:
    """(start in ns, bytes allocated or, negative, freed) of every CPU allocator event, in time order.

    The one reader of the profiler's internals (``kineto_results``, not a public API): if a torch release
    changes them, this raises and says so, and ``tests/test_measure.py`` fails.
    """
    try:
        events = prof.profiler.kineto_results.events()
        memory = [(e.start_ns(), e.nbytes()) for e in events if e.name() == "[memory]"]
    except AttributeError as error:
        raise RuntimeError(
            f"torch {torch.__version__} changed the profiler internals peak_memory reads ({error}); "
            "update attnlab.measure._memory_events"
        ) from error
    return sorted(memory)


def peak_memory(fn: Callable[[], object]) -> int:
    """Peak bytes that ``fn()`` holds on the CPU at once, above what was allocated before it; its result,
    kept alive until ``fn`` returns, counts.

    Read from the allocation and free events that ``torch.profiler`` records with ``profile_memory=True``,
    in time order, so it sees every tensor from torch's CPU allocator, a fused kernel's internal buffers
    included (``tracemalloc`` sees none of them). Deterministic for a given build and thread count.

    Shapes:
        fn() → a number of bytes
    """
    from torch.profiler import ProfilerActivity, profile

    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        result = fn()
    del result
    held = peak = 0
    for _, nbytes in _memory_events(prof):
        held += nbytes
        peak = max(peak, held)
    return peak
