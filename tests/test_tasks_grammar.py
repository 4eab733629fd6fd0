"""The intro's grammar task: sentences follow the grammar, the Reader's shapes, seeded training."""

from __future__ import annotations

import pytest
import torch

from attnlab import AttnLabError
from attnlab.tasks import grammar


def test_sentences_follow_the_grammar():
    x = grammar.sentences(200, torch.Generator().manual_seed(0))
    assert x.shape == (200, grammar.LENGTH) and x.dtype == torch.int64
    classes = (grammar.DETS, grammar.ADJS, grammar.NOUNS, grammar.VERBS, grammar.DETS, grammar.ADJS, grammar.NOUNS)
    for position, words in enumerate(classes):
        assert {grammar.VOCAB[i] for i in x[:, position].tolist()} == set(words)  # every word of its class


def test_look_at_points_within_the_sentence_at_the_right_word_class():
    assert grammar.LOOK_AT.tolist() == [2, 2, 1, 2, 6, 6, 5]
    x = grammar.encode("the small dog chased a red ball")
    reported = [grammar.VOCAB[i] for i in x[0, grammar.LOOK_AT].tolist()]
    assert reported == ["dog", "dog", "small", "dog", "ball", "ball", "red"]


def test_sentences_are_seeded():
    draw = [grammar.sentences(5, torch.Generator().manual_seed(3)) for _ in range(2)]
    assert torch.equal(*draw)


def test_errors_name_the_bad_values():
    with pytest.raises(AttnLabError, match="need n > 0 sentences, got n=0"):
        grammar.sentences(0, torch.Generator())
    with pytest.raises(AttnLabError, match=r"need 7 words of the vocabulary, got 3 words"):
        grammar.encode("the small dog")
    with pytest.raises(AttnLabError, match="unknown: horse"):
        grammar.encode("the small horse chased a red ball")
    with pytest.raises(AttnLabError, match=r"expected word indices of shape \(B, 7\), got \(2, 5\)"):
        grammar.Reader()(torch.zeros(2, 5, dtype=torch.long))


def test_reader_and_its_map_have_the_documented_shapes():
    model = grammar.Reader().eval()
    x = grammar.sentences(4, torch.Generator().manual_seed(0))
    assert model(x).shape == (4, 7, len(grammar.VOCAB))
    maps = grammar.where_words_look(model, x)
    assert maps.shape == (4, 7, 7)
    torch.testing.assert_close(maps.sum(-1), torch.ones(4, 7))
    assert 0.0 <= grammar.found(model, n=50) <= 1.0


def test_training_is_seeded_and_changes_the_model():
    a, b, c = grammar.train(3, seed=0), grammar.train(3, seed=0), grammar.train(3, seed=1)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    assert not torch.equal(a.out.weight, c.out.weight)
    assert not torch.equal(a.out.weight, grammar.train(0, seed=0).out.weight)
    assert not a.training
