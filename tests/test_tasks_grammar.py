"""The intro's grammar task: sentences of varying shape, where each word looks, both readers, seeded training."""

from __future__ import annotations

import pytest
import torch

from attnlab import AttnLabError
from attnlab.tasks import grammar

CLASS_OF = {word: name for name, words in grammar.CLASSES.items() for word in words}


def classes_of(row: torch.Tensor) -> tuple[str, ...]:
    return tuple(CLASS_OF[grammar.VOCAB[i]] for i in row.tolist() if i != grammar.PAD)


def test_the_grammar_has_72_shapes_of_5_to_14_words():
    assert len(grammar.TEMPLATES) == len(set(grammar.TEMPLATES)) == 72
    assert {len(t) for t in grammar.TEMPLATES} == set(range(5, 15)) and grammar.MAX_LEN == 14


def test_sentences_follow_the_grammar_with_padding_at_the_end():
    words, heads = grammar.sentences(500, torch.Generator().manual_seed(0))
    assert words.shape == heads.shape == (500, grammar.MAX_LEN) and words.dtype == torch.int64
    shapes = set()
    for row, head in zip(words, heads, strict=True):
        shape = classes_of(row)
        n = len(shape)
        assert shape in grammar.TEMPLATES
        assert (row[n:] == grammar.PAD).all() and (head[n:] == -1).all()  # padding only at the end
        assert head[:n].tolist() == grammar.look_at(shape)
        shapes.add(shape)
    assert len(shapes) > 60  # nearly every shape in 500 draws


def test_each_word_looks_at_its_noun_its_verb_or_its_subject():
    words, heads = grammar.encode("the big dog that ran chased a small cat")
    assert heads.tolist() == [[2, 2, 5, 2, 2, 2, 8, 8, 5]]
    reported = [grammar.VOCAB[i] for i in words[0, heads[0]].tolist()]
    assert reported == ["dog", "dog", "chased", "dog", "dog", "dog", "cat", "cat", "chased"]
    words, heads = grammar.encode("a cat often saw the old quiet bird that hid")
    reported = [grammar.VOCAB[i] for i in words[0, heads[0]].tolist()]
    assert reported == ["cat", "saw", "saw", "cat", "bird", "bird", "bird", "saw", "bird", "bird"]


def test_where_a_word_looks_depends_on_the_sentence():
    """The same position reports a different place in different shapes: no fixed table can be right."""
    looks = {grammar.look_at(t)[3] for t in grammar.TEMPLATES}
    assert len(looks) >= 4


def test_sentences_are_seeded():
    a, b = (grammar.sentences(5, torch.Generator().manual_seed(3)) for _ in range(2))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_errors_name_the_bad_values():
    with pytest.raises(AttnLabError, match="need n > 0 sentences, got n=0"):
        grammar.sentences(0, torch.Generator())
    with pytest.raises(AttnLabError, match="not a sentence of the grammar: det noun"):
        grammar.encode("the dog")
    with pytest.raises(AttnLabError, match="unknown words in 'the horse ran': horse"):
        grammar.encode("the horse ran")
    with pytest.raises(AttnLabError, match=r"shape \(B, L\) with L ≤ 14, got \(2, 15\)"):
        grammar.Reader()(torch.zeros(2, 15, dtype=torch.long))


@pytest.mark.parametrize("mixing", [False, True])
def test_both_readers_and_their_maps_have_the_documented_shapes(mixing):
    model = grammar.Reader(mixing).eval()
    words, _ = grammar.sentences(4, torch.Generator().manual_seed(0))
    assert model(words).shape == (4, grammar.MAX_LEN, len(grammar.VOCAB))
    maps = grammar.where_words_look(model, words)
    assert maps.shape == (4, grammar.MAX_LEN, grammar.MAX_LEN)
    torch.testing.assert_close(maps.sum(-1), torch.ones(4, grammar.MAX_LEN))
    if mixing:  # one table for every sentence
        assert torch.equal(maps[0], maps[1])
    else:  # the head never looks at padding
        assert (maps.masked_select((words == grammar.PAD)[:, None, :]) == 0).all()
    scores = grammar.evaluate(model, n=50)
    assert all(0.0 <= value <= 1.0 for value in scores)


def test_training_is_seeded_and_changes_the_model():
    a, b, c = grammar.train(3, seed=0), grammar.train(3, seed=0), grammar.train(3, seed=1)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    assert not torch.equal(a.out.weight, c.out.weight)
    assert not torch.equal(a.out.weight, grammar.train(0, seed=0).out.weight)
    assert not a.training and grammar.train(3, seed=0, mixing=True).mixing
