"""Time attnlab's attention paths against torch's: the bare kernels, then whole multi-head layers.

Kernels: ``attnlab.scaled_dot_product_attention`` with ``impl`` = manual, tiled, sdpa against
``torch.nn.functional.scaled_dot_product_attention`` (the fused kernel, the reference).
Layers: ``attnlab.MultiHeadAttention`` with each impl against ``torch.nn.MultiheadAttention``
(``need_weights=False``, so torch takes its fast path), D = H·E, batch first.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import attnlab
from attnlab.measure import RETRIES, measure_with_retries

FUSED = "torch fused"
TORCH_MHA = "torch nn.MultiheadAttention"

# (B, H, sizes): E = 64 throughout. B = 8 stops at n = 1024: the manual path's (B, H, n, n) weights at
# n = 4096 would be 6.4 GB, and the point (its n² memory) is made by B = 1 already.
FULL = [(1, 12, [16, 64, 256, 1024, 4096]), (8, 12, [16, 64, 256, 1024])]
QUICK = [(1, 2, [16, 64])]
LAYER_MAX_N = 1024  # layers add projections, not new behaviour: measured up to here


def kernel_flops(B: int, H: int, n: int, E: int) -> int:
    """Q Kᵀ and weights · V: two (n, n, E) matmuls per head, two flops per multiply-add."""
    return 4 * B * H * n * n * E


def layer_flops(B: int, H: int, n: int, E: int) -> int:
    """The kernel plus the four (D, D) projections (q, k, v, out) of n tokens, D = H·E."""
    D = H * E
    return kernel_flops(B, H, n, E) + 8 * B * n * D * D


def _kernels(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> dict:
    fns = {FUSED: lambda: F.scaled_dot_product_attention(q, k, v)}
    for impl in ("sdpa", "manual", "tiled"):
        fns[f"attnlab {impl}"] = lambda impl=impl: attnlab.scaled_dot_product_attention(q, k, v, impl=impl)
    return fns


def _layers(x: torch.Tensor, H: int) -> dict:
    D = x.shape[-1]
    reference = torch.nn.MultiheadAttention(D, H, batch_first=True).eval()
    fns = {TORCH_MHA: lambda: reference(x, x, x, need_weights=False)}
    for impl in ("sdpa", "manual", "tiled"):
        mha = attnlab.MultiHeadAttention(D, H, batch_first=True, impl=impl).eval()
        mha.load_state_dict(reference.state_dict())
        fns[f"attnlab MultiHeadAttention({impl})"] = lambda mha=mha: mha(x, x, x, need_weights=False)
    return fns


def attention_rows(shapes: list[tuple[int, int, list[int]]], E: int, threads: int, budget_s: float) -> list[dict]:
    """One row per (group, method, B, H, n): median ms, GFLOP/s and × the reference (share of the matmul
    peak is added by the caller, who measures the peak)."""
    rows = []
    for B, H, sizes in shapes:
        for n in sizes:
            g = torch.Generator().manual_seed(n)
            q, k, v = (torch.randn(B, H, n, E, generator=g) for _ in range(3))  # (B, H, n, E)
            groups = [("kernel", FUSED, kernel_flops(B, H, n, E), _kernels(q, k, v))]
            if n <= LAYER_MAX_N:
                x = torch.randn(B, n, H * E, generator=g)  # (B, n, D)
                groups.append(("layer", TORCH_MHA, layer_flops(B, H, n, E), _layers(x, H)))
            for group, reference, flops, fns in groups:
                times, contention, attempts = measure_with_retries(
                    fns, threads=threads, budget_s=budget_s, retries=RETRIES if group == "kernel" else 0
                )
                for method, t in times.items():
                    seconds = t["median_s"]
                    rows.append(
                        {
                            "group": group,
                            "method": method,
                            "B": B,
                            "H": H,
                            "n": n,
                            "E": E,
                            "ms": seconds * 1e3,
                            "iqr_ms": t["iqr_s"] * 1e3,
                            "rounds": t["rounds"],
                            "gflops": flops / seconds / 1e9,
                            "reference": reference,
                            "vs_reference": seconds / times[reference]["median_s"],
                            "contention": contention,
                            "attempts": attempts,
                        }
                    )
    return rows
