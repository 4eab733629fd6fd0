"""Timing that survives a busy machine: methods interleaved round by round, medians, explicit threads.

Each method is timed with :class:`torch.utils.benchmark.Timer` in blocks long enough to dwarf the
timer's own cost; one block per method per round, rounds interleaved, so that a burst of load from
elsewhere lands on every method alike instead of on whichever happened to run then. The median over
rounds is the number reported; the interquartile range says how noisy it was.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils import benchmark


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
    fns: dict[str, Callable[[], object]],
    *,
    threads: int,
    budget_s: float = 2.0,
    min_rounds: int = 5,
    max_rounds: int = 31,
    block_s: float = 0.01,
) -> dict[str, dict[str, float | int]]:
    """Median seconds per call of each function, timed in interleaved rounds.

    Every function is called once to warm up (dispatch, allocation, lazy initialisation), then once
    more to size its block (``number`` calls take at least ``block_s``). Rounds run until ``budget_s``
    is spent, at least ``min_rounds`` and at most ``max_rounds``.
    """
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


# On a shared machine another process can hold a core for a while; every parallel region then waits
# for it, and a path made of many small operations (tiled) suffers most. A measurement taken while
# others used more than this share of the machine is repeated, and the least disturbed one kept.
RETRY_ABOVE = 0.2
RETRIES = 2


def measure(
    fns: dict, threads: int, budget_s: float, retries: int = 0, pause_s: float = 2.0
) -> tuple[dict, float | None, int]:
    """Interleaved medians, retried while other processes crowd the machine.

    Returns the least disturbed attempt's times, its contention, and how many attempts were made.
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


def matmul_gflops(threads: int, n: int = 1024, budget_s: float = 2.0) -> float:
    """This machine's float32 matmul throughput right now, GFLOP/s: the ceiling attention is held to."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    times, _, _ = measure({"matmul": lambda: a @ b}, threads, budget_s, retries=RETRIES)
    return 2 * n**3 / times["matmul"]["median_s"] / 1e9
