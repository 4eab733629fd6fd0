"""Chapter 2's toy translation: the data, the model's shapes, errors and seeded training."""

from __future__ import annotations

import itertools

import pytest
import torch

from attnlab import AttnLabError
from attnlab.tasks.translation import (
    ENGLISH,
    L_TGT,
    NO_WORD,
    NOUNS,
    PARTICLES,
    PLACES,
    S_SRC,
    SOURCE_VOCAB,
    VERBS,
    MixingTranslator,
    Translator,
    alignment,
    encode,
    english,
    japanese,
    scores,
    sentence_pairs,
    subject_first,
    train_translator,
    weight_shares,
    word_positions,
)

PAD = SOURCE_VOCAB.index("<pad>")


@pytest.fixture(scope="module")
def pairs() -> tuple[torch.Tensor, torch.Tensor]:
    return sentence_pairs(400, torch.Generator().manual_seed(0))


def test_vocabularies_pair_each_word_with_its_gloss():
    assert len(ENGLISH) == len(NOUNS) + len(PLACES) + len(VERBS) == 16
    assert SOURCE_VOCAB[: len(ENGLISH)] == [j for j, _ in NOUNS + PLACES + VERBS]
    assert SOURCE_VOCAB[len(ENGLISH) :] == ["ga", "o", "de", "<s>", "</s>", "<pad>"]
    assert ENGLISH[SOURCE_VOCAB.index("neko")] == "cat" and ENGLISH[SOURCE_VOCAB.index("miru")] == "sees"


def test_particles_mark_the_roles_and_the_targets_match(pairs):
    source, target = pairs
    assert source.shape == (400, S_SRC) and target.shape == (400, L_TGT)
    for src, tgt in zip(source.tolist(), target.tolist(), strict=True):
        words = [SOURCE_VOCAB[i] for i in src if i != PAD]
        assert words[0] == "<s>" and words[-1] == "</s>" and len(words) in (7, 9)
        assert src[len(words) :] == [PAD] * (S_SRC - len(words))  # padding only at the end
        phrases = dict(zip(words[2:-2:2], words[1:-2:2], strict=True))  # particle → its noun
        assert set(phrases) == ({"ga", "o", "de"} if len(words) == 9 else {"ga", "o"})
        assert ENGLISH[tgt[0]] == dict(NOUNS)[phrases["ga"]]  # the subject is the noun before ga
        assert ENGLISH[tgt[2]] == dict(NOUNS)[phrases["o"]]  # the object, the noun before o
        assert ENGLISH[tgt[1]] == dict(VERBS)[words[-2]]  # the verb comes last
        assert phrases["ga"] != phrases["o"]  # two different animals
        if "de" in phrases:
            assert ENGLISH[tgt[3]] == dict(PLACES)[phrases["de"]]
        else:
            assert tgt[3] == NO_WORD


def test_every_phrase_order_occurs(pairs):
    source, _ = pairs
    particles = set(PARTICLES.values())
    orders = {tuple(SOURCE_VOCAB[i] for i in src if SOURCE_VOCAB[i] in particles) for src in source.tolist()}
    expected = set(itertools.permutations(("ga", "o"))) | set(itertools.permutations(("ga", "o", "de")))
    assert orders == expected
    first = subject_first(source)
    assert 0.35 < first.float().mean() < 0.65


def test_word_positions_read_the_particles(pairs):
    source, target = pairs
    positions = word_positions(source)  # (B, L)
    filled = target != NO_WORD
    assert torch.equal(positions >= 0, filled)
    words = source.gather(1, positions.clamp(min=0))  # (B, L)
    assert torch.equal(words[filled], target[filled])  # each slot's word is the source word it names
    assert torch.equal(subject_first(source), positions[:, 0] < positions[:, 2])


def test_encode_and_the_sentences_read_back():
    source = encode("inu o kouen de neko ga miru")
    assert source.shape == (1, S_SRC)
    assert japanese(source[0]) == "inu o kouen de neko ga miru"
    positions = word_positions(source)
    target = source.gather(1, positions)
    assert english(target[0]) == "the cat sees the dog in the park"
    short = encode("neko ga kawa o mitsukeru")  # grammatical nonsense is encoded as given
    assert short[0, -2:].tolist() == [PAD, PAD]
    assert english(torch.tensor([0, 12, 1, 10])) == "the cat sees the dog at the river"
    assert english(torch.tensor([0, 12, 1, NO_WORD])) == "the cat sees the dog"


def test_errors_name_the_bad_values():
    with pytest.raises(AttnLabError, match="need n > 0 sentence pairs, got n=0"):
        sentence_pairs(0, torch.Generator())
    with pytest.raises(AttnLabError, match=r"unknown \['wan'\]"):
        encode("inu ga wan o miru")
    with pytest.raises(AttnLabError, match="need 5 to 7 words from SOURCE_VOCAB, got 3 words"):
        encode("neko ga miru")
    model = Translator()
    with pytest.raises(AttnLabError, match=r"source must be \(B, 9\) token indices, got shape \(2, 7\)"):
        model(torch.zeros(2, 7, dtype=torch.long))
    source, target = sentence_pairs(4, torch.Generator().manual_seed(0))
    with pytest.raises(AttnLabError, match=r"target must be \(B, L\) = \(4, 4\) for source \(4, 9\), got \(4, 3\)"):
        scores(model, source, target[:, :3])


def test_sentence_pairs_follow_the_generator():
    a = sentence_pairs(8, torch.Generator().manual_seed(3))
    b = sentence_pairs(8, torch.Generator().manual_seed(3))
    c = sentence_pairs(8, torch.Generator().manual_seed(4))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not torch.equal(a[0], c[0])


@pytest.mark.parametrize("make", [Translator, MixingTranslator])
def test_models_shapes_and_maps_ignore_the_padding(make, pairs):
    torch.manual_seed(0)
    model = make()
    source, target = pairs
    assert model(source).shape == (400, L_TGT, len(ENGLISH))
    weights = alignment(model, source)  # (B, L, S)
    assert weights.shape == (400, L_TGT, S_SRC)
    torch.testing.assert_close(weights.sum(-1), torch.ones(400, L_TGT))
    pad = (source == PAD)[:, None, :].expand_as(weights)
    assert pad.any() and (weights[pad] == 0).all()  # no weight on the padding
    shares = weight_shares(model, source)
    torch.testing.assert_close(sum(shares.values()), torch.ones(int((target != NO_WORD).sum())))
    result = scores(model, source, target)
    assert set(result) == {"words", "sentences", "roles", "aligned"} and all(0 <= v <= 1 for v in result.values())


def test_baseline_weights_are_the_same_for_every_sentence(pairs):
    torch.manual_seed(0)
    model = MixingTranslator()
    with torch.no_grad():
        model.logits.normal_()
    source, _ = pairs
    weights = alignment(model, source)  # (B, L, S)
    full = (source != PAD).all(1)  # sentences with a place: no padding
    assert full.any() and (weights[full] == weights[full][0]).all()
    short = source[:, -1] == PAD
    assert (weights[short][:, :, -2:] == 0).all() and (weights[short] == weights[short][0]).all()


def test_training_is_seeded_and_learns():
    a, b, c = train_translator(5, seed=1), train_translator(5, seed=1), train_translator(5, seed=2)
    source, _ = sentence_pairs(4, torch.Generator().manual_seed(0))
    assert torch.equal(alignment(a, source), alignment(b, source))
    assert not torch.equal(alignment(a, source), alignment(c, source))
    assert not a.training  # fit returns the model in eval mode
    untrained = train_translator(0, seed=1)
    torch.manual_seed(1)
    assert torch.equal(untrained.slots.weight, Translator().slots.weight)  # seed fixes the initial weights
    fixed = train_translator(5, seed=1, mixing=True)
    assert isinstance(fixed, MixingTranslator) and not torch.equal(fixed.logits, torch.zeros_like(fixed.logits))
