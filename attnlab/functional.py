"""Scaled dot-product attention, three ways: the teaching path, torch's fused kernel, and tiles.

``softmax(Q Kᵀ · scale + mask) V`` with ``scale = 1/√E`` unless given. All three implementations agree
with :func:`torch.nn.functional.scaled_dot_product_attention` (the tests prove it), including its mask
conventions: a boolean mask is True where a query may attend, a float mask is added to the logits.
A query row that may attend to nothing gives zeros, never NaN.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .errors import AttnLabError, _require, _shape
from .masks import _check_mask_broadcasts, causal_mask
from .tiled import DEFAULT_BLOCK_SIZE, tiled_attention

__all__ = ["IMPLS", "attention_logits", "attention_weights", "scaled_dot_product_attention"]

IMPLS = ("manual", "sdpa", "tiled")


def _validate(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor | None,
    mask: torch.Tensor | None,
    is_causal: bool,
) -> torch.Tensor | None:
    """Check shapes and masks at the public entry; return the mask ready to use (float in q's dtype).

    Every check compares first and writes its message only when it fails: this runs on each call, and
    the fused kernel it guards can take as little as 20 µs.
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        if t is not None and t.dim() < 2:
            raise AttnLabError(f"{name} must be (..., length, width), got shape {_shape(t)}")
    if q.shape[-1] != k.shape[-1]:
        raise AttnLabError(f"query width {q.shape[-1]} != key width {k.shape[-1]} (q: {_shape(q)}, k: {_shape(k)})")
    if k.shape[-2] < 1:
        raise AttnLabError(f"there are no keys to attend to (k: {_shape(k)})")
    batches = [q.shape[:-2], k.shape[:-2]]
    if v is not None:
        if k.shape[-2] != v.shape[-2]:
            raise AttnLabError(
                f"key length {k.shape[-2]} != value length {v.shape[-2]} (k: {_shape(k)}, v: {_shape(v)})"
            )
        if not q.dtype == k.dtype == v.dtype:
            raise AttnLabError(f"q, k and v must share a dtype, got {q.dtype}, {k.dtype} and {v.dtype}")
        batches.append(v.shape[:-2])
    if all(b == batches[0] for b in batches):
        batch = batches[0]  # the usual case: no broadcasting to work out
    else:
        try:
            batch = torch.broadcast_shapes(*batches)
        except RuntimeError:
            shapes = ", ".join(f"{n}: {_shape(t)}" for n, t in (("q", q), ("k", k), ("v", v)) if t is not None)
            raise AttnLabError(f"the batch dimensions (all but the last two) do not broadcast ({shapes})") from None
    if mask is None:
        return None
    _require(
        not is_causal,
        "is_causal=True and an explicit mask were both given; pass one of them "
        "(to use both, combine_masks(causal_mask(L, S), mask))",
    )
    _check_mask_broadcasts(mask, (*batch, q.shape[-2], k.shape[-2]))
    return mask if mask.dtype == torch.bool else mask.to(q.dtype)


def _check_impl(impl: str) -> None:
    _require(impl in IMPLS, f"unknown impl {impl!r}; expected one of {', '.join(map(repr, IMPLS))}")


def _scale(q: torch.Tensor, scale: float | None) -> float:
    return 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale


def _logits(q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor | None, scale: float, is_causal: bool) -> torch.Tensor:
    scores = (q * scale) @ k.transpose(-2, -1)  # (..., L, S); scaling q costs L·E, not L·S
    if is_causal:
        mask = causal_mask(q.shape[-2], k.shape[-2], device=q.device)
    if mask is None:
        return scores
    if mask.dtype == torch.bool:
        return scores.masked_fill_(~mask, float("-inf"))  # in place: scores is ours, and matmul's
    return scores.add_(mask)  # backward does not need its output


def _blind_rows(mask: torch.Tensor | None) -> torch.Tensor | None:
    """Which query rows the mask leaves with no key at all, (..., L, 1); None when there are none."""
    if mask is None:
        return None
    blind = ~mask.any(dim=-1, keepdim=True) if mask.dtype == torch.bool else torch.isneginf(mask).all(-1, keepdim=True)
    return blind if bool(blind.any()) else None


def _softmax_rows(logits: torch.Tensor, blind: torch.Tensor | None) -> torch.Tensor:
    """Row-wise softmax; a row that may attend to nothing (``blind``) becomes zeros."""
    if blind is None:
        return torch.softmax(logits, dim=-1)
    # Softmax of an all -inf row is NaN (0/0); give such rows finite logits first, so that neither
    # the output nor the gradient ever sees a NaN, then zero them.
    weights = torch.softmax(logits.masked_fill(blind, 0.0), dim=-1)
    return weights.masked_fill(blind, 0.0)


def attention_logits(
    q: torch.Tensor,
    k: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    scale: float | None = None,
    is_causal: bool = False,
) -> torch.Tensor:
    """The logits ``Q Kᵀ · scale``, masked: what softmax turns into attention weights.

    A boolean mask puts ``-inf`` where a pair may not attend; a float mask is added.
    Pass ``scale=1.0`` for the raw scores ``Q Kᵀ``.

    Shapes:
        q (..., L, E), k (..., S, E), mask broadcastable to (..., L, S) → (..., L, S)
    """
    mask = _validate(q, k, None, mask, is_causal)
    return _logits(q, k, mask, _scale(q, scale), is_causal)


def attention_weights(
    q: torch.Tensor,
    k: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    scale: float | None = None,
    is_causal: bool = False,
) -> torch.Tensor:
    """The attention weights ``softmax(Q Kᵀ · scale + mask)``: each row sums to 1 (or is all zeros
    when the mask leaves that query nothing to attend to).

    Shapes:
        q (..., L, E), k (..., S, E), mask broadcastable to (..., L, S) → (..., L, S)
    """
    mask = _validate(q, k, None, mask, is_causal)
    return _softmax_rows(_logits(q, k, mask, _scale(q, scale), is_causal), _blind_rows(mask))


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    scale: float | None = None,
    is_causal: bool = False,
    dropout_p: float = 0.0,
    return_weights: bool = False,
    impl: str = "manual",
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """``softmax(Q Kᵀ · scale + mask) V``, the core of every attention layer.

    Args:
        mask: bool (True = may attend) or float (added to the logits), broadcastable to (..., L, S).
        scale: multiplies the logits; defaults to ``1/√E``.
        is_causal: query ``i`` sees keys ``0..i`` (top-left aligned, as in PyTorch); excludes ``mask``.
        dropout_p: dropout on the weights, always applied as in PyTorch (pass 0 in evaluation).
        return_weights: also return the weights that produced the output; ``impl="manual"`` only,
            since the fused and tiled kernels never form the (L, S) matrix.
        impl: ``"manual"`` (explicit matmul-softmax, the teaching path), ``"sdpa"`` (torch's fused
            kernel) or ``"tiled"`` (blocks of keys with an online softmax: memory linear in S).
        block_size: keys per block for ``impl="tiled"``.

    Shapes:
        q (..., L, E), k (..., S, E), v (..., S, Ev) → output (..., L, Ev), weights (..., L, S)
    """
    if impl not in IMPLS:
        _check_impl(impl)
    if not 0.0 <= dropout_p <= 1.0:
        raise AttnLabError(f"dropout_p must be in [0, 1], got {dropout_p}")
    if return_weights and impl != "manual":
        raise AttnLabError(f"return_weights=True needs impl='manual'; impl={impl!r} never forms the (L, S) weights")
    mask = _validate(q, k, v, mask, is_causal)
    if impl == "sdpa":
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=dropout_p, is_causal=is_causal, scale=scale
        )
    if impl == "tiled":
        _require(block_size >= 1, f"block_size must be >= 1, got {block_size}")
        return tiled_attention(
            q, k, v, mask, scale=_scale(q, scale), is_causal=is_causal, dropout_p=dropout_p, block_size=block_size
        )
    weights = _softmax_rows(_logits(q, k, mask, _scale(q, scale), is_causal), _blind_rows(mask))  # (..., L, S)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p, training=True)
    out = weights @ v  # (..., L, Ev)
    return (out, weights) if return_weights else out
