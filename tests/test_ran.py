"""The Residual Attention Network's module: its equations, shapes and mask."""

from __future__ import annotations

import pytest
import torch

from attnlab import AttnLabError, ResidualAttentionModule, ResidualUnit


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("size", [16, 13])
def test_mask_is_in_unit_interval_at_the_feature_size(depth, size):
    module = ResidualAttentionModule(8, depth=depth).eval()
    x = torch.randn(2, 8, size, size)
    out, mask = module(x, return_mask=True)
    assert out.shape == mask.shape == x.shape
    assert (mask >= 0).all() and (mask <= 1).all()
    assert torch.equal(out, module(x))


@pytest.mark.parametrize("residual", [True, False])
def test_output_is_one_plus_mask_times_trunk_or_the_naive_product(residual):
    torch.manual_seed(0)
    module = ResidualAttentionModule(8, depth=2, residual=residual).eval()
    x = torch.randn(2, 8, 12, 12)
    h = module.pre(x)
    trunk, mask = module.trunk(h), module.soft_mask(h)
    expected = module.post((1 + mask) * trunk if residual else mask * trunk)
    torch.testing.assert_close(module(x), expected)


def test_a_zero_mask_passes_the_trunk_and_gradients_flow():
    module = ResidualAttentionModule(8).eval()
    with torch.no_grad():
        module.mask_head[-2].weight.zero_()
        module.mask_head[-2].bias.fill_(-50.0)  # sigmoid → 0
    x = torch.randn(1, 8, 8, 8, requires_grad=True)
    out, mask = module(x, return_mask=True)
    assert mask.max() < 1e-12
    torch.testing.assert_close(out, module.post(module.trunk(module.pre(x))))
    out.sum().backward()
    assert x.grad.abs().sum() > 0


def test_residual_unit_shapes_and_errors():
    assert ResidualUnit(8, 16, stride=2)(torch.randn(1, 8, 10, 10)).shape == (1, 16, 5, 5)
    with pytest.raises(AttnLabError, match=r"expected feature maps \(N, 8, H, W\), got \(1, 4, 8, 8\)"):
        ResidualAttentionModule(8)(torch.randn(1, 4, 8, 8))
    with pytest.raises(AttnLabError, match=r"channels and depth must be >= 1, got 8 and 0"):
        ResidualAttentionModule(8, depth=0)
