"""Chapter 2's neighbour task: the data, the model's shapes, the head analysis, ablation and errors."""

from __future__ import annotations

import pytest
import torch

from attnlab import AttnLabError
from attnlab.tasks.neighbours import (
    LETTERS,
    N_POS,
    RELATIONS,
    Neighbours,
    ablated,
    ablation_table,
    accuracy,
    head_alignment,
    head_maps,
    letter_sequences,
    serving_heads,
    train_neighbours,
)


def test_relations_are_the_ring_neighbours():
    assert RELATIONS["left"].tolist() == [7, 0, 1, 2, 3, 4, 5, 6]
    assert RELATIONS["right"].tolist() == [1, 2, 3, 4, 5, 6, 7, 0]


def test_letter_sequences_shape_range_and_seed():
    x = letter_sequences(30, torch.Generator().manual_seed(0))
    assert x.shape == (30, N_POS) and x.min() >= 0 and x.max() < len(LETTERS)
    assert torch.equal(x, letter_sequences(30, torch.Generator().manual_seed(0)))
    with pytest.raises(AttnLabError, match="need n > 0 sequences, got n=-1"):
        letter_sequences(-1, torch.Generator())


def test_model_shapes_and_maps():
    torch.manual_seed(0)
    model = Neighbours(heads=2)
    x = letter_sequences(3, torch.Generator().manual_seed(0))
    logits = model(x)
    assert set(logits) == set(RELATIONS) and all(v.shape == (3, N_POS, len(LETTERS)) for v in logits.values())
    maps = head_maps(model, x)
    assert maps.shape == (3, 2, N_POS, N_POS)
    looks = head_alignment(model, x)
    assert set(looks) == set(RELATIONS) and all(len(v) == 2 for v in looks.values())


def test_errors_name_the_bad_values():
    with pytest.raises(AttnLabError, match="width d=32 must split into heads=3 equal heads"):
        Neighbours(heads=3)
    model = Neighbours()
    with pytest.raises(AttnLabError, match=r"x must be \(B, 8\) letter indices, got shape \(2, 5\)"):
        model(torch.zeros(2, 5, dtype=torch.long))
    with pytest.raises(AttnLabError, match="head 2 out of range for 2 heads"), ablated(model.attn, 2):
        pass


def test_serving_heads_picks_the_head_that_looks_most():
    assert serving_heads({"left": [0.1, 0.9], "right": [0.8, 0.2]}) == {"left": 1, "right": 0}


def test_ablating_a_head_removes_exactly_its_term():
    torch.manual_seed(0)
    model = Neighbours(heads=2).eval()
    x = letter_sequences(4, torch.Generator().manual_seed(1))
    h = model.embed(x)
    full = model.attn(h, h, h, need_weights=False)[0]
    with ablated(model.attn, 1):
        without_1 = model.attn(h, h, h, need_weights=False)[0]
    with ablated(model.attn, 0):
        without_0 = model.attn(h, h, h, need_weights=False)[0]
    bias = model.attn.out_proj.bias
    torch.testing.assert_close(without_0 + without_1 - bias, full)  # the output is a sum over heads
    torch.testing.assert_close(model.attn(h, h, h, need_weights=False)[0], full)  # the hook is gone
    table = ablation_table(model, x)
    assert list(table) == ["none", "head 0", "head 1"] and table["none"] == accuracy(model, x)


def test_training_is_seeded():
    x = letter_sequences(16, torch.Generator().manual_seed(1))
    a, b = train_neighbours(5, seed=2), train_neighbours(5, seed=2)
    assert torch.equal(head_maps(a, x), head_maps(b, x))
    assert not torch.equal(head_maps(a, x), head_maps(train_neighbours(5, seed=3), x))
    one = train_neighbours(0, seed=0, heads=1)
    assert one.attn.num_heads == 1 and not one.training


def test_the_mixing_baseline_has_one_fixed_map_per_head():
    from attnlab.tasks.neighbours import MixingNeighbours

    torch.manual_seed(0)
    baseline = MixingNeighbours(heads=2)
    x = letter_sequences(3, torch.Generator().manual_seed(0))
    logits = baseline(x)
    assert set(logits) == set(RELATIONS) and all(v.shape == (3, N_POS, len(LETTERS)) for v in logits.values())
    maps = head_maps(baseline, x)
    assert maps.shape == (3, 2, N_POS, N_POS) and torch.equal(maps[0], maps[2])  # the same for every input
    torch.testing.assert_close(maps.sum(-1), torch.ones(3, 2, N_POS))
    assert not hasattr(baseline, "pos")  # no position vectors: the matrices know the positions
    a, b = train_neighbours(3, seed=0, mixing=True), train_neighbours(3, seed=0, mixing=True)
    assert isinstance(a, MixingNeighbours) and torch.equal(a.mix[0].logits, b.mix[0].logits)
    assert set(accuracy(a, x)) == set(RELATIONS)
    with pytest.raises(AttnLabError, match=r"x must be \(B, 8\) letter indices, got shape \(2, 5\)"):
        baseline(torch.zeros(2, 5, dtype=torch.long))
    with pytest.raises(AttnLabError, match="need d > 0 and heads > 0, got d=32, heads=0"):
        MixingNeighbours(heads=0)
