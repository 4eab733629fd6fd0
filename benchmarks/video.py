"""Attention over video as the number of frames T grows: joint, divided and cross-frame.

One video (b = 1) of T frames with P tokens each (7×7 patches and a class token: P = 50), width D = 256
in H = 4 heads (E = 64); ViT-B's D = 768 would only make this 2-core machine slower, not the comparison
different. Three ways to let the tokens of a clip attend, as core attention on reshaped tensors:

* **joint** space-time: one attention over all T·P tokens, cost ∝ (T·P)²;
* **divided** space-time (TimeSformer): each patch position attends over the T frames, then each frame
  over its P tokens, cost ∝ T·P² + P·T²;
* **cross-frame** (X-CLIP): one message token per frame attends over the T messages, then each frame
  attends over its P tokens plus its message, cost ∝ T² + T·(P + 1)².

FLOPs are counted by :class:`torch.utils.flop_counter.FlopCounterMode` on the manual path (it does not
count CPU sdpa kernels; the arithmetic is the same). Whole blocks (attention, projections and MLP) are
timed too: X-CLIP's cross-frame block, TimeSformer's divided block and a CLIP block run jointly over T·P
tokens, all from attnlab.
"""

from __future__ import annotations

import torch

import attnlab
from attnlab.measure import RETRIES, measure_with_retries

FULL = {"T": [8, 16, 32], "P": 50, "D": 256, "H": 4, "b": 1}
QUICK = {"T": [2, 4], "P": 5, "D": 32, "H": 2, "b": 1}


def _sdpa(q, k, v, impl):
    return attnlab.scaled_dot_product_attention(q, k, v, impl=impl)


def joint(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, impl: str) -> torch.Tensor:
    """Shapes: q, k, v (b, H, T, P, E) → (b, H, T·P, E)"""
    b, H, T, P, E = q.shape
    return _sdpa(*(t.reshape(b, H, T * P, E) for t in (q, k, v)), impl)  # (b, H, T·P, E)


def divided(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, impl: str) -> torch.Tensor:
    """Shapes: q, k, v (b, H, T, P, E) → (b, H, T, P, E)"""
    over_time = _sdpa(*(t.transpose(2, 3) for t in (q, k, v)), impl)  # (b, H, P, T, E): each patch over frames
    x = over_time.transpose(2, 3)  # (b, H, T, P, E)
    return _sdpa(x, x, x, impl)  # (b, H, T, P, E): each frame over its patches


def cross_frame(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, impl: str) -> torch.Tensor:
    """Shapes: q, k, v (b, H, T, P, E) → (b, H, T, P + 1, E)"""
    messages = _sdpa(q[:, :, :, 0], k[:, :, :, 0], v[:, :, :, 0], impl)  # (b, H, T, E): class tokens over frames
    x = torch.cat([q, messages.unsqueeze(3)], dim=3)  # (b, H, T, P + 1, E): each frame plus its message
    return _sdpa(x, x, x, impl)  # (b, H, T, P + 1, E)


VARIANTS = {"joint": joint, "divided": divided, "cross-frame": cross_frame}


def _blocks(T: int, P: int, D: int, H: int, b: int) -> dict:
    """Whole blocks, MLP included: X-CLIP's cross-frame block, the divided block and a CLIP block over T·P."""
    g = torch.Generator().manual_seed(T)
    x = torch.randn(P, b * T, D, generator=g)  # (P, b·T, D), frames video-major as X-CLIP has them
    xclip = attnlab.CrossFrameAttentionBlock(D, H, T=T).eval()
    divided = attnlab.DividedSpaceTimeBlock(D, H, T=T).eval()
    clip = attnlab.ResidualAttentionBlock(D, H).eval()
    x_joint = x.reshape(P, b, T, D).permute(2, 0, 1, 3).reshape(T * P, b, D)  # (T·P, b, D)
    return {
        "cross-frame block (X-CLIP)": (xclip, x),
        "divided block (TimeSformer)": (divided, x),
        "joint block (CLIP over T·P)": (clip, x_joint),
    }


def video_rows(config: dict, threads: int, budget_s: float) -> list[dict]:
    """One row per (variant, impl, T): median ms, GFLOPs of one call and GFLOP/s."""
    P, D, H, b = config["P"], config["D"], config["H"], config["b"]
    E = D // H
    rows = []
    for T in config["T"]:
        g = torch.Generator().manual_seed(T)
        q, k, v = (torch.randn(b, H, T, P, E, generator=g) for _ in range(3))  # (b, H, T, P, E)
        fns, flops = {}, {}
        for name, variant in VARIANTS.items():
            flops[name] = attnlab.count_flops(variant, q, k, v, "manual")["total"]
            for impl in ("manual", "sdpa"):
                fns[(name, impl)] = lambda variant=variant, impl=impl, q=q, k=k, v=v: variant(q, k, v, impl)
        for name, (block, x) in _blocks(T, P, D, H, b).items():
            with torch.inference_mode():
                flops[name] = attnlab.count_flops(block, x)["total"]
            fns[(name, "manual")] = lambda block=block, x=x: block(x)
        keyed = {f"{name}/{impl}": fn for (name, impl), fn in fns.items()}
        times, contention, attempts = measure_with_retries(keyed, threads=threads, budget_s=budget_s, retries=RETRIES)
        for (name, impl), key in zip(fns, keyed, strict=True):
            seconds = times[key]["median_s"]
            rows.append(
                {
                    "variant": name,
                    "impl": impl,
                    "T": T,
                    "P": P,
                    "D": D,
                    "H": H,
                    "b": b,
                    "ms": seconds * 1e3,
                    "iqr_ms": times[key]["iqr_s"] * 1e3,
                    "gflop": flops[name] / 1e9,
                    "gflops": flops[name] / seconds / 1e9,
                    "contention": contention,
                    "attempts": attempts,
                }
            )
    return rows
