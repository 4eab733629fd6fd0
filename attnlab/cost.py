"""What attention costs: counted (FLOPs, bytes) and measured (time, peak memory) on the reader's machine.

Counts are exact and deterministic: :func:`attention_flops`, :func:`scores_bytes` and
:func:`attention_traffic` are formulas; :func:`count_flops` asks PyTorch's ``FlopCounterMode``, which also
works on ``torch.device("meta")`` tensors, so a full-size model is counted in milliseconds without memory.
Measurements are not: :func:`time_interleaved` and :func:`matmul_gflops` time on a machine that other
programs share, so they interleave the methods and report medians; :func:`peak_memory` reads the CPU
allocator's allocations through the profiler, which depends on the kernels' internal buffers.
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import sys
from collections.abc import Callable, Iterator, Mapping

import torch
from torch.utils import benchmark
from torch.utils.flop_counter import FlopCounterMode

from .errors import _require

__all__ = [
    "attention_flops",
    "attention_traffic",
    "count_flops",
    "matmul_gflops",
    "peak_memory",
    "scores_bytes",
    "time_interleaved",
]

_FUSED = ("sdpa", "tiled", "fused")


def _check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        _require(isinstance(value, int) and value >= 1, f"{name} must be a positive int, got {value!r}")


def attention_flops(B: int, H: int, L: int, S: int, E: int, Ev: int | None = None) -> int:
    """FLOPs of the two matrix products of attention, ``Q Kᵀ`` and ``A V``, two per multiply-accumulate.

    The softmax's B·H·L·S exponentials are not counted (nor are they by ``FlopCounterMode``).

    Shapes:
        q (B, H, L, E), k (B, H, S, E), v (B, H, S, Ev) → a number; Ev defaults to E.
    """
    Ev = E if Ev is None else Ev
    _check_sizes(B=B, H=H, L=L, S=S, E=E, Ev=Ev)
    return 2 * B * H * L * S * (E + Ev)


def scores_bytes(B: int, H: int, L: int, S: int, dtype: torch.dtype = torch.float32) -> int:
    """Bytes of one (B, H, L, S) matrix of scores (or of weights) in ``dtype``.

    Shapes:
        (B, H, L, S) → a number of bytes
    """
    _check_sizes(B=B, H=H, L=L, S=S)
    return B * H * L * S * torch.empty((), dtype=dtype).element_size()


def attention_traffic(
    B: int,
    H: int,
    L: int,
    S: int,
    E: int,
    *,
    impl: str,
    dtype: torch.dtype = torch.float32,
    query_block: int = 256,
) -> int:
    """Bytes moved between memory and the processor by one attention call, in a simple model.

    ``impl="manual"``: q, k, v read and the output written once, plus four passes over the (L, S) matrix:
    ``Q Kᵀ`` writes the scores, the softmax reads them and writes the weights, ``A V`` reads the weights.
    ``impl="sdpa"``, ``"tiled"`` or ``"fused"``: no (L, S) matrix leaves the cache; q is read and the output
    written once, k and v are read once per block of ``query_block`` queries.

    Shapes:
        q (B, H, L, E), k and v (B, H, S, E) → a number of bytes
    """
    _check_sizes(B=B, H=H, L=L, S=S, E=E, query_block=query_block)
    _require(impl == "manual" or impl in _FUSED, f"unknown impl {impl!r}; expected 'manual' or one of {_FUSED}")
    item = torch.empty((), dtype=dtype).element_size()
    if impl == "manual":
        elements = 2 * L * E + 2 * S * E + 4 * L * S  # q and out; k and v; scores out, in, weights out, in
    else:
        elements = 2 * L * E + 2 * S * E * math.ceil(L / query_block)
    return B * H * elements * item


def count_flops(fn: Callable[..., object], *args: object, **kwargs: object) -> dict[str, int]:
    """FLOPs of ``fn(*args, **kwargs)`` as ``FlopCounterMode`` counts them: per operator, and ``"total"``.

    Operators are named as PyTorch names them, e.g. ``"aten.bmm"`` (attention's ``Q Kᵀ`` and ``A V`` on
    attnlab's explicit path), ``"aten.addmm"`` (linear layers), ``"aten.convolution"``. Works on meta tensors.

    Shapes:
        whatever ``fn`` takes → {operator: FLOPs}
    """
    with FlopCounterMode(display=False) as counter:
        fn(*args, **kwargs)
    counts = {str(op): int(n) for op, n in counter.get_flop_counts().get("Global", {}).items()}
    return {**counts, "total": int(counter.get_total_flops())}


def time_interleaved(
    fns: Mapping[str, Callable[[], object]],
    *,
    threads: int = 1,
    rounds: int = 3,
    min_run_time: float = 0.02,
) -> dict[str, float]:
    """Median seconds per call of each function, the functions interleaved round by round.

    Each round times every function once with ``torch.utils.benchmark.Timer(...).blocked_autorange``
    (``threads`` threads); a burst of load from other programs then lands on all of them alike. The result
    is the median over rounds of each round's median. Runs under ``torch.inference_mode``.

    Shapes:
        {name: fn()} → {name: seconds}
    """
    _require(len(fns) >= 1, "no functions to time")
    _require(threads >= 1 and rounds >= 1, f"threads and rounds must be >= 1, got {threads} and {rounds}")
    _require(min_run_time > 0, f"min_run_time must be > 0 seconds, got {min_run_time}")
    timers = {name: benchmark.Timer("fn()", globals={"fn": fn}, num_threads=threads) for name, fn in fns.items()}
    samples: dict[str, list[float]] = {name: [] for name in fns}
    with torch.inference_mode():
        for fn in fns.values():
            fn()  # warm-up: dispatch, first allocations, lazy initialisation
        for _ in range(rounds):
            for name, timer in timers.items():
                samples[name].append(timer.blocked_autorange(min_run_time=min_run_time).median)
    return {name: statistics.median(s) for name, s in samples.items()}


def matmul_gflops(n: int = 512, *, threads: int = 1, rounds: int = 3, min_run_time: float = 0.05) -> float:
    """This machine's float32 (n, n) @ (n, n) throughput right now, in GFLOP/s (2·n³ FLOPs per product).

    Shapes:
        n → GFLOP/s
    """
    _check_sizes(n=n)
    a, b = torch.randn(n, n), torch.randn(n, n)
    seconds = time_interleaved({"matmul": lambda: a @ b}, threads=threads, rounds=rounds, min_run_time=min_run_time)
    return 2 * n**3 / seconds["matmul"] / 1e9


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
    events = sorted(
        (e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"), key=lambda e: e.start_ns()
    )
    held = peak = 0
    for event in events:
        held += event.nbytes()
        peak = max(peak, held)
    return peak
