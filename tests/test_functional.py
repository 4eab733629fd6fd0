"""scaled_dot_product_attention, all three paths, against torch's fused kernel."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from attnlab import (
    IMPLS,
    AttnLabError,
    attention_logits,
    attention_weights,
    causal_mask,
    scaled_dot_product_attention,
)

from .conftest import ATOL, randn, random_bool

# (batch dims, L, S, E, Ev): unbatched, L != S, Ev != E, and sizes that span several tiles.
SHAPES = [
    ((), 5, 5, 8, 8),
    ((2,), 7, 7, 16, 16),
    ((2, 3), 6, 9, 8, 4),
    ((3, 2), 11, 4, 8, 8),
    ((1, 4), 130, 130, 32, 32),
    ((2, 2), 17, 530, 8, 8),
]
SHAPE_IDS = [f"b{b}-L{L}-S{S}-E{E}-Ev{Ev}" for b, L, S, E, Ev in SHAPES]


def qkv(batch, L, S, E, Ev, dtype, device, seed=0):
    return (
        randn(*batch, L, E, seed=seed, dtype=dtype, device=device),
        randn(*batch, S, E, seed=seed + 1, dtype=dtype, device=device),
        randn(*batch, S, Ev, seed=seed + 2, dtype=dtype, device=device),
    )


def masks(batch, L, S, dtype, device):
    """Every kind of mask the functions accept, each with a few query rows that see nothing."""
    allowed = random_bool(*batch, L, S, seed=7, device=device)
    allowed[..., 0, :] = False  # query 0 may attend to nothing: zeros, not NaN
    additive = randn(*batch, L, S, seed=8, dtype=dtype, device=device)
    additive = additive.masked_fill(~random_bool(*batch, L, S, seed=9, device=device), float("-inf"))
    additive[..., -1, :] = float("-inf")
    keys = random_bool(*batch[:1], *([1] * len(batch[1:])), 1, S, seed=10, p=0.8, device=device)
    return {
        "bool": allowed,
        "float": additive,
        "bool-2d-broadcast": allowed.reshape(-1, L, S)[0],
        "bool-key-padding": keys,
        "float-from-bool": torch.zeros(L, S, dtype=dtype, device=device).masked_fill(~allowed[(0,) * len(batch)], -1e4),
    }


def reference(q, k, v, mask=None, **kwargs):
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, **kwargs)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_no_mask_equals_torch(impl, shape, dtype, device):
    q, k, v = qkv(*shape, dtype, device)
    out = scaled_dot_product_attention(q, k, v, impl=impl, block_size=64)
    torch.testing.assert_close(out, reference(q, k, v), atol=ATOL[dtype], rtol=0)


@pytest.mark.parametrize("kind", ["bool", "float", "bool-2d-broadcast", "bool-key-padding", "float-from-bool"])
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_masks_equal_torch(kind, impl, shape, dtype, device):
    q, k, v = qkv(*shape, dtype, device)
    mask = masks(shape[0], shape[1], shape[2], dtype, device)[kind]
    out = scaled_dot_product_attention(q, k, v, mask, impl=impl, block_size=64)
    assert not out.isnan().any()
    torch.testing.assert_close(out, reference(q, k, v, mask), atol=ATOL[dtype], rtol=0)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("L,S", [(6, 6), (4, 9), (9, 4), (300, 300), (70, 200)])
def test_is_causal_equals_torch_also_when_L_differs_from_S(impl, L, S, dtype, device):
    q, k, v = qkv((2, 3), L, S, 8, 8, dtype, device)
    out = scaled_dot_product_attention(q, k, v, is_causal=True, impl=impl, block_size=64)
    torch.testing.assert_close(out, reference(q, k, v, is_causal=True), atol=ATOL[dtype], rtol=0)
    # is_causal means exactly the mask causal_mask builds.
    with_mask = scaled_dot_product_attention(q, k, v, causal_mask(L, S, device=device), impl=impl, block_size=64)
    torch.testing.assert_close(out, with_mask, atol=ATOL[dtype], rtol=0)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("scale", [0.05, 1.0, 3.0])
def test_scale_equals_torch(impl, scale, dtype, device):
    q, k, v = qkv((2,), 9, 12, 16, 8, dtype, device)
    mask = masks((2,), 9, 12, dtype, device)["bool"]
    out = scaled_dot_product_attention(q, k, v, mask, scale=scale, impl=impl, block_size=5)
    torch.testing.assert_close(out, reference(q, k, v, mask, scale=scale), atol=ATOL[dtype], rtol=0)


@pytest.mark.parametrize("block_size", [1, 3, 64, 256, 10_000])
def test_tiled_is_exact_for_any_block_size(block_size, device):
    q, k, v = qkv((2,), 33, 257, 8, 8, torch.float64, device)
    mask = masks((2,), 33, 257, torch.float64, device)["float"]
    out = scaled_dot_product_attention(q, k, v, mask, impl="tiled", block_size=block_size)
    torch.testing.assert_close(out, reference(q, k, v, mask), atol=1e-10, rtol=0)


def test_tiled_handles_logits_that_would_overflow_exp():
    # Without the running maximum, exp(1000) is inf; the online softmax never forms it.
    q = torch.full((1, 4, 2), 40.0)
    k = torch.full((1, 300, 2), 40.0)
    k[:, -1] = 41.0
    v = torch.randn(1, 300, 3)
    out = scaled_dot_product_attention(q, k, v, impl="tiled", block_size=16)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, reference(q, k, v), atol=1e-5, rtol=0)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_a_query_that_sees_nothing_gets_zeros(impl, kind, device):
    q, k, v = qkv((2,), 5, 7, 8, 8, torch.float32, device)
    if kind == "bool":
        mask = torch.ones(5, 7, dtype=torch.bool, device=device)
        mask[2] = False
    else:
        mask = torch.zeros(5, 7, device=device)
        mask[2] = float("-inf")
    out = scaled_dot_product_attention(q, k, v, mask, impl=impl)
    assert torch.equal(out[:, 2], torch.zeros_like(out[:, 2]))
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("impl", IMPLS)
def test_gradients_equal_torch_and_stay_finite(impl, device):
    q, k, v = (t.requires_grad_() for t in qkv((2, 2), 20, 150, 8, 8, torch.float64, device))
    mask = masks((2, 2), 20, 150, torch.float64, device)["float"]
    grads = torch.autograd.grad(scaled_dot_product_attention(q, k, v, mask, impl=impl, block_size=32).sum(), (q, k, v))
    live = ~torch.isneginf(mask).all(-1)  # torch's backward is NaN on dead rows; ours is 0 there
    want = torch.autograd.grad(reference(q, k, v, mask).sum(), (q, k, v))
    for got in grads:
        assert torch.isfinite(got).all()
    torch.testing.assert_close(grads[0][live], want[0][live], atol=1e-10, rtol=0)
    q2 = torch.autograd.grad(scaled_dot_product_attention(q, k, v, impl=impl, block_size=32).sum(), (q, k, v))
    w2 = torch.autograd.grad(reference(q, k, v).sum(), (q, k, v))
    for got, expected in zip(q2, w2, strict=True):
        torch.testing.assert_close(got, expected, atol=1e-10, rtol=0)


def test_manual_returns_the_weights_that_made_the_output(dtype, device):
    q, k, v = qkv((2, 3), 6, 9, 8, 4, dtype, device)
    mask = masks((2, 3), 6, 9, dtype, device)["bool"]
    out, weights = scaled_dot_product_attention(q, k, v, mask, return_weights=True)
    assert weights.shape == (2, 3, 6, 9)
    rows = weights.sum(-1)
    dead = ~mask.any(-1)
    torch.testing.assert_close(rows[~dead], torch.ones_like(rows[~dead]), atol=ATOL[dtype], rtol=0)
    assert torch.equal(rows[dead], torch.zeros_like(rows[dead]))
    assert torch.equal(weights[~mask.expand_as(weights)], torch.zeros_like(weights[~mask.expand_as(weights)]))
    torch.testing.assert_close(out, weights @ v, atol=ATOL[dtype], rtol=0)
    torch.testing.assert_close(weights, attention_weights(q, k, mask), atol=0, rtol=0)


def test_logits_are_scaled_scores_and_raw_scores_with_scale_one():
    q, k, _ = qkv((2,), 4, 6, 16, 16, torch.float64, "cpu")
    torch.testing.assert_close(attention_logits(q, k, scale=1.0), q @ k.transpose(-2, -1))
    torch.testing.assert_close(attention_logits(q, k), q @ k.transpose(-2, -1) / math.sqrt(16))
    masked = attention_logits(q, k, is_causal=True)
    assert torch.isneginf(masked[:, 0, 1:]).all() and torch.isfinite(masked[:, -1, :4]).all()


@pytest.mark.parametrize("impl", ["manual", "tiled"])
def test_dropout_is_seeded_unbiased_and_drops(impl):
    q, k, v = qkv((1,), 4, 40, 8, 8, torch.float64, "cpu")
    clean = scaled_dot_product_attention(q, k, v, impl=impl, block_size=16)
    torch.manual_seed(0)
    a = scaled_dot_product_attention(q, k, v, dropout_p=0.5, impl=impl, block_size=16)
    torch.manual_seed(0)
    b = scaled_dot_product_attention(q, k, v, dropout_p=0.5, impl=impl, block_size=16)
    assert torch.equal(a, b) and not torch.allclose(a, clean)
    draws = torch.stack([scaled_dot_product_attention(q, k, v, dropout_p=0.5, impl=impl) for _ in range(3000)])
    torch.testing.assert_close(draws.mean(0), clean, atol=0.05, rtol=0)  # inverted dropout keeps the mean
    assert torch.equal(scaled_dot_product_attention(q, k, v, dropout_p=1.0, impl=impl), torch.zeros_like(clean))


def test_batch_dimensions_broadcast_like_torch():
    q = randn(2, 3, 5, 8, seed=0, dtype=torch.float32, device="cpu")
    k = randn(2, 1, 7, 8, seed=1, dtype=torch.float32, device="cpu")
    v = randn(2, 1, 7, 4, seed=2, dtype=torch.float32, device="cpu")
    for impl in IMPLS:
        torch.testing.assert_close(scaled_dot_product_attention(q, k, v, impl=impl), reference(q, k, v))


# ---- errors: the message names the values that disagree and what was expected ----


def test_width_mismatch_names_both_widths_and_shapes():
    q, k, v = torch.zeros(2, 8, 10, 64), torch.zeros(2, 8, 12, 32), torch.zeros(2, 8, 12, 32)
    with pytest.raises(
        AttnLabError, match=r"query width 64 != key width 32 \(q: \(2, 8, 10, 64\), k: \(2, 8, 12, 32\)\)"
    ):
        scaled_dot_product_attention(q, k, v)


def test_key_value_length_mismatch():
    with pytest.raises(AttnLabError, match=r"key length 12 != value length 11 \(k: \(2, 12, 8\), v: \(2, 11, 8\)\)"):
        scaled_dot_product_attention(torch.zeros(2, 10, 8), torch.zeros(2, 12, 8), torch.zeros(2, 11, 8))


def test_mask_that_does_not_broadcast():
    q = k = v = torch.zeros(2, 5, 8)
    with pytest.raises(
        AttnLabError, match=r"mask of shape \(3, 5\) does not broadcast to the attention logits \(2, 5, 5\)"
    ):
        scaled_dot_product_attention(q, k, v, torch.ones(3, 5, dtype=torch.bool))
    with pytest.raises(AttnLabError, match=r"mask of shape \(4, 2, 5, 5\) does not broadcast"):
        scaled_dot_product_attention(q, k, v, torch.ones(4, 2, 5, 5, dtype=torch.bool))
    with pytest.raises(
        AttnLabError, match=r"mask must be bool \(True = may attend\) or float \(added\), got dtype torch.int64"
    ):
        scaled_dot_product_attention(q, k, v, torch.ones(5, 5, dtype=torch.long))


def test_unknown_impl_names_it_and_the_valid_ones():
    q = torch.zeros(1, 3, 4)
    with pytest.raises(AttnLabError, match=r"unknown impl 'fast'; expected one of 'manual', 'sdpa', 'tiled'"):
        scaled_dot_product_attention(q, q, q, impl="fast")


def test_other_bad_arguments():
    q = torch.zeros(1, 3, 4)
    with pytest.raises(AttnLabError, match=r"return_weights=True needs impl='manual'; impl='sdpa' never forms"):
        scaled_dot_product_attention(q, q, q, return_weights=True, impl="sdpa")
    with pytest.raises(AttnLabError, match=r"is_causal=True and an explicit mask were both given"):
        scaled_dot_product_attention(q, q, q, torch.ones(3, 3, dtype=torch.bool), is_causal=True)
    with pytest.raises(AttnLabError, match=r"q, k and v must share a dtype, got torch.float32, torch.float64"):
        scaled_dot_product_attention(q, q.double(), q)
    with pytest.raises(AttnLabError, match=r"dropout_p must be in \[0, 1\], got 1.5"):
        scaled_dot_product_attention(q, q, q, dropout_p=1.5)
    with pytest.raises(AttnLabError, match=r"q must be \(\.\.\., length, width\), got shape \(4,\)"):
        scaled_dot_product_attention(torch.zeros(4), q, q)
    with pytest.raises(AttnLabError, match=r"there are no keys to attend to \(k: \(1, 0, 4\)\)"):
        scaled_dot_product_attention(q, torch.zeros(1, 0, 4), torch.zeros(1, 0, 4))
    with pytest.raises(AttnLabError, match=r"the batch dimensions \(all but the last two\) do not broadcast"):
        scaled_dot_product_attention(torch.zeros(2, 3, 4), torch.zeros(3, 3, 4), torch.zeros(3, 3, 4))
    with pytest.raises(ValueError):  # AttnLabError is a ValueError
        scaled_dot_product_attention(q, q, q, impl="nope")
