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


def test_read_words_keeps_known_words_and_says_why_it_skips_the_others():
    kept, skipped = grammar.read_words("The dog, often, saw a zebra · cat!")
    assert kept == ["the", "dog", "often", "saw", "a", "cat"]
    assert skipped == [("zebra", "not in the vocabulary"), ("·", "not in the vocabulary")]
    kept, skipped = grammar.read_words("a " * 16)
    assert kept == ["a"] * grammar.MAX_LEN and skipped == [("a", "beyond 14 words")] * 2
    assert grammar.read_words("") == grammar.read_words("  ?! ") == ([], [])


def test_head_weights_hold_the_heads_q_and_k_and_reproduce_where_words_look():
    torch.manual_seed(0)
    model = grammar.Reader()
    w = grammar.head_weights(model)
    assert (w["vocab"], w["max_len"], w["d"], w["head_dim"]) == (list(grammar.VOCAB), 14, 64, 64)
    assert isinstance(w["tok"], list) and isinstance(w["tok"][0], list) and isinstance(w["b_q"][0], float)
    t = {k: torch.tensor(w[k], dtype=torch.float64) for k in ("tok", "pos", "w_q", "b_q", "w_k", "b_k")}
    assert t["tok"].shape == (27, 64) and t["pos"].shape == (14, 64) and t["w_q"].shape == (64, 64)
    assert torch.allclose(t["w_k"], model.attn.in_proj_weight[64:128].double(), atol=1e-7, rtol=0)
    assert torch.allclose(t["b_q"], model.attn.in_proj_bias[:64].double(), atol=1e-7, rtol=0)
    x, _ = grammar.encode("the big dog that ran chased a small cat")
    h = t["tok"][x[0]] + t["pos"][:9]  # (9, 64)
    q, k = h @ t["w_q"].T + t["b_q"], h @ t["w_k"].T + t["b_k"]
    weights = torch.softmax(q @ k.T / 8, -1)
    assert torch.allclose(weights, grammar.where_words_look(model, x)[0].double(), atol=1e-5, rtol=0)


def test_head_weights_needs_an_attention_head():
    with pytest.raises(AttnLabError, match="mixing=True"):
        grammar.head_weights(grammar.Reader(mixing=True))
