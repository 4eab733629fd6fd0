"""attnlab.decoding: cached generation equals the full causal forward, a wrong cache is caught, work counted."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
from torch import nn

from attnlab import AttnLabError, count_flops
from attnlab import decoding as dec
from attnlab.tasks import copying


@pytest.fixture(scope="module")
def model() -> copying.OneHead:
    torch.manual_seed(0)
    return copying.OneHead(causal=True).eval()


@pytest.fixture(scope="module")
def model64(model: copying.OneHead) -> copying.OneHead:
    return copy.deepcopy(model).double()


def prompts(n: int = 5, length: int = 3) -> torch.Tensor:
    return copying.random_tokens(n, torch.Generator().manual_seed(2))[:, :length]  # (B, P)


def test_the_full_forward_is_the_models_own(model):
    x = copying.random_tokens(3, torch.Generator().manual_seed(0))  # (B, LEN)
    with torch.no_grad():
        assert torch.equal(dec.full_logits(model, x), model(x))


def test_the_causal_forward_of_a_prefix_is_that_of_the_whole_sequence(model):
    x = copying.random_tokens(2, torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(dec.full_logits(model, x[:, :5]), model(x)[:, :5])


@pytest.mark.parametrize("steps", [1, 4, 9])
def test_cached_generation_equals_the_full_forward_token_by_token(model64, steps):
    cached = dec.generate(model64, prompts(), steps)
    full = dec.generate(model64, prompts(), steps, cache=False)
    assert torch.equal(cached.tokens, full.tokens) and cached.tokens.shape == (5, 3 + steps)
    assert (cached.logits - full.logits).abs().max() <= 1e-6
    with torch.no_grad():  # one full forward over the finished sequence gives every step's logits too
        every = dec.full_logits(model64, cached.tokens)[:, 2:-1]  # (B, steps, V)
    assert (every - cached.logits).abs().max() <= 1e-6


def test_float32_generation_picks_the_same_tokens(model):
    cached, full = dec.generate(model, prompts(), 9), dec.generate(model, prompts(), 9, cache=False)
    assert torch.equal(cached.tokens, full.tokens)


def test_left_padding_gives_each_prompt_what_it_gets_alone(model64):
    batch = [[1, 2, 3], [4, 5], [6, 7, 0, 1]]
    tokens, attention_mask = dec.left_pad(batch, pad=0)
    assert tokens.tolist() == [[0, 1, 2, 3], [0, 0, 4, 5], [6, 7, 0, 1]]
    assert attention_mask.tolist() == [[0, 1, 1, 1], [0, 0, 1, 1], [1, 1, 1, 1]]
    assert dec.positions_from_mask(attention_mask).tolist() == [[0, 0, 1, 2], [0, 0, 0, 1], [0, 1, 2, 3]]
    run = dec.generate(model64, tokens, 6, attention_mask)
    assert torch.equal(run.tokens, dec.generate(model64, tokens, 6, attention_mask, cache=False).tokens)
    assert run.attention_mask[:, -6:].all() and torch.equal(run.attention_mask[:, :4], attention_mask)
    for b, prompt in enumerate(batch):
        alone = dec.generate(model64, torch.tensor([prompt]), 6)
        assert torch.equal(alone.tokens[0, -6:], run.tokens[b, -6:])
        assert (alone.logits[0] - run.logits[b]).abs().max() <= 1e-6


def test_left_padding_without_its_positions_changes_the_answer(model64):
    tokens, attention_mask = dec.left_pad([[1, 2, 3], [4, 5]])
    columns = torch.arange(3).expand(2, 3)  # (B, L): the column taken for the position
    with torch.no_grad():
        right = dec.full_logits(model64, tokens, attention_mask)
        wrong = dec.full_logits(model64, tokens, attention_mask, positions=columns)
        with pytest.raises(AttnLabError, match=r"positions of shape \(3,\) do not match tokens of shape \(2, 3\)"):
            dec.full_logits(model64, tokens, attention_mask, positions=torch.arange(3))
    assert torch.equal(wrong[0], right[0])  # no pad: a column is a position
    assert not torch.allclose(wrong[1, 1:], right[1, 1:])  # one pad: every real token one position off


def _filled(model, tokens):
    return dec.fill_cache(model, tokens)[1]


def test_a_right_cache_passes_the_check(model64):
    tokens = prompts(3, 6)
    with torch.no_grad():
        dec.check_cache(model64, tokens, _filled(model64, tokens))


def test_a_stale_entry_is_caught_by_the_check_and_by_the_equality(model64):
    tokens = prompts(3, 6)
    with torch.no_grad():
        kv = _filled(model64, tokens)
        edited = tokens.clone()
        edited[1, 2] = (edited[1, 2] + 1) % copying.V  # the prompt changed; the cache did not
        with pytest.raises(AttnLabError, match=r"1 cached entry is not .* at \(sequence 1, position 2\): a stale"):
            dec.check_cache(model64, edited, kv)
        logits, _ = dec.decode_step(model64, kv, edited[:, 5], torch.full((3,), 6))
        full = dec.full_logits(model64, torch.cat([edited, edited[:, 5:]], 1))[:, -1]
    assert (logits[1] - full[1]).abs().max() > 1e-3  # the equality fails for that sequence
    assert (logits[0] - full[0]).abs().max() <= 1e-6  # and holds for the others


def test_a_misaligned_cache_is_caught(model64):
    tokens = prompts(2, 5)
    with torch.no_grad():
        kv = _filled(model64, tokens)
        shifted = dataclasses.replace(
            kv, keys=torch.roll(kv.keys, 1, dims=2), values=torch.roll(kv.values, 1, dims=2)
        )  # entry t holds token t - 1's key and value
        with pytest.raises(
            AttnLabError,
            match=r"10 cached entries are not the keys and values of their tokens, at "
            r"\(sequence 0, position 0\), \(sequence 0, position 1\), .*, …: a stale",
        ):
            dec.check_cache(model64, tokens, shifted)
        with pytest.raises(AttnLabError, match=r"the cache holds 5 entries for 2 sequences, the tokens are \(2, 4\)"):
            dec.check_cache(model64, tokens[:, :4], kv)


def test_the_work_is_counted_as_pytorch_counts_it(model):
    d, V = model.attn.embed_dim, copying.V
    x = copying.random_tokens(1, torch.Generator().manual_seed(0))

    def step(t: int, cache: bool) -> int:  # the MACs of step t alone
        before = dec.generation_macs(t - 1, d, V, cache=cache) if t > 1 else 0
        return dec.generation_macs(t, d, V, cache=cache) - before

    with torch.no_grad():
        for t in (1, 5, 12):
            assert count_flops(dec.full_logits, model, x[:, :t])["total"] == 2 * step(t, False)
            kv = _filled(model, x[:, : t - 1]) if t > 1 else dec.KVCache.empty(model, 1)
            flops = count_flops(dec.decode_step, model, kv, x[:, t - 1], torch.tensor([t - 1]))["total"]
            assert flops == 2 * step(t, True)


def test_the_cache_saves_more_the_longer_the_sequence():
    saved = [dec.generation_macs(L, 32, 8, cache=False) / dec.generation_macs(L, 32, 8, cache=True) for L in (1, 4, 64)]
    assert saved[0] == 1 and saved == sorted(saved) and saved[-1] > 20


def test_repeats_counts_a_period():
    tokens = torch.tensor([[1, 2, 3, 1, 2, 3, 1], [1, 2, 3, 1, 2, 0, 1]])
    assert dec.repeats(tokens, start=3, lag=3) == 7 / 8
    with pytest.raises(AttnLabError, match=r"0 < lag <= start < L, got tokens \(2, 7\), start=2, lag=3"):
        dec.repeats(tokens, start=2, lag=3)


def test_errors_name_the_bad_values(model):
    with pytest.raises(AttnLabError, match=r"prompt length \+ steps at most 12 positions, got 3 \+ 10"):
        dec.generate(model, prompts(), 10)
    with pytest.raises(AttnLabError, match=r"attention_mask of shape \(5, 2\) does not match tokens of shape \(5, 3\)"):
        dec.generate(model, prompts(), 2, torch.ones(5, 2))
    with pytest.raises(AttnLabError, match=r"tokens must be \(B, L\), got shape \(3,\)"):
        dec.full_logits(model, torch.tensor([1, 2, 3]))
    with pytest.raises(AttnLabError, match="13 tokens, but the decoder has positions for 12 only"):
        dec.full_logits(model, torch.zeros(1, 13, dtype=torch.long))
    with pytest.raises(AttnLabError, match="Linear lacks tok, pos, attn"):
        dec.generate(nn.Linear(2, 2), prompts(), 2)
    with pytest.raises(AttnLabError, match=r"got lengths \[2, 0\]"):
        dec.left_pad([[1, 2], []])
    with pytest.raises(AttnLabError, match="length, d and vocab must be at least 1, got 0, 32 and 8"):
        dec.generation_macs(0, 32, 8, cache=True)
    with pytest.raises(AttnLabError, match=r"B = 2 sequences in the cache, got token \(3,\)"):
        dec.decode_step(model, dec.KVCache.empty(model, 2), torch.zeros(3, dtype=torch.long), torch.zeros(3))
