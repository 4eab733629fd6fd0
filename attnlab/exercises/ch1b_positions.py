"""Exercises of chapter 1b, positional information: the sinusoidal table and rotary embeddings."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..positions import apply_rope, sinusoidal_positions
from ._core import Case, Exercise, Mistake, seeded_cases

__all__ = ["EXERCISES"]

_BASE = 10000.0


def _table(length: int, dim: int, angle: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """A (length, dim) float64 table whose column j holds ``angle(p, j)``, written as a reader would."""
    p = torch.arange(length, dtype=torch.float64)[:, None]  # (L, 1)
    j = torch.arange(dim, dtype=torch.float64)[None, :]  # (1, D)
    return angle(p, j)  # (L, D)


def _interleave(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Columns 2i from ``first``, 2i + 1 from ``second``: (L, D/2) each → (L, D)."""
    return torch.stack([first, second], dim=-1).flatten(-2)  # (L, D)


def _angles(length: int, dim: int, exponent: float = 2.0, times: bool = False) -> torch.Tensor:
    p = torch.arange(length, dtype=torch.float64)[:, None]  # (L, 1)
    scale = _BASE ** (exponent * torch.arange(dim // 2, dtype=torch.float64) / dim)  # (D/2,)
    return p * scale if times else p / scale  # (L, D/2)


def _table_cases() -> list[Case]:
    return seeded_cases(("length", "dim"), [(6, 8), (20, 16), (50, 6), (3, 4)], seed=0)


def _dtype_symptom(got: torch.Tensor, expected: torch.Tensor, case: Case) -> str | None:
    if isinstance(got, torch.Tensor) and got.is_floating_point() and got.dtype != torch.float64:
        return (
            f"the table is {got.dtype}, whose rounding is too coarse here: compute in float64, e.g. "
            "torch.arange(length, dtype=torch.float64)"
        )
    return None


_SINUSOIDAL = Exercise(
    id="sinusoidal_positions",
    chapter=1,
    title="The sinusoidal position table",
    signature="solution(length, dim) -> Tensor",
    shapes="→ (L, D) with L = length, D = dim (even), float64",
    task="Return the table of Vaswani et al. in float64: PE[p, 2i] = sin(p / 10000^(2i/D)) and "
    "PE[p, 2i+1] = cos(p / 10000^(2i/D)), for positions p = 0 … L−1 and pairs i < D/2.",
    reference=lambda length, dim: sinusoidal_positions(length, dim, dtype=torch.float64),
    cases=_table_cases,
    mistakes=(
        Mistake(
            "swapped",
            lambda length, dim: _interleave(_angles(length, dim).cos(), _angles(length, dim).sin()),
            "sine and cosine are swapped: even columns 2i hold the sine, odd columns 2i+1 the cosine",
        ),
        Mistake(
            "halves",
            lambda length, dim: torch.cat([_angles(length, dim).sin(), _angles(length, dim).cos()], dim=-1),
            "all the sines come first and all the cosines after (a layout some code uses): here they "
            "interleave, sin in column 2i and cos in column 2i+1 of the same frequency",
        ),
        Mistake(
            "column_index",
            lambda length, dim: _table(
                length,
                dim,
                lambda p, j: torch.where(j % 2 == 0, (p / _BASE ** (j / dim)).sin(), (p / _BASE ** (j / dim)).cos()),
            ),
            "the odd columns use exponent (2i+1)/D: columns 2i and 2i+1 share one frequency, "
            "10000^(2i/D), with i the pair and not the column",
        ),
        Mistake(
            "i_over_D",
            lambda length, dim: _interleave(_angles(length, dim, 1.0).sin(), _angles(length, dim, 1.0).cos()),
            "the exponent is i/D: it is 2i/D, so that the last pair turns nearly 10000 times slower than the first",
        ),
        Mistake(
            "times",
            lambda length, dim: _interleave(
                _angles(length, dim, times=True).sin(), _angles(length, dim, times=True).cos()
            ),
            "you multiplied p by 10000^(2i/D): divide by it, so that the frequencies fall from 1 towards 1/10000",
        ),
        Mistake(
            "sin_only",
            lambda length, dim: _interleave(_angles(length, dim).sin(), _angles(length, dim).sin()),
            "every column is a sine: the odd columns 2i+1 hold the cosine of the same angle",
        ),
    ),
    dtype="float",
    symptom=_dtype_symptom,
)


def _rope_cases() -> list[Case]:
    return seeded_cases(("x",), [((6, 8),), ((2, 5, 4),), ((2, 3, 7, 16),), ((1, 12, 2),)], seed=1)


def _rotate(x: torch.Tensor, angles: torch.Tensor, sign: float = 1.0) -> torch.Tensor:
    """Rotate-half with the given (L, E/2) angles; ``sign=-1`` turns the wrong way."""
    x1, x2 = x.chunk(2, dim=-1)  # (..., L, E/2) each
    cos, sin = angles.cos(), sign * angles.sin()
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)  # (..., L, E)


def _rope_angles(x: torch.Tensor, first: int = 0, exponent: float = 2.0) -> torch.Tensor:
    L, E = x.shape[-2:]
    p = torch.arange(first, first + L, dtype=x.dtype)[:, None]  # (L, 1)
    return p * _BASE ** (-exponent * torch.arange(E // 2, dtype=x.dtype) / E)  # (L, E/2)


def _interleaved_rope(x: torch.Tensor) -> torch.Tensor:
    angles = _rope_angles(x)  # (L, E/2)
    a, b = x[..., 0::2], x[..., 1::2]  # (..., L, E/2) each: adjacent pairs
    return torch.stack([a * angles.cos() - b * angles.sin(), b * angles.cos() + a * angles.sin()], -1).flatten(-2)


_ROPE = Exercise(
    id="apply_rope",
    chapter=1,
    title="Rotary position embedding (rotate-half)",
    signature="solution(x) -> Tensor",
    shapes="x (..., L, E), E even → (..., L, E)",
    task="Rotate each pair of features (i, i + E/2) of the row at position p = 0 … L−1 by the angle "
    "p·θᵢ, θᵢ = 10000^(−2i/E): x·cos(pθ) + rotate_half(x)·sin(pθ), where rotate_half(x) = (−x₂, x₁) over "
    "the two halves of the last axis and each θᵢ serves both features of its pair (GPT-NeoX, LLaMA, "
    "Hugging Face).",
    reference=lambda x: apply_rope(x),
    cases=_rope_cases,
    mistakes=(
        Mistake(
            "interleaved",
            _interleaved_rope,
            "you rotated adjacent pairs (2i, 2i+1), the convention of the RoFormer paper and GPT-J: here "
            "feature i pairs with feature i + E/2 (rotate-half)",
        ),
        Mistake(
            "wrong_way",
            lambda x: _rotate(x, _rope_angles(x), sign=-1.0),
            "every pair turns the wrong way (by −pθ): rotate_half(x) is (−x₂, x₁), not (x₂, −x₁)",
        ),
        Mistake(
            "from_one",
            lambda x: _rotate(x, _rope_angles(x, first=1)),
            "the positions start at 1: the first row is position 0 and is not rotated at all",
        ),
        Mistake(
            "i_over_E",
            lambda x: _rotate(x, _rope_angles(x, exponent=1.0)),
            "θᵢ = 10000^(−i/E): the exponent is −2i/E",
        ),
        Mistake(
            "added",
            lambda x: x + sinusoidal_positions(x.shape[-2], x.shape[-1], dtype=x.dtype),
            "you added the sinusoidal table: rotary embeddings rotate the features instead of adding to them",
        ),
    ),
)

EXERCISES = (_SINUSOIDAL, _ROPE)
