"""Positional information: the sinusoidal table of Vaswani et al. and rotary position embeddings.

Self-attention by itself cannot tell where a token sits: permute the tokens and its output rows permute
the same way. Two classic ways to tell it:

- :func:`sinusoidal_positions` is the fixed table of "Attention Is All You Need" (Vaswani et al., 2017),
  added to the token embeddings: ``PE[p, 2i] = sin(p / base^(2i/D))``, ``PE[p, 2i+1] = cos(p / base^(2i/D))``.
- :func:`apply_rope` rotates queries and keys by an angle proportional to their position (RoFormer, Su et
  al., 2021), in the rotate-half convention of GPT-NeoX, LLaMA and Hugging Face: feature ``i`` pairs with
  feature ``i + E/2``. The score of a rotated query at position m with a rotated key at position n then
  depends on the two positions only through the offset m − n.
"""

from __future__ import annotations

import torch

from .errors import AttnLabError, _shape

__all__ = ["apply_rope", "rope_frequencies", "rotate_half", "sinusoidal_positions"]


def _check_width(dim: int, what: str) -> None:
    if dim <= 0 or dim % 2:
        raise AttnLabError(f"{what} must be even and positive (sines and cosines come in pairs), got {dim}")


def _check_base(base: float) -> None:
    if not base > 0:
        raise AttnLabError(f"base must be > 0, got base={base}")


def sinusoidal_positions(
    length: int, dim: int, base: float = 10000.0, *, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """The sinusoidal position table of Vaswani et al.: one row per position, to add to the embeddings.

    ``PE[p, 2i] = sin(p / base^(2i/dim))`` and ``PE[p, 2i+1] = cos(p / base^(2i/dim))``, for positions
    ``p = 0 … length−1`` and ``i < dim/2``: pair ``i`` turns at angular frequency ``base^(−2i/dim)``, from
    one radian per position down to nearly ``1/base``. Computed in float64, returned as ``dtype`` (float32
    unless asked), on the CPU.

    Raises :class:`AttnLabError` for a non-positive ``length``, an odd or non-positive ``dim``, or
    ``base <= 0``.

    Shapes:
        returns (L, D) with L = length, D = dim.
    """
    if length <= 0:
        raise AttnLabError(f"length must be a positive number of positions, got length={length}")
    _check_width(dim, "dim")
    _check_base(base)
    p = torch.arange(length, dtype=torch.float64)[:, None]  # (L, 1)
    freq = base ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)  # (D/2,): base^(-2i/D)
    angles = p * freq  # (L, D/2)
    table = torch.stack([angles.sin(), angles.cos()], dim=-1)  # (L, D/2, 2): sin, cos side by side
    return table.reshape(length, dim).to(dtype)  # (L, D): columns 2i sin, 2i+1 cos


def rope_frequencies(dim: int, base: float = 10000.0) -> torch.Tensor:
    """The rotary angular frequencies ``θ_i = base^(−2i/dim)``, for ``i < dim/2``, in float64.

    Shapes:
        returns (E/2,) with E = dim.
    """
    _check_width(dim, "the width E")
    _check_base(base)
    return base ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)  # (E/2,)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """``(x₁, x₂) ↦ (−x₂, x₁)`` over the two halves of the last axis: a quarter turn of every pair (i, i + E/2).

    Shapes:
        x (..., E) → (..., E), E even.
    """
    _check_width(x.shape[-1], f"the last axis of x {_shape(x)}")
    x1, x2 = x.chunk(2, dim=-1)  # (..., E/2) each
    return torch.cat([-x2, x1], dim=-1)  # (..., E)


def apply_rope(x: torch.Tensor, positions: torch.Tensor | None = None, base: float = 10000.0) -> torch.Tensor:
    """Rotary position embedding: rotate each pair (i, i + E/2) of ``x`` by the angle ``p·θ_i``.

    ``x ↦ x·cos(pθ) + rotate_half(x)·sin(pθ)`` with ``θ_i = base^(−2i/E)`` (:func:`rope_frequencies`), each
    angle used for both features of its pair: the rotate-half convention of GPT-NeoX, LLaMA and Hugging
    Face. Apply it to the queries and the keys (not the values). ``positions`` defaults to ``0 … L−1``; a
    tensor of positions (integer or float) must end in L and broadcast against ``x.shape[:-1]``, e.g.
    (L,) or (B, L). The angles are computed in float64 and the result has ``x``'s dtype and device.

    Raises :class:`AttnLabError` for an odd E, or positions of the wrong shape.

    Shapes:
        x (..., L, E), positions (L,) or (..., L) → (..., L, E).
    """
    if x.dim() < 2:
        raise AttnLabError(f"x must be (..., L, E), got shape {_shape(x)}")
    L, E = x.shape[-2:]
    _check_width(E, f"the width E of x {_shape(x)}")
    if positions is None:
        positions = torch.arange(L, device=x.device)  # (L,)
    elif not isinstance(positions, torch.Tensor):
        raise AttnLabError(f"positions must be a tensor of shape (L,) or (..., L), got {type(positions).__name__}")
    elif positions.dim() == 0 or positions.shape[-1] != L or not _broadcasts(positions.shape, x.shape[:-1]):
        raise AttnLabError(
            f"positions must be (L,) or (..., L) and broadcast against x's {_shape(x.shape[:-1])}, "
            f"got positions {_shape(positions)} for x {_shape(x)}"
        )
    theta = rope_frequencies(E, base).to(x.device)  # (E/2,)
    angles = positions.to(device=x.device, dtype=torch.float64)[..., None] * theta  # (..., L, E/2)
    angles = torch.cat([angles, angles], dim=-1)  # (..., L, E): pair (i, i + E/2) turns by the same angle
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    return x * cos + rotate_half(x) * sin  # (..., L, E)


def _broadcasts(small: torch.Size, big: torch.Size) -> bool:
    try:
        return torch.broadcast_shapes(small, big) == big
    except RuntimeError:
        return False
