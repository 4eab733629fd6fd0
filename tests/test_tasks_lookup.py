"""Chapter 1's lookup task: the data says where to look, the model's shapes, seeded training."""

from __future__ import annotations

import pytest
import torch

from attnlab import AttnLabError
from attnlab.tasks import lookup


def test_a_batch_is_consistent():
    (letters, digits, asked), targets, right = lookup.lookup_batch(64, torch.Generator().manual_seed(0))
    n = lookup.N_PAIRS
    assert letters.shape == digits.shape == asked.shape == (64, n)
    assert targets.shape == right.shape == (64, lookup.L_TASK)
    assert all(len(set(row)) == n for row in letters.tolist())  # six different letters
    assert letters.max() < lookup.LETTERS and digits.max() < lookup.DIGITS
    assert torch.equal(right[:, :n], torch.arange(n).expand(64, -1))  # keys look at themselves
    assert torch.equal(letters.gather(1, right[:, n:]), asked)  # queries at the key with their letter
    assert torch.equal(targets[:, :n], digits)
    assert torch.equal(targets[:, n:], digits.gather(1, right[:, n:]))  # the digit under that key
    assert torch.equal(targets.gather(1, right), targets)  # looking where `right` says gives the answer


def test_batches_are_seeded():
    one, two = (lookup.lookup_batch(3, torch.Generator().manual_seed(5)) for _ in range(2))
    assert all(torch.equal(a, b) for a, b in zip((*one[0], *one[1:]), (*two[0], *two[1:]), strict=True))


def test_model_shapes_and_labels():
    tokens, _, _ = lookup.lookup_batch(2, torch.Generator().manual_seed(0))
    logits, weights = lookup.Lookup()(tokens)
    assert logits.shape == (2, 12, lookup.DIGITS) and weights.shape == (2, 12, 12)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 12))
    names = lookup.labels(tokens, 1)
    assert len(names) == 12 and names[0][1] == ":" and names[6].startswith("?")


def test_errors_name_the_bad_values():
    with pytest.raises(AttnLabError, match="need n > 0 sequences, got n=-1"):
        lookup.lookup_batch(-1, torch.Generator())
    bad = tuple(torch.zeros(2, n, dtype=torch.long) for n in (6, 5, 6))
    with pytest.raises(AttnLabError, match=r"must all be \(B, 6\), got \(2, 6\), \(2, 5\) and \(2, 6\)"):
        lookup.Lookup()(bad)


def test_training_is_seeded_and_evaluate_measures_shares():
    a, b = lookup.train(steps=3, seed=0), lookup.train(steps=3, seed=0)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    assert not torch.equal(a.read_out.weight, lookup.train(steps=3, seed=1).read_out.weight)
    scores = lookup.evaluate(a, n=20)
    assert isinstance(scores, lookup.Scores) and all(0.0 <= s <= 1.0 for s in scores)
