"""split_heads and merge_heads: the one way attnlab splits a width into heads, as nn.MultiheadAttention does."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from attnlab import AttnLabError, MultiHeadAttention, merge_heads, split_heads

from .conftest import randn


def test_head_h_holds_features_h_E_to_h_plus_1_E():
    x = torch.arange(2 * 3 * 12.0).view(2, 3, 12)  # (B, L, D)
    z = split_heads(x, 4)
    assert z.shape == (2, 4, 3, 3)
    for h in range(4):
        assert torch.equal(z[:, h], x[..., 3 * h : 3 * (h + 1)])


@pytest.mark.parametrize("shape", [(5, 8), (2, 5, 8), (2, 3, 5, 8)])
def test_merge_undoes_split_for_any_batch_shape(shape):
    x = randn(*shape, seed=0, dtype=torch.float32, device="cpu")
    z = split_heads(x, 2)
    assert z.shape == (*shape[:-2], 2, shape[-2], 4)
    assert torch.equal(merge_heads(z), x)


def test_the_split_is_nn_multihead_attentions():
    """Per-head weights computed from split_heads equal the ones nn.MultiheadAttention returns."""
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(12, 3, batch_first=True)
    x = randn(2, 5, 12, seed=1, dtype=torch.float32, device="cpu")
    q, k, _ = (x @ w.T + b for w, b in zip(mha.in_proj_weight.chunk(3), mha.in_proj_bias.chunk(3), strict=True))
    qh, kh = split_heads(q, 3), split_heads(k, 3)
    ours = torch.softmax(qh @ kh.transpose(-2, -1) / 4**0.5, dim=-1)
    torch.testing.assert_close(ours, mha(x, x, x, average_attn_weights=False)[1])
    mine = MultiHeadAttention(12, 3, batch_first=True)
    mine.load_state_dict(mha.state_dict())
    torch.testing.assert_close(mine(x, x, x)[0], mha(x, x, x)[0])


def test_bad_input_is_named():
    with pytest.raises(AttnLabError, match=r"width 10 is not divisible into 3 heads \(x: \(2, 5, 10\)\)"):
        split_heads(torch.zeros(2, 5, 10), 3)
    with pytest.raises(AttnLabError, match=r"x must be \(\.\.\., L, D\), got \(4,\)"):
        split_heads(torch.zeros(4), 2)
    with pytest.raises(AttnLabError, match=r"z must be \(\.\.\., H, L, E\), got \(4, 2\)"):
        merge_heads(torch.zeros(4, 2))
