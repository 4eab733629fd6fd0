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
    assert torch.equal(right[:, :n], torch.arange(n).expand(64, -1))  # cards look at themselves
    assert torch.equal(letters.gather(1, right[:, n:]), asked)  # questions at the card with their letter
    assert torch.equal(targets[:, :n], digits)
    assert torch.equal(targets[:, n:], digits.gather(1, right[:, n:]))  # the digit on that card
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
    assert scores._fields == ("accuracy", "found_cards", "found_questions")


def test_scale_one_leaves_the_logits_unscaled():
    tokens, _, _ = lookup.lookup_batch(4, torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    model = lookup.Lookup(d=32)
    with torch.no_grad():
        X = model.embed(*tokens)  # (4, 12, 32)
        logits = model.W_Q(X) @ model.W_K(X).transpose(-2, -1)  # (4, 12, 12), unscaled
        torch.testing.assert_close(model(tokens, scale=1.0)[1], logits.softmax(-1))
        torch.testing.assert_close(model(tokens)[1], (logits / 32**0.5).softmax(-1))


def test_the_mixing_baseline_uses_the_same_weights_for_every_sequence():
    tokens, _, _ = lookup.lookup_batch(3, torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    baseline = lookup.MixingLookup()
    logits, weights = baseline(tokens)
    assert logits.shape == (3, 12, lookup.DIGITS) and weights.shape == (3, 12, 12)
    assert torch.equal(weights[0], weights[2])  # no queries, no keys: one map
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 12))
    torch.testing.assert_close(baseline.embed(*tokens), lookup.MixingLookup.embed(baseline, *tokens))
    a, b = lookup.train(steps=3, seed=0, mixing=True), lookup.train(steps=3, seed=0, mixing=True)
    assert isinstance(a, lookup.MixingLookup)
    assert torch.equal(a.mix.logits, b.mix.logits)
    cards, questions = lookup.accuracy_by_role(a, n=20)
    assert 0.0 <= cards <= 1.0 and 0.0 <= questions <= 1.0


def test_accuracy_by_role_splits_the_rows():
    class Oracle(torch.nn.Module):  # answers every card, and every question with digit 0
        def forward(self, tokens):
            _, digits, _ = tokens
            answers = torch.cat([digits, torch.zeros_like(digits)], dim=1)  # (B, 12)
            return torch.nn.functional.one_hot(answers, lookup.DIGITS).float(), None

    _, targets, _ = lookup.lookup_batch(50, torch.Generator().manual_seed(1))
    cards, questions = lookup.accuracy_by_role(Oracle(), n=50)
    assert cards == 1.0
    assert questions == pytest.approx((targets[:, 6:] == 0).float().mean().item())


def test_probes_measure_shares_and_decoding():
    torch.manual_seed(0)
    model = lookup.Lookup().eval()
    probes = lookup.probe(model, n=400)
    assert set(probes) == {"K", "V"} and all(set(p) == {"letter", "digit"} for p in probes.values())
    for p in probes.values():
        assert all(isinstance(x, lookup.Probe) for x in p.values())
        # X = letter + digit + card role: the two shares split the variance (up to held-out noise)
        assert p["letter"].share + p["digit"].share == pytest.approx(1.0, abs=0.05)
        assert all(x.decoded >= 0.95 for x in p.values())  # an invertible map keeps both labels
    with torch.no_grad():  # keys that hold only the letter: the digit explains nothing of them
        model.digit.weight.zero_()
    only_letter = lookup.probe(model, n=400)["K"]
    assert only_letter["letter"].share == pytest.approx(1.0, abs=1e-4)
    assert abs(only_letter["digit"].share) < 0.05 and only_letter["digit"].decoded < 0.3
