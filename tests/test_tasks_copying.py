"""Chapter 3's copying tasks: targets, masks, the one-head model, alignment, seeded training."""

from __future__ import annotations

import pytest
import torch

from attnlab import AttnLabError, causal_mask
from attnlab.tasks import copying
from attnlab.tasks.copying import LEN, UNDEFINED, V


def test_tokens_and_targets():
    x = copying.random_tokens(50, torch.Generator().manual_seed(0))
    assert x.shape == (50, LEN) and x.min() >= 0 and x.max() < V
    back, ahead = copying.copy_two_back(x), copying.next_token(x)
    assert (back[:, :2] == UNDEFINED).all() and torch.equal(back[:, 2:], x[:, :-2])
    assert (ahead[:, -1] == UNDEFINED).all() and torch.equal(ahead[:, :-1], x[:, 1:])
    assert torch.equal(copying.held_out(5), copying.held_out(5))
    assert not torch.equal(copying.held_out(5), copying.held_out(5, seed=2))


def test_mask_kinds():
    assert copying.mask_kind("no mask") is None
    assert torch.equal(copying.mask_kind("causal"), causal_mask(LEN))
    padding = copying.mask_kind("padding", 8)
    assert padding.shape == (LEN, LEN) and padding[:, :8].all() and not padding[:, 8:].any()
    assert torch.equal(copying.mask_kind("causal + padding", 8), causal_mask(LEN) & padding)
    with pytest.raises(AttnLabError, match="unknown mask kind 'sliding'"):
        copying.mask_kind("sliding")
    with pytest.raises(AttnLabError, match="must be from 1 to 12, got 0"):
        copying.mask_kind("padding", 0)


def test_alignment_of_an_exact_map():
    maps = torch.zeros(3, LEN, LEN)
    maps[:, torch.arange(2, LEN), torch.arange(LEN - 2)] = 1.0  # every row t >= 2 on key t - 2
    assert copying.alignment(maps, -2) == 1.0
    assert copying.alignment(maps, +1) == 0.0
    with pytest.raises(AttnLabError, match=r"expected maps of shape \(B, 12, 12\), got \(12, 12\)"):
        copying.alignment(maps[0], -2)
    with pytest.raises(AttnLabError, match="offset 12 leaves no key"):
        copying.alignment(maps, 12)


def test_one_head_respects_its_mask_and_shapes():
    x = copying.held_out(4)
    causal, open_ = copying.OneHead(causal=True), copying.OneHead(causal=False)
    assert causal(x).shape == (4, LEN, V)
    _, maps = copying.evaluate(causal, copying.copy_two_back, x)
    assert maps.shape == (4, LEN, LEN) and (maps.triu(1) == 0).all()
    _, maps = copying.evaluate(open_, copying.next_token, x)
    assert (maps[:, ~causal_mask(LEN)] > 0).all()  # no mask: weight on later keys too
    p = copying.target_probability(open_, copying.next_token, x, copying.mask_kind("causal"))
    assert p.shape == (LEN,) and p[-1].isnan() and ((p[:-1] > 0) & (p[:-1] < 1)).all()
    with pytest.raises(AttnLabError, match=r"expected tokens of shape \(B, 12\), got \(4, 5\)"):
        causal(x[:, :5])
    with pytest.raises(AttnLabError, match="need n > 0 sequences, got n=0"):
        copying.random_tokens(0, torch.Generator())


def test_training_is_seeded():
    a, b = (copying.train(copying.next_token, causal=False, steps=3, seed=0) for _ in range(2))
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    c = copying.train(copying.next_token, causal=False, steps=3, seed=1)
    assert not torch.equal(a.out.weight, c.out.weight) and not a.training
    accuracy, _ = copying.evaluate(a, copying.next_token, copying.held_out(10))
    assert 0.0 <= accuracy <= 1.0
