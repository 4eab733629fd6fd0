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
    assert copying.weight_on(maps, -2) == 1.0 and copying.weight_on(maps, +1) == 0.0
    maps[:, 2:] = 0.5 * maps[:, 2:] + 0.5 / LEN  # half on t - 2, half spread over all 12 keys
    assert copying.weight_on(maps, -2) == pytest.approx(0.5 + 0.5 / LEN)
    assert copying.alignment(maps, -2) == 1.0
    with pytest.raises(AttnLabError, match=r"expected maps of shape \(B, 12, 12\), got \(12, 12\)"):
        copying.alignment(maps[0], -2)
    with pytest.raises(AttnLabError, match="offset 12 leaves no key"):
        copying.alignment(maps, 12)
    with pytest.raises(AttnLabError, match="offset -12 leaves no key"):
        copying.weight_on(maps, -12)
    with pytest.raises(AttnLabError, match=r"expected maps of shape \(B, 12, 12\), got \(3, 12, 5\)"):
        copying.weight_on(maps[..., :5], -2)


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


@pytest.mark.parametrize("causal", [True, False])
def test_mixing_head_shapes_and_fixed_maps(causal):
    x = copying.held_out(4)
    model = copying.MixingHead(causal=causal)
    torch.nn.init.normal_(model.mix.logits)  # rows that are not uniform
    assert model(x).shape == (4, LEN, V)
    weights = model.weights()
    assert weights.shape == (LEN, LEN)
    torch.testing.assert_close(weights.sum(-1), torch.ones(LEN))
    accuracy, maps = copying.evaluate(model, copying.next_token, x)
    assert 0.0 <= accuracy <= 1.0 and maps.shape == (4, LEN, LEN)
    assert all(torch.equal(m, weights.detach()) for m in maps)  # the same map for every sequence
    above = ~causal_mask(LEN)  # (L, S): the keys later than the query
    if causal:
        assert (weights[above] == 0).all() and (maps.triu(1) == 0).all()  # never looks ahead
    else:
        assert (weights[above] > 0).all()
    assert 0.0 <= copying.alignment(maps, -2) <= 1.0


def test_causal_mixing_head_ignores_later_tokens():
    model = copying.MixingHead(causal=True)
    torch.nn.init.normal_(model.mix.logits)
    x = copying.held_out(2)
    changed = x.clone()
    changed[:, 6] = (changed[:, 6] + 1) % V  # a different token at position 6
    with torch.no_grad():
        assert torch.equal(model(x)[:, :6], model(changed)[:, :6])  # bit for bit before 6
        assert not torch.allclose(model(x)[:, 6:], model(changed)[:, 6:])


def test_mixing_head_errors():
    model = copying.MixingHead(causal=True)
    fixed = r"MixingHead takes no mask: .* \(causal=True\), got a mask of shape \(12, 12\)"
    with pytest.raises(AttnLabError, match=fixed):
        model(copying.held_out(2), mask=causal_mask(LEN))
    with pytest.raises(AttnLabError, match="MixingHead takes no mask"):
        copying.target_probability(model, copying.next_token, copying.held_out(2), copying.mask_kind("causal"))
    with pytest.raises(AttnLabError, match=r"expected tokens of shape \(B, 12\), got \(2, 5\)"):
        model(copying.held_out(2)[:, :5])
    p = copying.target_probability(model, copying.next_token, copying.held_out(2))  # its own weights
    assert p.shape == (LEN,) and p[-1].isnan()


def test_mixing_training_is_seeded():
    a, b = (copying.train(copying.copy_two_back, causal=True, steps=3, seed=0, mixing=True) for _ in range(2))
    assert isinstance(a, copying.MixingHead) and a.causal and not a.training
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    c = copying.train(copying.copy_two_back, causal=True, steps=3, seed=1, mixing=True)
    assert not torch.equal(a.mix.logits, c.mix.logits)
    assert not torch.equal(a.mix.logits, torch.zeros(LEN, LEN))  # training moved the matrix
    assert isinstance(copying.train(copying.next_token, causal=False, steps=0), copying.OneHead)
