"""attnlab.attention_rollout against its definition (Abnar and Zuidema, 2020)."""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

import attnlab
from attnlab import AttnLabError, attention_rollout


def random_maps(layers: int, b: int = 2, h: int = 3, n: int = 5, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, h, n, n, generator=g, dtype=torch.float64).softmax(-1) for _ in range(layers)]


def by_definition(maps: list[torch.Tensor]) -> torch.Tensor:
    """A′ = rows-renormalised ½·mean_h A + ½·I, then A′_L ⋯ A′_1, one matrix at a time."""
    b, _, n, _ = maps[0].shape
    out = torch.empty(b, n, n, dtype=maps[0].dtype)
    for i in range(b):
        product = torch.eye(n, dtype=maps[0].dtype)
        for a in maps:
            layer = 0.5 * a[i].mean(0) + 0.5 * torch.eye(n, dtype=a.dtype)
            layer = layer / layer.sum(-1, keepdim=True)
            product = layer @ product
        out[i] = product
    return out


@pytest.mark.parametrize("layers", [1, 2, 4])
def test_rollout_equals_the_definition(layers):
    maps = random_maps(layers)
    flow = attention_rollout(maps)
    assert flow.shape == (2, 5, 5)
    assert_close(flow, by_definition(maps))
    assert_close(flow.sum(-1), torch.ones(2, 5, dtype=torch.float64))


def test_one_layer_is_half_the_head_mean_plus_half_identity():
    (a,) = random_maps(1)
    assert_close(attention_rollout([a]), 0.5 * a.mean(1) + 0.5 * torch.eye(5, dtype=a.dtype))


def test_the_first_layer_goes_on_the_right():
    maps = random_maps(2, seed=3)
    forward, backward = attention_rollout(maps), attention_rollout(maps[::-1])
    assert not torch.allclose(forward, backward)  # the products do not commute
    a1, a2 = (0.5 * m.mean(1) + 0.5 * torch.eye(5, dtype=m.dtype) for m in maps)
    assert_close(forward, a2 @ a1)


def test_renormalises_rows_that_do_not_sum_to_one():
    a = torch.rand(1, 2, 4, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)  # rows ≠ 1
    assert_close(attention_rollout([a]), by_definition([a]))


def test_identity_maps_roll_out_to_the_identity():
    eye = torch.eye(6).expand(3, 2, 6, 6)
    assert_close(attention_rollout([eye, eye, eye]), torch.eye(6).expand(3, 6, 6))


def test_reads_captured_maps_of_a_two_block_vit():
    torch.manual_seed(0)
    vit = attnlab.VisionTransformer(input_resolution=8, patch_size=2, width=16, layers=2, heads=2, output_dim=3)
    with torch.no_grad(), attnlab.capture_attention(vit) as maps:
        vit(torch.rand(2, 3, 8, 8))
    layers = [maps[f"transformer.resblocks.{i}.attn"] for i in range(2)]
    flow = attention_rollout(layers)
    assert flow.shape == (2, 17, 17)
    assert_close(flow, by_definition([m.double() for m in layers]).float())


@pytest.mark.parametrize(
    ("maps", "words"),
    [
        ([], "at least one layer"),
        ([torch.rand(2, 5, 5)], "(B, H, L, L)"),
        ([torch.rand(1, 2, 4, 5)], "(1, 2, 4, 5)"),
        ([torch.rand(1, 2, 4, 4), torch.rand(1, 2, 5, 5)], "layer 1 is (1, 2, 5, 5)"),
        ([torch.rand(1, 2, 4, 4), torch.rand(2, 2, 4, 4)], "same batch"),
        (["not a tensor"], "str"),
    ],
)
def test_bad_maps_raise_a_clear_error(maps, words):
    with pytest.raises(AttnLabError, match=None) as err:
        attention_rollout(maps)
    assert words in str(err.value)
    assert isinstance(err.value, ValueError)
