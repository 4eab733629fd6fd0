"""Attention in tiles with an online softmax: the FlashAttention idea in plain PyTorch.

The explicit path forms the whole (L, S) matrix of weights. Here the keys arrive in blocks, and each
query keeps three running quantities instead:

* ``m``, the largest logit seen so far (for a numerically safe ``exp``);
* ``denom``, the sum of ``exp(logit - m)`` so far (the softmax's denominator);
* ``acc``, the sum of ``exp(logit - m) · v`` so far (the numerator).

When a block raises the maximum from ``m`` to ``m'``, the old sums are rescaled by ``exp(m - m')``,
so at the end ``acc / denom`` is exactly ``softmax(logits) V``. Only one (Lq, Sb) tile of logits exists
at a time, so memory grows linearly with the sequence, not with its square.

Speed in plain PyTorch comes from three choices: tiles small enough to stay in the processor's cache
while the elementwise steps pass over them (the fused kernel never leaves it), work done in place on
the tile (``sub_``, ``exp_``) instead of allocating a new one per step, and no masking work at all
when there is no mask (and under a causal mask, only on tiles that cross the diagonal).

Call it through :func:`attnlab.scaled_dot_product_attention` with ``impl="tiled"``, which validates input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["DEFAULT_BLOCK_SIZE", "tiled_attention"]

DEFAULT_BLOCK_SIZE = 512  # keys per block (Sb)
# Logits per tile, across the whole batch: 6 MB of float32, which stays in the 32 MB L3 cache of the
# machine the book is measured on while the elementwise passes (max, subtract, exp, sum) go over it.
# The query block (Lq) follows from it: 256 rows for 12 heads, fewer for larger batches.
TILE_ELEMENTS = 12 * 256 * 512
MIN_QUERY_BLOCK = 64  # below this the matmuls lose more speed than the smaller tile gains


def _block(mask: torch.Tensor, rows: slice, cols: slice) -> torch.Tensor:
    """The part of a broadcastable (..., L|1, S|1) mask that covers one tile."""
    mask = mask if mask.shape[-2] == 1 else mask[..., rows, :]
    return mask if mask.shape[-1] == 1 else mask[..., cols]


def _mask_tile(s: torch.Tensor, mask: torch.Tensor | None, is_causal: bool, rows: slice, cols: slice) -> torch.Tensor:
    """Apply the mask to a tile of logits, in place: -inf where a query may not attend."""
    if is_causal and cols.stop - 1 > rows.start:  # tiles wholly left of the diagonal need no mask
        later = torch.arange(cols.start, cols.stop, device=s.device) > torch.arange(
            rows.start, rows.stop, device=s.device
        ).unsqueeze(-1)  # (Lq, Sb): key j comes after query i
        s.masked_fill_(later, float("-inf"))
    if mask is not None:
        mb = _block(mask, rows, cols)
        s = s.masked_fill_(~mb, float("-inf")) if mb.dtype == torch.bool else s.add_(mb)
    return s


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
    query_block_size: int | None = None,
) -> torch.Tensor:
    """``softmax(Q Kᵀ · scale + mask) V`` computed one (query block, key block) tile at a time.

    ``block_size`` keys and ``query_block_size`` queries per tile; by default as many queries as keep
    one tile, across the batch, to ``TILE_ELEMENTS`` logits.

    Shapes:
        q (..., L, E), k (..., S, E), v (..., S, Ev), mask broadcastable to (..., L, S) → (..., L, Ev)
    """
    L, S, Ev = q.shape[-2], k.shape[-2], v.shape[-1]
    batch = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    q = q.expand(*batch, L, q.shape[-1])  # (..., L, E): a view, so that every tile has the full batch
    kt = k.transpose(-2, -1)  # (..., E, S)
    out = q.new_empty(*batch, L, Ev)  # (..., L, Ev)
    if query_block_size is None:
        query_block_size = max(MIN_QUERY_BLOCK, TILE_ELEMENTS // (batch.numel() * min(block_size, S)))
    for q0 in range(0, L, query_block_size):
        rows = slice(q0, min(q0 + query_block_size, L))
        qi = q[..., rows, :] * scale  # (..., Lq, E); scaling q costs Lq·E, not Lq·S
        m = q.new_full((*qi.shape[:-1], 1), float("-inf"))  # (..., Lq, 1) running max
        denom = q.new_zeros(*qi.shape[:-1], 1)  # (..., Lq, 1) running sum of exp(logit - m)
        acc = q.new_zeros(*qi.shape[:-1], Ev)  # (..., Lq, Ev) running sum of exp(logit - m) · v
        # Under a causal mask, query i sees keys 0..i: keys past the block's last query are skipped.
        k_end = min(S, rows.stop) if is_causal else S
        for k0 in range(0, k_end, block_size):
            cols = slice(k0, min(k0 + block_size, S))
            s = _mask_tile(qi @ kt[..., cols], mask, is_causal, rows, cols)  # (..., Lq, Sb) logits
            # The max only keeps exp in range and the result does not depend on it, so no gradient flows
            # through it (as in FlashAttention); that also leaves the tile free to be overwritten below.
            m_new = torch.maximum(m, s.detach().amax(dim=-1, keepdim=True))  # (..., Lq, 1)
            # A row with nothing visible yet has m_new = -inf; shift it by 0 so exp gives 0, not NaN.
            shift = m_new if mask is None else m_new.masked_fill(torch.isneginf(m_new), 0.0)
            p = s.sub_(shift).exp_()  # (..., Lq, Sb) unnormalised weights, in the tile's memory
            rescale = torch.exp(m - shift)  # (..., Lq, 1): exp(old max - new max) ≤ 1
            denom.mul_(rescale).add_(p.sum(dim=-1, keepdim=True))
            if dropout_p > 0.0:
                p = F.dropout(p, p=dropout_p, training=True)  # after the sum: dropout leaves denom alone
            acc.mul_(rescale).add_(p @ v[..., cols, :])
            m = m_new
        if mask is not None:  # rows that may attend to nothing give zeros, like torch's fused kernel
            empty = denom == 0
            acc, denom = acc.masked_fill(empty, 0.0), denom.masked_fill(empty, 1.0)
        out[..., rows, :] = acc / denom
    return out
