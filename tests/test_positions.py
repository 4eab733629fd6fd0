"""attnlab.positions: the sinusoidal table and rotary embeddings, against their formulas written out."""

from __future__ import annotations

import math

import pytest
import torch

from attnlab import AttnLabError
from attnlab.positions import apply_rope, rope_frequencies, rotate_half, sinusoidal_positions


def naive_sinusoidal(length: int, dim: int, base: float) -> torch.Tensor:
    """Vaswani et al.'s table, one entry at a time."""
    pe = torch.zeros(length, dim, dtype=torch.float64)
    for p in range(length):
        for i in range(dim // 2):
            pe[p, 2 * i] = math.sin(p / base ** (2 * i / dim))
            pe[p, 2 * i + 1] = math.cos(p / base ** (2 * i / dim))
    return pe


def naive_rope(x: torch.Tensor, positions: list[float], base: float) -> torch.Tensor:
    """Rotate-half RoPE written out: feature i pairs with i + E/2 and turns by p·base^(−2i/E)."""
    out = torch.empty_like(x, dtype=torch.float64)
    E = x.shape[-1]
    half = E // 2
    for row, p in enumerate(positions):
        for i in range(half):
            angle = p * base ** (-2 * i / E)
            a, b = x[..., row, i].double(), x[..., row, i + half].double()
            out[..., row, i] = a * math.cos(angle) - b * math.sin(angle)
            out[..., row, i + half] = b * math.cos(angle) + a * math.sin(angle)
    return out


@pytest.mark.parametrize(("length", "dim", "base"), [(1, 2, 10000.0), (7, 8, 10000.0), (50, 16, 100.0)])
def test_sinusoidal_matches_the_formula(length, dim, base):
    pe = sinusoidal_positions(length, dim, base)
    assert pe.shape == (length, dim) and pe.dtype == torch.float32
    torch.testing.assert_close(pe.double(), naive_sinusoidal(length, dim, base), atol=1e-6, rtol=0)


def test_sinusoidal_first_row_and_first_pair():
    pe = sinusoidal_positions(10, 6)
    torch.testing.assert_close(pe[0], torch.tensor([0.0, 1.0] * 3))  # sin 0, cos 0
    torch.testing.assert_close(pe[:, 0], torch.arange(10.0).sin())  # pair 0 turns one radian a position


def test_sinusoidal_dot_product_depends_only_on_the_offset():
    pe = sinusoidal_positions(64, 32).double()
    gram = pe @ pe.T  # (L, L)
    for k in range(0, 20):
        torch.testing.assert_close(gram.diagonal(k), gram.diagonal(k)[:1].expand(64 - k))


@pytest.mark.parametrize("shape", [(5, 8), (2, 3, 6, 4), (1, 10, 16)])
def test_rope_matches_the_formula(shape):
    x = torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    L = shape[-2]
    torch.testing.assert_close(apply_rope(x), naive_rope(x, list(range(L)), 10000.0))
    torch.testing.assert_close(apply_rope(x, base=50.0), naive_rope(x, list(range(L)), 50.0))


def test_rope_at_position_zero_is_the_identity_and_rotate_half_is_a_quarter_turn():
    x = torch.randn(1, 8, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(apply_rope(x), x)
    torch.testing.assert_close(rotate_half(torch.tensor([1.0, 2.0, 3.0, 4.0])), torch.tensor([-3.0, -4.0, 1.0, 2.0]))
    torch.testing.assert_close(rope_frequencies(4, 100.0), torch.tensor([1.0, 0.1], dtype=torch.float64))


def test_rope_preserves_norms():
    x = torch.randn(3, 20, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(apply_rope(x).norm(dim=-1), x.norm(dim=-1))


def test_rotary_scores_depend_only_on_the_offset():
    g = torch.Generator().manual_seed(3)
    q, k = torch.randn(16, dtype=torch.float64, generator=g), torch.randn(16, dtype=torch.float64, generator=g)
    L = 24
    scores = apply_rope(q.expand(L, -1)) @ apply_rope(k.expand(L, -1)).T  # (L, L): entry (m, n)
    for offset in range(-L + 1, L):
        diag = scores.diagonal(offset)
        torch.testing.assert_close(diag, diag[:1].expand_as(diag))
    # Shift both positions by the same amount: the scores do not move.
    shifted = apply_rope(q.expand(L, -1), torch.arange(L) + 100) @ apply_rope(k.expand(L, -1), torch.arange(L) + 100).T
    torch.testing.assert_close(shifted, scores)
    assert not torch.allclose(scores.diagonal(1)[:1], scores.diagonal(-1)[:1])  # m − n, not |m − n|


def test_positions_tensor_equals_the_default_and_can_differ_per_batch():
    x = torch.randn(2, 6, 8, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(apply_rope(x, torch.arange(6)), apply_rope(x))
    torch.testing.assert_close(apply_rope(x, torch.arange(6.0)), apply_rope(x))
    per_batch = torch.stack([torch.arange(6), torch.arange(6) + 3])  # (B, L)
    out = apply_rope(x, per_batch)
    torch.testing.assert_close(out[0], apply_rope(x[0]))
    torch.testing.assert_close(out[1], apply_rope(x[1], torch.arange(3, 9)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_rope_keeps_dtype_and_device(dtype):
    x = torch.randn(2, 5, 8).to(dtype)
    out = apply_rope(x)
    assert out.dtype == dtype and out.device == x.device and out.shape == x.shape
    torch.testing.assert_close(out.double(), naive_rope(x, list(range(5)), 10000.0), atol=0.05, rtol=0.02)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_rope_and_table_on_the_gpu():
    x = torch.randn(2, 5, 8, device="cuda")
    assert apply_rope(x, torch.arange(5, device="cuda")).device == x.device
    torch.testing.assert_close(apply_rope(x).cpu(), apply_rope(x.cpu()))


def test_errors_name_the_bad_value():
    with pytest.raises(AttnLabError, match=r"dim must be even and positive .* got 7"):
        sinusoidal_positions(4, 7)
    with pytest.raises(AttnLabError, match="length must be a positive number of positions, got length=0"):
        sinusoidal_positions(0, 8)
    with pytest.raises(AttnLabError, match="base must be > 0, got base=0"):
        sinusoidal_positions(4, 8, base=0)
    with pytest.raises(AttnLabError, match=r"the width E of x \(2, 5, 7\) must be even .* got 7"):
        apply_rope(torch.randn(2, 5, 7))
    with pytest.raises(AttnLabError, match=r"positions must be \(L,\) or \(..., L\) .* got positions \(4,\)"):
        apply_rope(torch.randn(2, 5, 8), torch.arange(4))
    with pytest.raises(AttnLabError, match=r"got positions \(3, 5\) for x \(2, 5, 8\)"):
        apply_rope(torch.randn(2, 5, 8), torch.zeros(3, 5))
    with pytest.raises(AttnLabError, match=r"x must be \(..., L, E\), got shape \(8,\)"):
        apply_rope(torch.randn(8))
    with pytest.raises(AttnLabError, match="positions must be a tensor"):
        apply_rope(torch.randn(5, 8), [0, 1, 2, 3, 4])
    with pytest.raises(ValueError):  # AttnLabError is a ValueError
        sinusoidal_positions(4, 3)
