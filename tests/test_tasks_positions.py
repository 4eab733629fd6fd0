"""attnlab.tasks.positions and attnlab.models.mixing: the copy-two-back task, its models, the baseline."""

from __future__ import annotations

import math

import pytest
import torch

from attnlab import AttnLabError
from attnlab.models.mixing import FixedMixing
from attnlab.tasks import positions


def test_copy_batch_targets_are_the_tokens_two_back():
    tokens, targets = positions.copy_batch(5, 10, torch.Generator().manual_seed(0))
    assert tokens.shape == targets.shape == (5, 10)
    assert (targets[:, :2] == -100).all()
    assert torch.equal(targets[:, 2:], tokens[:, :-2])
    assert all(len(set(row.tolist())) == 10 for row in tokens)  # distinct tokens in each sequence
    assert int(tokens.max()) < positions.VOCAB


def test_copy_batch_is_seeded():
    a = positions.copy_batch(4, 16, torch.Generator().manual_seed(1))
    b = positions.copy_batch(4, 16, torch.Generator().manual_seed(1))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("encoding", positions.ENCODINGS)
@pytest.mark.parametrize("length", [positions.L_TRAIN, positions.L_TEST, 5])
def test_model_shapes(encoding, length):
    torch.manual_seed(0)
    model = positions.CopyBack(encoding)
    tokens, _ = positions.copy_batch(3, length, torch.Generator().manual_seed(0))
    logits, weights = model(tokens)
    assert logits.shape == (3, length, positions.VOCAB) and weights.shape == (3, length, length)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, length))


def test_no_positions_is_permutation_equivariant_and_positions_are_not():
    perm = torch.randperm(positions.L_TRAIN, generator=torch.Generator().manual_seed(3))
    gaps = {}
    for encoding in positions.ENCODINGS:
        torch.manual_seed(0)
        gaps[encoding] = positions.permutation_gap(positions.CopyBack(encoding), perm)
    assert gaps["none"] < 1e-5
    assert all(gaps[e] > 1e-3 for e in ("learned", "sinusoidal", "rotary"))
    assert gaps["mixing"] < 1e-5  # its rows start uniform: a mean over the sequence, blind to order


def test_training_is_deterministic_for_a_seed_and_learns_quickly():
    a = positions.train("learned", steps=3, seed=5)
    b = positions.train("learned", steps=3, seed=5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not a.training
    scores = positions.evaluate(a, n=20)
    assert 0 <= scores.accuracy <= 1 and 0 <= scores.looks_back <= 1 and math.isnan(scores.beyond)
    long = positions.evaluate(a, length=positions.L_TEST, n=20)
    assert 0 <= long.beyond <= 1


def test_accuracy_by_position():
    torch.manual_seed(0)
    acc = positions.accuracy_by_position(positions.CopyBack("rotary"), length=12, n=10)
    assert acc.shape == (12,) and acc[:2].isnan().all() and ((acc[2:] >= 0) & (acc[2:] <= 1)).all()


def test_errors():
    with pytest.raises(AttnLabError, match="unknown encoding 'alibi'; expected one of none, learned"):
        positions.CopyBack("alibi")
    with pytest.raises(AttnLabError, match="need an even d > 0"):
        positions.CopyBack("rotary", d=7)
    with pytest.raises(AttnLabError, match="need n > 0 sequences, got n=0"):
        positions.copy_batch(0, 8, torch.Generator())
    with pytest.raises(AttnLabError, match=r"length must be in 3 … 40 .* got 41"):
        positions.copy_batch(2, 41, torch.Generator())
    model = positions.CopyBack("learned", max_len=8)
    with pytest.raises(AttnLabError, match="sequence length 10 > max_len=8: a learned table has no vector"):
        model(torch.zeros(1, 10, dtype=torch.long))
    with pytest.raises(AttnLabError, match=r"x must be \(B, L\) token indices, got shape \(10,\)"):
        model(torch.zeros(10, dtype=torch.long))
    with pytest.raises(AttnLabError, match="perm must be a permutation of 0 … 15"):
        positions.permutation_gap(model, torch.zeros(16, dtype=torch.long))


# FixedMixing, the baseline with no queries or keys.


def test_fixed_mixing_starts_uniform_and_ignores_the_content():
    torch.manual_seed(0)
    mix = FixedMixing(8, 10)
    x = torch.randn(2, 6, 8)
    z, w = mix(x)
    assert z.shape == (2, 6, 8) and w.shape == (6, 6)
    torch.testing.assert_close(w, torch.full((6, 6), 1 / 6))
    torch.testing.assert_close(z, mix.W_V(x).mean(1, keepdim=True).expand(-1, 6, -1))
    with torch.no_grad():
        mix.logits.normal_()
    assert torch.equal(mix(x)[1], mix(torch.randn(2, 6, 8))[1])  # the same weights for any input


def test_fixed_mixing_causal_and_without_value():
    torch.manual_seed(0)
    mix = FixedMixing(4, 5, causal=True, value=False)
    with torch.no_grad():
        mix.logits.normal_()
    x = torch.randn(3, 5, 4)
    z, w = mix(x)
    assert (w.triu(1) == 0).all() and w[0, 0] == 1
    torch.testing.assert_close(w.sum(-1), torch.ones(5))
    torch.testing.assert_close(z, w @ x)
    assert "causal=True" in repr(mix)


def test_fixed_mixing_learns_a_shift():
    torch.manual_seed(0)
    mix = FixedMixing(4, 6, value=False)
    opt = torch.optim.Adam(mix.parameters(), lr=0.3)
    x = torch.randn(16, 6, 4)
    target = torch.roll(x, 1, dims=1)  # row i reads row i − 1 (a ring)
    for _ in range(30):
        opt.zero_grad()
        loss = ((mix(x)[0] - target) ** 2).mean()
        loss.backward()
        opt.step()
    assert (mix.weights(6).argmax(-1) == (torch.arange(6) - 1) % 6).all()


def test_fixed_mixing_errors():
    with pytest.raises(AttnLabError, match="need d > 0 and max_len > 0, got d=0, max_len=4"):
        FixedMixing(0, 4)
    mix = FixedMixing(4, 5)
    with pytest.raises(AttnLabError, match="sequence length 6 is outside 1 … max_len=5"):
        mix(torch.randn(1, 6, 4))
    with pytest.raises(AttnLabError, match=r"x must be \(B, L, 4\), got shape \(1, 3, 5\)"):
        mix(torch.randn(1, 3, 5))
