"""Chapter 2's toy translation: the data, the model's shapes, errors and seeded training."""

from __future__ import annotations

import pytest
import torch

from attnlab import AttnLabError
from attnlab.tasks.translation import (
    ALIGN,
    ENGLISH,
    FRENCH,
    L_TGT,
    S_SRC,
    SOURCE_VOCAB,
    Translator,
    alignment,
    scores,
    sentence_pairs,
    train_translator,
)


def test_sentence_pairs_are_reversed_word_for_word_translations():
    source, target = sentence_pairs(50, torch.Generator().manual_seed(0))
    assert source.shape == (50, S_SRC) and target.shape == (50, L_TGT)
    assert (source[:, 0] == SOURCE_VOCAB.index("<s>")).all() and (source[:, -1] == SOURCE_VOCAB.index("</s>")).all()
    assert (source[:, 1:-1] < len(ENGLISH)).all()  # six words, no markers inside
    words = source[:, 1:-1]  # (50, 6)
    assert torch.equal(target, words.flip(1))  # the French sentence is the English one reversed
    assert ALIGN.tolist() == [6, 5, 4, 3, 2, 1]
    assert len(FRENCH) == len(ENGLISH)


def test_sentence_pairs_follow_the_generator():
    a = sentence_pairs(8, torch.Generator().manual_seed(3))
    b = sentence_pairs(8, torch.Generator().manual_seed(3))
    c = sentence_pairs(8, torch.Generator().manual_seed(4))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not torch.equal(a[0], c[0])


def test_sentence_pairs_rejects_an_empty_batch():
    with pytest.raises(AttnLabError, match="need n > 0 sentence pairs, got n=0"):
        sentence_pairs(0, torch.Generator())


def test_translator_shapes_and_map():
    torch.manual_seed(0)
    model = Translator()
    source, target = sentence_pairs(5, torch.Generator().manual_seed(0))
    assert model(source).shape == (5, L_TGT, len(FRENCH))
    assert model.memory(source).shape == (5, S_SRC, 24)
    weights = alignment(model, source)  # (B, L, S)
    assert weights.shape == (5, L_TGT, S_SRC)
    torch.testing.assert_close(weights.sum(-1), torch.ones(5, L_TGT))
    result = scores(model, source, target)
    assert set(result) == {"aligned", "translated"} and all(0 <= v <= 1 for v in result.values())


def test_translator_errors_name_the_bad_shapes():
    model = Translator()
    with pytest.raises(AttnLabError, match=r"source must be \(B, 8\) word indices, got shape \(2, 7\)"):
        model(torch.zeros(2, 7, dtype=torch.long))
    source, target = sentence_pairs(4, torch.Generator().manual_seed(0))
    with pytest.raises(AttnLabError, match=r"target must be \(B, L\) = \(4, 6\) for source \(4, 8\), got \(4, 5\)"):
        scores(model, source, target[:, :5])


def test_training_is_seeded_and_learns():
    a, b, c = train_translator(5, seed=1), train_translator(5, seed=1), train_translator(5, seed=2)
    source, _ = sentence_pairs(4, torch.Generator().manual_seed(0))
    assert torch.equal(alignment(a, source), alignment(b, source))
    assert not torch.equal(alignment(a, source), alignment(c, source))
    assert not a.training  # fit returns the model in eval mode
    untrained = train_translator(0, seed=1)
    torch.manual_seed(1)
    assert torch.equal(untrained.tgt_pos.weight, Translator().tgt_pos.weight)  # seed fixes the initial weights
