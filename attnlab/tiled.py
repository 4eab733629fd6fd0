"""Attention in tiles with an online softmax: the FlashAttention idea in plain PyTorch.

The explicit path forms the whole (L, S) matrix of weights. Here the keys arrive in blocks, and each
query keeps three running quantities instead:

* ``m``, the largest logit seen so far (for a numerically safe ``exp``);
* ``denom``, the sum of ``exp(logit - m)`` so far (the softmax's denominator);
* ``acc``, the sum of ``exp(logit - m) · v`` so far (the numerator).

When a block raises the maximum from ``m`` to ``m'``, the old sums are rescaled by ``exp(m - m')``,
so at the end ``acc / denom`` is exactly ``softmax(logits) V``. Only one (Lq, block) tile of logits exists
at a time, so memory grows linearly with the sequence, not with its square.

Call it through :func:`attnlab.scaled_dot_product_attention` with ``impl="tiled"``, which validates input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["DEFAULT_BLOCK_SIZE", "tiled_attention"]

DEFAULT_BLOCK_SIZE = 256  # keys per block
_QUERY_BLOCK = 1024  # queries per outer step: bounds a tile at (..., 1024, block_size)


def _block(mask: torch.Tensor, rows: slice, cols: slice) -> torch.Tensor:
    """The part of a broadcastable (..., L|1, S|1) mask that covers one tile."""
    mask = mask if mask.shape[-2] == 1 else mask[..., rows, :]
    return mask if mask.shape[-1] == 1 else mask[..., cols]


def tiled_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    scale: float,
    is_causal: bool = False,
    dropout_p: float = 0.0,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> torch.Tensor:
    """``softmax(Q Kᵀ · scale + mask) V`` computed one block of keys at a time.

    Shapes:
        q (..., L, E), k (..., S, E), v (..., S, Ev), mask broadcastable to (..., L, S) → (..., L, Ev)
    """
    L, S = q.shape[-2], k.shape[-2]
    kt = k.transpose(-2, -1)  # (..., E, S)
    rows_out = []
    for q0 in range(0, L, _QUERY_BLOCK):
        rows = slice(q0, min(q0 + _QUERY_BLOCK, L))
        qi = q[..., rows, :] * scale  # (..., Lq, E)
        m = denom = acc = None
        # Under a causal mask, query i sees keys 0..i: keys past the block's last query are skipped.
        k_end = min(S, rows.stop) if is_causal else S
        for k0 in range(0, k_end, block_size):
            cols = slice(k0, min(k0 + block_size, S))
            s = qi @ kt[..., cols]  # (..., Lq, Sb) logits of this tile
            if is_causal:
                later = torch.arange(cols.start, cols.stop, device=q.device) > torch.arange(
                    rows.start, rows.stop, device=q.device
                ).unsqueeze(-1)  # (Lq, Sb)
                s = s.masked_fill(later, float("-inf"))
            if mask is not None:
                mb = _block(mask, rows, cols)
                s = s.masked_fill(~mb, float("-inf")) if mb.dtype == torch.bool else s + mb
            tile_max = s.amax(dim=-1, keepdim=True)  # (..., Lq, 1)
            m_new = tile_max if m is None else torch.maximum(m, tile_max)
            # A row with nothing visible yet has m_new = -inf; shift it by 0 so exp gives 0, not NaN.
            shift = m_new.masked_fill(torch.isneginf(m_new), 0.0)
            p = torch.exp(s - shift)  # (..., Lq, Sb) unnormalised weights
            row_sum = p.sum(dim=-1, keepdim=True)
            if dropout_p > 0.0:
                p = F.dropout(p, p=dropout_p, training=True)
            pv = p @ v[..., cols, :]  # (..., Lq, Ev)
            if m is None:
                denom, acc = row_sum, pv
            else:
                rescale = torch.exp(m - shift)  # exp(old max - new max) ≤ 1
                denom = denom * rescale + row_sum
                acc = acc * rescale + pv
            m = m_new
        empty = denom == 0  # rows that may attend to nothing give zeros, like torch's fused kernel
        rows_out.append((acc / denom.masked_fill(empty, 1.0)).masked_fill(empty, 0.0))
    return torch.cat(rows_out, dim=-2)  # (..., L, Ev)
