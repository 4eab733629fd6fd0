"""Masks, and every conversion between the conventions that meet in attention code.

attnlab's convention is the one of :func:`torch.nn.functional.scaled_dot_product_attention`:

* a **boolean** mask says ``True`` where a query **may attend** to a key;
* a **float** mask is **added** to the logits (``0`` keeps a pair, ``-inf`` removes it).

:class:`torch.nn.MultiheadAttention` (and so CLIP) uses the opposite boolean convention:
``True`` means **may not attend**, for ``attn_mask`` and ``key_padding_mask`` alike. Drop-in modules
keep that convention at their boundary and convert here, with the functions below, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .errors import AttnLabError, _require, _shape

__all__ = [
    "additive_to_bool",
    "bool_to_additive",
    "causal_mask",
    "combine_masks",
    "from_mha_mask",
    "key_padding_to_mask",
    "padding_mask",
    "to_mha_mask",
]


def causal_mask(L: int, S: int | None = None, device: torch.device | str | None = None) -> torch.Tensor:
    """The decoder's mask: query ``i`` may attend to keys ``0..i``, never to a later one.

    Top-left aligned like ``is_causal=True`` in PyTorch: entry ``(i, j)`` is ``True`` when ``j <= i``,
    also when ``L != S``.

    Shapes:
        returns bool (L, S), ``S = L`` when not given; True = may attend.
    """
    S = L if S is None else S
    for name, value in (("L", L), ("S", S)):
        _require(
            isinstance(value, int) and not isinstance(value, bool) and value >= 1,
            f"causal_mask needs a positive length {name}, got {value!r}",
        )
    return torch.ones(L, S, dtype=torch.bool, device=device).tril()  # (L, S)


def padding_mask(
    lengths: Sequence[int] | torch.Tensor,
    max_len: int | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Which positions of a padded batch hold real tokens.

    Shapes:
        lengths (B,) → bool (B, max_len), True = a real token; ``max_len`` defaults to the longest.
    """
    lengths = torch.as_tensor(lengths, device=device)
    _require(lengths.dim() == 1, f"lengths must be one number per sequence, got shape {_shape(lengths)}")
    _require(lengths.numel() > 0, "lengths is empty: padding_mask needs at least one sequence")
    _require(
        not lengths.is_floating_point() and not lengths.is_complex(),
        f"lengths must be integers, got dtype {lengths.dtype}",
    )
    _require(bool((lengths >= 0).all()), f"lengths must be >= 0, got {lengths.tolist()}")
    longest = int(lengths.max())
    max_len = longest if max_len is None else max_len
    _require(
        max_len >= longest,
        f"max_len {max_len} is shorter than the longest sequence ({longest}) in lengths {lengths.tolist()}",
    )
    positions = torch.arange(max_len, device=lengths.device)  # (max_len,)
    return positions[None, :] < lengths[:, None]  # (B, max_len)


def bool_to_additive(mask: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """attnlab boolean mask (True = may attend) → float mask of 0 and -inf, to add to the logits.

    Shapes:
        any shape → the same shape.
    """
    _require(mask.dtype == torch.bool, f"bool_to_additive expects a bool mask, got dtype {mask.dtype}")
    zeros = torch.zeros(mask.shape, dtype=dtype, device=mask.device)
    return zeros.masked_fill(~mask, float("-inf"))


def additive_to_bool(mask: torch.Tensor) -> torch.Tensor:
    """Float mask → attnlab boolean mask: a pair may attend where its added value is not ``-inf``.

    Shapes:
        any shape → the same shape.
    """
    _require(mask.is_floating_point(), f"additive_to_bool expects a float mask, got dtype {mask.dtype}")
    return mask != float("-inf")


def from_mha_mask(mask: torch.Tensor | None) -> torch.Tensor | None:
    """A mask in ``nn.MultiheadAttention``'s convention → attnlab's.

    Boolean masks are inverted (PyTorch's module says True = may *not* attend); float masks are
    already additive and pass through unchanged.

    Shapes:
        any shape → the same shape.
    """
    if mask is None or mask.is_floating_point():
        return mask
    _require(mask.dtype == torch.bool, f"a mask must be bool or float, got dtype {mask.dtype}")
    return ~mask


def to_mha_mask(mask: torch.Tensor | None) -> torch.Tensor | None:
    """An attnlab mask → ``nn.MultiheadAttention``'s convention (the inverse of :func:`from_mha_mask`).

    Shapes:
        any shape → the same shape.
    """
    return from_mha_mask(mask)  # inverting a boolean mask is its own inverse


def key_padding_to_mask(key_padding_mask: torch.Tensor) -> torch.Tensor:
    """``nn.MultiheadAttention``'s ``key_padding_mask`` (True = ignore that key) → an attnlab mask.

    Shapes:
        key_padding_mask (N, S) → (N, 1, 1, S), broadcasting over heads and queries.
    """
    _require(
        key_padding_mask.dim() == 2,
        f"key_padding_mask must be (N, S), got shape {_shape(key_padding_mask)}",
    )
    mask = from_mha_mask(key_padding_mask)
    return mask[:, None, None, :]  # (N, 1, 1, S)


def combine_masks(*masks: torch.Tensor | None, dtype: torch.dtype = torch.float32) -> torch.Tensor | None:
    """Combine attnlab masks so that a pair may attend only where every mask allows it.

    Boolean masks are joined with ``and``; if any mask is float, all become additive and are summed
    (as ``nn.MultiheadAttention`` does when its two masks differ in type). ``None`` entries are
    skipped.

    Shapes:
        masks broadcastable to one another → their broadcast shape.
    """
    present = [m for m in masks if m is not None]
    if not present:
        return None
    if all(m.dtype == torch.bool for m in present):
        out = present[0]
        for m in present[1:]:
            out = out & m
        return out
    float_dtype = next((m.dtype for m in present if m.is_floating_point()), dtype)
    out = None
    for m in present:
        m = bool_to_additive(m, float_dtype) if m.dtype == torch.bool else m.to(float_dtype)
        out = m if out is None else out + m
    return out


def _check_mask_broadcasts(mask: torch.Tensor, target: Sequence[int], what: str = "mask") -> None:
    """Raise unless ``mask`` broadcasts to ``target`` without growing it."""
    target = tuple(target)
    try:
        ok = torch.broadcast_shapes(tuple(mask.shape), target) == target
    except RuntimeError:
        ok = False
    if not ok:
        raise AttnLabError(
            f"{what} of shape {_shape(mask)} does not broadcast to the attention logits {_shape(target)} "
            "(expected (..., L, S) with each dimension equal or 1)"
        )
    if mask.dtype != torch.bool and not mask.is_floating_point():
        raise AttnLabError(f"{what} must be bool (True = may attend) or float (added), got dtype {mask.dtype}")
