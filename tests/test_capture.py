"""capture_attention sees every map and changes no output."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from attnlab import IMPLS, MultiHeadAttention, _recording, capture_attention, causal_mask, to_mha_mask

from .conftest import random_bool


class TwoKinds(nn.Module):
    """attnlab's attention and PyTorch's side by side, at different depths, with masks."""

    def __init__(self, impl: str = "manual") -> None:
        super().__init__()
        self.encoder = nn.ModuleDict(
            {"self_attn": MultiHeadAttention(16, 4, batch_first=True, impl=impl), "norm": nn.LayerNorm(16)}
        )
        self.cross = nn.MultiheadAttention(16, 2, kdim=8, vdim=8)  # (L, N, D) layout
        self.decoder = nn.Sequential(nn.MultiheadAttention(16, 8, batch_first=True))

    def forward(self, x: torch.Tensor, memory: torch.Tensor, ignore: torch.Tensor) -> torch.Tensor:
        x = self.encoder["norm"](x + self.encoder["self_attn"](x, x, x, need_weights=False)[0])
        y = self.cross(x.transpose(0, 1), memory.transpose(0, 1), memory.transpose(0, 1), ignore, False)[0]
        x = x + y.transpose(0, 1)
        blocked = to_mha_mask(causal_mask(x.shape[1]))
        return x + self.decoder[0](x, x, x, attn_mask=blocked, need_weights=False)[0]


def data(seed=0):
    g = torch.Generator().manual_seed(seed)
    x, memory = torch.randn(2, 5, 16, generator=g), torch.randn(2, 9, 8, generator=g)
    ignore = ~random_bool(2, 9, seed=seed)
    ignore[:, 0] = False
    return x, memory, ignore


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("training", [False, True])
def test_every_map_is_captured_and_no_output_changes(impl, training):
    torch.manual_seed(0)
    model = TwoKinds(impl).train(training)
    x, memory, ignore = data()
    before = model(x, memory, ignore)
    with capture_attention(model) as maps:
        during = model(x, memory, ignore)
    assert torch.equal(before, during)
    assert set(maps) == {"encoder.self_attn", "cross", "decoder.0"}
    assert maps["encoder.self_attn"].shape == (2, 4, 5, 5)
    assert maps["cross"].shape == (2, 2, 5, 9)
    assert maps["decoder.0"].shape == (2, 8, 5, 5)
    assert not any(w.requires_grad for w in maps.values())


def test_captured_maps_are_each_modules_own_per_head_weights():
    torch.manual_seed(0)
    model = TwoKinds().eval()
    x, memory, ignore = data()
    with capture_attention(model) as maps:
        model(x, memory, ignore)
    attn = model.encoder["self_attn"]
    torch.testing.assert_close(maps["encoder.self_attn"], attn(x, x, x, average_attn_weights=False)[1])
    h = model.encoder["norm"](x + attn(x, x, x)[0]).transpose(0, 1)
    m = memory.transpose(0, 1)
    want = model.cross(h, m, m, key_padding_mask=ignore, average_attn_weights=False)[1]
    torch.testing.assert_close(maps["cross"], want)
    assert torch.equal(maps["cross"][ignore[:, None, None, :].expand_as(want)], torch.zeros(int(ignore.sum()) * 2 * 5))
    future = ~causal_mask(5)
    assert (maps["decoder.0"][..., future] == 0).all()  # the decoder's causal mask was honoured
    rows = maps["decoder.0"].sum(-1)
    torch.testing.assert_close(rows, torch.ones_like(rows))


def test_hooks_are_gone_after_the_block_even_after_an_error():
    model = TwoKinds()
    x, memory, ignore = data()
    with pytest.raises(RuntimeError, match="inside"), capture_attention(model) as maps:
        model(x, memory, ignore)
        raise RuntimeError("inside")
    assert maps and not _recording._RECORDERS
    assert not model.cross._forward_hooks and not model.decoder[0]._forward_hooks
    with capture_attention(model) as later:
        pass
    model(x, memory, ignore)
    assert later == {}


def test_root_module_unbatched_input_and_nested_captures():
    mha = MultiHeadAttention(8, 2)
    x = torch.randn(6, 8)  # unbatched (L, D)
    with capture_attention(mha) as outer, capture_attention(mha) as inner:
        mha(x, x, x)
    assert outer[""].shape == inner[""].shape == (1, 2, 6, 6)
    torch.testing.assert_close(outer[""][0], mha(x, x, x, average_attn_weights=False)[1])


def test_last_call_wins():
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    a, b = torch.randn(1, 3, 8), torch.randn(1, 4, 8)
    with capture_attention(mha) as maps:
        mha(a, a, a)
        mha(b, b, b)
    assert maps[""].shape == (1, 2, 4, 4)
