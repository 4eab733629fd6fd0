"""Masks and the conversions between attnlab's, nn.MultiheadAttention's and additive conventions."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from attnlab import (
    AttnLabError,
    additive_to_bool,
    bool_to_additive,
    causal_mask,
    combine_masks,
    from_mha_mask,
    key_padding_to_mask,
    padding_mask,
    scaled_dot_product_attention,
    to_mha_mask,
)

from .conftest import randn, random_bool


@pytest.mark.parametrize("L,S", [(1, 1), (4, 4), (3, 6), (6, 3)])
def test_causal_mask_is_the_lower_triangle_torch_uses_for_is_causal(L, S, device):
    mask = causal_mask(L, S, device=device)
    assert mask.dtype == torch.bool and mask.shape == (L, S) and mask.device.type == device.type
    expected = torch.tensor([[j <= i for j in range(S)] for i in range(L)], device=device)
    assert torch.equal(mask, expected)
    q, k, v = (randn(2, n, 8, seed=s, dtype=torch.float64, device=device) for s, n in ((0, L), (1, S), (2, S)))
    torch.testing.assert_close(
        F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
        F.scaled_dot_product_attention(q, k, v, is_causal=True),
    )


def test_causal_mask_defaults_to_square():
    assert torch.equal(causal_mask(3), torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=torch.bool))


@pytest.mark.parametrize(
    "args,message",
    [
        ((0,), r"causal_mask needs a positive length L, got 0"),
        ((3, 0), r"causal_mask needs a positive length S, got 0"),
        ((-2,), r"causal_mask needs a positive length L, got -2"),
        ((2.5,), r"causal_mask needs a positive length L, got 2.5"),
    ],
)
def test_causal_mask_rejects_lengths_below_one(args, message):
    with pytest.raises(AttnLabError, match=message):
        causal_mask(*args)


def test_padding_mask_marks_real_tokens(device):
    mask = padding_mask([3, 1, 2], device=device)
    expected = torch.tensor([[1, 1, 1], [1, 0, 0], [1, 1, 0]], dtype=torch.bool, device=device)
    assert torch.equal(mask, expected)
    assert padding_mask(torch.tensor([2, 0]), max_len=4).tolist() == [[True, True, False, False], [False] * 4]


@pytest.mark.parametrize(
    "lengths,max_len,message",
    [
        ([3, 5], 4, r"max_len 4 is shorter than the longest sequence \(5\) in lengths \[3, 5\]"),
        ([2, -1], None, r"lengths must be >= 0, got \[2, -1\]"),
        ([1.5, 2.0], None, r"lengths must be integers, got dtype torch.float32"),
        ([[1, 2]], None, r"lengths must be one number per sequence, got shape \(1, 2\)"),
        ([], None, r"lengths is empty"),
    ],
)
def test_padding_mask_errors(lengths, max_len, message):
    with pytest.raises(AttnLabError, match=message):
        padding_mask(lengths, max_len)


def test_mha_convention_is_the_opposite_boolean():
    allowed = random_bool(4, 5, seed=0)
    assert torch.equal(from_mha_mask(allowed), ~allowed)
    assert torch.equal(to_mha_mask(from_mha_mask(allowed)), allowed)
    additive = torch.randn(4, 5)
    assert from_mha_mask(additive) is additive and to_mha_mask(additive) is additive
    assert from_mha_mask(None) is None
    with pytest.raises(AttnLabError, match=r"a mask must be bool or float, got dtype torch.int64"):
        from_mha_mask(torch.ones(2, 2, dtype=torch.long))


def test_nn_multihead_attention_blocks_where_attnlab_allows():
    # The same boolean tensor means opposite things: the conversion makes the two agree.
    torch.manual_seed(0)
    mha = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    x = torch.randn(2, 5, 8)
    allowed = random_bool(5, 5, seed=1) | torch.eye(5, dtype=torch.bool)
    _, w = mha(x, x, x, attn_mask=to_mha_mask(allowed))
    assert torch.equal(w > 0, allowed.expand(2, 5, 5))


def test_additive_and_bool_round_trip(dtype):
    allowed = random_bool(3, 4, seed=2)
    additive = bool_to_additive(allowed, dtype)
    assert additive.dtype == dtype
    assert torch.equal(additive[allowed], torch.zeros_like(additive[allowed]))
    assert torch.isneginf(additive[~allowed]).all()
    assert torch.equal(additive_to_bool(additive), allowed)
    with pytest.raises(AttnLabError, match=r"bool_to_additive expects a bool mask, got dtype torch.float32"):
        bool_to_additive(torch.zeros(2))
    with pytest.raises(AttnLabError, match=r"additive_to_bool expects a float mask, got dtype torch.bool"):
        additive_to_bool(allowed)


def test_key_padding_to_mask_broadcasts_over_heads_and_queries():
    ignore = torch.tensor([[False, False, True], [False, True, True]])  # nn.MultiheadAttention: True = ignore
    mask = key_padding_to_mask(ignore)
    assert mask.shape == (2, 1, 1, 3)
    assert torch.equal(mask[:, 0, 0], padding_mask([2, 1], max_len=3))
    with pytest.raises(AttnLabError, match=r"key_padding_mask must be \(N, S\), got shape \(3,\)"):
        key_padding_to_mask(torch.zeros(3, dtype=torch.bool))


def test_combine_masks_bool_and_mixed_agree_in_attention():
    causal = causal_mask(5)
    pad = padding_mask([5, 3])[:, None, None, :]  # (2, 1, 1, 5)
    both = combine_masks(causal, pad)
    assert both.dtype == torch.bool and both.shape == (2, 1, 5, 5)
    assert torch.equal(both, causal & pad)
    mixed = combine_masks(bool_to_additive(causal, torch.float64), pad)
    assert mixed.dtype == torch.float64
    q, k, v = (randn(2, 2, 5, 4, seed=s, dtype=torch.float64, device="cpu") for s in range(3))
    torch.testing.assert_close(
        scaled_dot_product_attention(q, k, v, mixed), scaled_dot_product_attention(q, k, v, both)
    )
    assert combine_masks(None, None) is None
    assert combine_masks(None, causal) is causal
