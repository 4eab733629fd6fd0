"""What attention costs, counted: FLOPs and bytes. (Time and memory are measured in :mod:`attnlab.measure`.)

Counts are exact and deterministic: :func:`attention_flops`, :func:`scores_bytes` and
:func:`attention_traffic` are formulas; :func:`count_flops` asks PyTorch's ``FlopCounterMode``, which also
works on ``torch.device("meta")`` tensors, so a full-size model is counted in milliseconds without memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from .errors import _require

__all__ = [
    "attention_flops",
    "attention_traffic",
    "count_flops",
    "scores_bytes",
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
