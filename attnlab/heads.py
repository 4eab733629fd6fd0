"""Heads: split a model-width tensor into H heads of width E, and merge them back.

Multi-head attention projects once at full width D = H·E and then reads the last dimension as H blocks
of E features: head h holds features h·E to (h+1)·E − 1. :func:`split_heads` makes the heads a batch
dimension, so one call of attention serves every head; :func:`merge_heads` is its exact inverse, the
concatenation before the output projection. Every module in attnlab splits heads with these two.
"""

from __future__ import annotations

import torch

from .errors import _require, _shape

__all__ = ["merge_heads", "split_heads"]


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(..., L, H·E) → (..., H, L, E): head h takes features h·E to (h+1)·E − 1.

    Shapes:
        x (..., L, D) with D divisible by ``heads`` → (..., H, L, D / H)
    """
    _require(x.dim() >= 2, f"x must be (..., L, D), got {_shape(x)}")
    _require(
        heads >= 1 and x.shape[-1] % heads == 0,
        f"width {x.shape[-1]} is not divisible into {heads} heads (x: {_shape(x)})",
    )
    *batch, L, D = x.shape
    return x.reshape(*batch, L, heads, D // heads).transpose(-3, -2)  # (..., H, L, E)


def merge_heads(z: torch.Tensor) -> torch.Tensor:
    """(..., H, L, E) → (..., L, H·E): the heads side by side, the inverse of :func:`split_heads`.

    Shapes:
        z (..., H, L, E) → (..., L, H·E)
    """
    _require(z.dim() >= 3, f"z must be (..., H, L, E), got {_shape(z)}")
    return z.transpose(-3, -2).flatten(-2)  # (..., L, H·E)
