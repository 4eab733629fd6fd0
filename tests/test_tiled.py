"""The tiled path on its own: every tiling gives torch's answer, and memory stays within one tile.

tests/test_functional.py checks all three paths against torch through the public function; here the
tiles themselves are varied (query and key blocks that do not divide the lengths, single rows and
single keys, causal tiles that straddle the diagonal) and the in-place work on the tile is checked to
leave inputs and gradients alone.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from attnlab.tiled import MIN_QUERY_BLOCK, TILE_ELEMENTS, tiled_attention

from .conftest import randn, random_bool

# (query block, key block): one row and one key per tile, sizes that divide nothing, and one tile for all.
BLOCKS = [(1, 1), (1, 7), (5, 1), (3, 4), (8, 16), (13, 29), (64, 512), (None, 512), (1000, 1000)]


def qkv(batch, L, S, E=8, Ev=8, dtype=torch.float64, seed=0):
    return (
        randn(*batch, L, E, seed=seed, dtype=dtype, device="cpu"),
        randn(*batch, S, E, seed=seed + 1, dtype=dtype, device="cpu"),
        randn(*batch, S, Ev, seed=seed + 2, dtype=dtype, device="cpu"),
    )


def tiled(q, k, v, mask=None, *, blocks, is_causal=False):
    qb, kb = blocks
    scale = q.shape[-1] ** -0.5
    return tiled_attention(q, k, v, mask, scale=scale, is_causal=is_causal, block_size=kb, query_block_size=qb)


@pytest.mark.parametrize("blocks", BLOCKS, ids=str)
@pytest.mark.parametrize("L,S", [(1, 1), (1, 37), (37, 1), (29, 50), (50, 29)])
def test_any_tiling_equals_torch(blocks, L, S):
    q, k, v = qkv((2, 3), L, S, Ev=5)
    want = F.scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(tiled(q, k, v, blocks=blocks), want, atol=1e-12, rtol=0)


@pytest.mark.parametrize("blocks", BLOCKS, ids=str)
@pytest.mark.parametrize("L,S", [(1, 1), (29, 50), (50, 29), (33, 33)])
def test_causal_tiles_that_straddle_the_diagonal(blocks, L, S):
    q, k, v = qkv((2,), L, S)
    want = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(tiled(q, k, v, blocks=blocks, is_causal=True), want, atol=1e-12, rtol=0)


@pytest.mark.parametrize("blocks", [(1, 1), (4, 3), (7, 16), (None, 512)], ids=str)
def test_a_row_whose_keys_all_sit_in_a_late_block(blocks):
    # Row 0 sees only the last key, so every earlier tile is all -inf for it: its running max stays -inf
    # until the last tile, and that must give exact weights, not NaN. Row 1 sees nothing: zeros.
    q, k, v = qkv((2,), 6, 17)
    mask = random_bool(2, 6, 17, seed=3)
    mask[:, 0] = False
    mask[:, 0, -1] = True
    mask[:, 1] = False
    out = tiled(q, k, v, mask, blocks=blocks)
    assert torch.isfinite(out).all() and torch.equal(out[:, 1], torch.zeros_like(out[:, 1]))
    torch.testing.assert_close(out[:, 0], v[:, -1], atol=1e-12, rtol=0)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, mask), atol=1e-12, rtol=0)


@pytest.mark.parametrize("blocks", [(1, 1), (4, 3), (None, 512)], ids=str)
@pytest.mark.parametrize("shape", [(6, 1), (1, 17), (2, 1, 6, 17), (1, 3, 1, 17)], ids=str)
def test_float_masks_that_broadcast_over_rows_columns_and_batch(blocks, shape):
    q, k, v = qkv((2, 3), 6, 17)
    mask = randn(*shape, seed=4, dtype=torch.float64, device="cpu")
    mask = mask.masked_fill(mask > 1.0, float("-inf"))
    want = F.scaled_dot_product_attention(q, k, v, mask)
    torch.testing.assert_close(tiled(q, k, v, mask, blocks=blocks), want, atol=1e-12, rtol=0)


def test_batch_dimensions_that_broadcast_give_every_tile_the_full_batch():
    # q has a smaller batch than k, v and the mask: the tile is filled in place, so it must have the full one.
    q = randn(1, 3, 9, 8, seed=0, dtype=torch.float64, device="cpu")
    k = randn(2, 1, 11, 8, seed=1, dtype=torch.float64, device="cpu")
    v = randn(2, 3, 11, 4, seed=2, dtype=torch.float64, device="cpu")
    mask = randn(2, 3, 9, 11, seed=3, dtype=torch.float64, device="cpu")
    out = tiled(q, k, v, mask, blocks=(4, 5))
    assert out.shape == (2, 3, 9, 4)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, mask), atol=1e-12, rtol=0)


def test_inputs_are_left_as_they_were():
    # The tile is overwritten in place (subtract, exp, mask); nothing the caller passed may change.
    q, k, v = qkv((2,), 10, 13)
    mask = randn(10, 13, seed=5, dtype=torch.float64, device="cpu")
    before = [t.clone() for t in (q, k, v, mask)]
    tiled(q, k, v, mask, blocks=(3, 4), is_causal=False)
    tiled(q, k, v, blocks=(3, 4), is_causal=True)
    for t, saved in zip((q, k, v, mask), before, strict=True):
        assert torch.equal(t, saved)


@pytest.mark.parametrize("is_causal", [False, True])
def test_gradients_through_in_place_tiles_equal_torch(is_causal):
    q, k, v = (t.requires_grad_() for t in qkv((2,), 23, 31))
    mask = None if is_causal else random_bool(23, 31, seed=6, p=0.8)
    got = torch.autograd.grad(tiled(q, k, v, mask, blocks=(5, 7), is_causal=is_causal).square().sum(), (q, k, v))
    ref = F.scaled_dot_product_attention(q, k, v, mask, is_causal=is_causal)
    want = torch.autograd.grad(ref.square().sum(), (q, k, v))
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, atol=1e-10, rtol=0)


def test_float32_large_logits_stay_finite_across_many_tiles():
    q, k, v = qkv((1,), 64, 300, dtype=torch.float32)
    q, k = q * 30, k * 30  # logits in the thousands: exp without the running max would overflow
    out = tiled(q, k, v, blocks=(16, 32))
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v), atol=1e-5, rtol=0)


@pytest.mark.parametrize("B,L,blocks", [(2, 2048, (None, 512)), (2, 2048, (128, 256)), (96, 512, (None, 512))])
def test_memory_stays_within_one_tile(B, L, blocks):
    # No allocation may be as large as the (B, L, S) logits: the largest is one tile of them. By default
    # the tile holds TILE_ELEMENTS logits, or MIN_QUERY_BLOCK rows where the batch is large (B = 96).
    q, k, v = qkv((B,), L, L, E=4, Ev=4, dtype=torch.float32)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        tiled(q, k, v, blocks=blocks)
    largest = max(event.cpu_memory_usage for event in prof.events())
    qb, kb = blocks
    tile = B * (qb or max(MIN_QUERY_BLOCK, TILE_ELEMENTS // (B * kb))) * kb * 4
    assert largest <= tile <= B * L * L * 4 // 4
