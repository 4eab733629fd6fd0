"""attnlab.cost: the counts against PyTorch's own counter, and errors that say what was wrong."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import attnlab
from attnlab import AttnLabError
from attnlab.cost import attention_flops, attention_traffic, count_flops, scores_bytes


@pytest.mark.parametrize("impl", ["manual", "tiled"])
@pytest.mark.parametrize(("B", "H", "L", "S", "E", "Ev"), [(1, 1, 5, 7, 8, 8), (2, 3, 16, 40, 8, 4)])
def test_attention_flops_is_what_the_counter_sees(impl, B, H, L, S, E, Ev):
    q, k, v = torch.randn(B, H, L, E), torch.randn(B, H, S, E), torch.randn(B, H, S, Ev)
    counted = count_flops(attnlab.scaled_dot_product_attention, q, k, v, impl=impl, block_size=16)
    assert counted == {"aten.bmm": attention_flops(B, H, L, S, E, Ev), "total": attention_flops(B, H, L, S, E, Ev)}
    assert attention_flops(B, H, L, S, E) == 4 * B * H * L * S * E


def test_count_flops_works_on_meta_tensors_and_names_operators():
    with torch.device("meta"):
        counted = count_flops(nn.Linear(8, 16), torch.empty(10, 8))
    assert counted == {"aten.addmm": 2 * 10 * 8 * 16, "total": 2 * 10 * 8 * 16}


@pytest.mark.parametrize(("dtype", "size"), [(torch.float32, 4), (torch.float16, 2), (torch.float64, 8)])
def test_scores_bytes(dtype, size):
    assert scores_bytes(1, 12, 4096, 4096, dtype) == size * 12 * 4096 * 4096
    assert scores_bytes(2, 3, 5, 7) == 4 * 2 * 3 * 5 * 7


def test_traffic_of_the_explicit_path_grows_with_n_squared_and_the_fused_one_does_not():
    manual = attention_traffic(1, 1, 10, 20, 8, impl="manual")
    assert manual == 4 * (2 * 10 * 8 + 2 * 20 * 8 + 4 * 10 * 20)
    assert attention_traffic(1, 1, 10, 20, 8, impl="tiled", query_block=4) == 4 * (2 * 10 * 8 + 2 * 20 * 8 * 3)
    # Fused: k and v are read once per block of queries, so its traffic is n² too, but smaller by about
    # 2·query_block / E (here 8) once n is large; the ratio climbs towards that and stays below it.
    ratios = [
        attention_traffic(1, 1, n, n, 64, impl="manual") / attention_traffic(1, 1, n, n, 64, impl="sdpa")
        for n in (256, 1024, 4096, 65536)
    ]
    assert ratios == sorted(ratios) and 7.9 < ratios[-1] < 8 and ratios[0] == 5


def test_bad_input_says_what_was_expected():
    with pytest.raises(AttnLabError, match=r"L must be a positive int, got 0"):
        attention_flops(1, 1, 0, 4, 8)
    with pytest.raises(AttnLabError, match=r"H must be a positive int, got 1.5"):
        scores_bytes(1, 1.5, 4, 4)
    with pytest.raises(AttnLabError, match=r"unknown impl 'flash'; expected 'manual' or one of"):
        attention_traffic(1, 1, 4, 4, 8, impl="flash")
