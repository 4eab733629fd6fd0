"""Chapter 3's claims: one head learns to copy under the causal mask, cheats without it, and the masks
take the cheat away; a fixed-mixing baseline with no queries or keys does as well on all three tasks (they are
positional); the copier, used as a decoder, generates with a key/value cache exactly as with the
full masked forward."""

from __future__ import annotations

import copy
import dataclasses

import torch

from attnlab import decoding
from attnlab.errors import AttnLabError
from attnlab.tasks import copying
from benchmarks.claims import Claim

CLAIMS = (
    Claim("causal_zero", "both causal models put exactly zero weight on every later key", low=1),
    Claim("acc_copy", "causal, copy two back: accuracy ≥ 95 %", low=0.95),
    Claim("align_copy", "causal, copy two back: largest weight on key t-2 in ≥ 95 % of rows", low=0.95),
    Claim("acc_cheat", "no mask, next token: accuracy ≥ 95 %", low=0.95),
    Claim("align_cheat", "no mask, next token: largest weight on key t+1 in ≥ 95 % of rows", low=0.95),
    Claim("acc_honest", "causal, next token: accuracy ≤ 20 % (chance 12.5 %)", high=0.2),
    Claim("fixed_causal_zero", "both causal fixed mixings put exactly zero weight on every later key", low=1),
    Claim("fixed_acc_copy", "fixed mixing, causal, copy two back: accuracy ≥ 95 %", low=0.95),
    Claim(
        "fixed_align_copy", "fixed mixing, causal, copy two back: largest weight on key t-2 in ≥ 95 % of rows", low=0.95
    ),
    Claim("fixed_acc_cheat", "fixed mixing, no mask, next token: accuracy ≥ 95 %", low=0.95),
    Claim(
        "fixed_align_cheat", "fixed mixing, no mask, next token: largest weight on key t+1 in ≥ 95 % of rows", low=0.95
    ),
    Claim("fixed_acc_honest", "fixed mixing, causal, next token: accuracy ≤ 20 % (chance 12.5 %)", high=0.2),
    Claim("weight_copy", "the copier head: mean weight on key t-2 ≥ 95 %", low=0.95),
    Claim("weight_cheat", "the cheater head: mean weight on key t+1 ≥ 95 %", low=0.95),
    Claim("fixed_weight_copy", "fixed mixing, copy two back: mean weight on key t-2 ≤ 60 %", high=0.6),
    Claim("fixed_weight_cheat", "fixed mixing, next token, no mask: mean weight on key t+1 ≤ 60 %", high=0.6),
    Claim("curve_open", "the cheater without a mask: p(true next token) > 0.9 at every position", low=0.9),
    Claim("curve_causal", "the cheater under the causal mask: p(true next token) < 0.3 everywhere", high=0.3),
    Claim(
        "curve_causal_padding",
        "the cheater under causal + padding (8 real): p(true next token) < 0.3 everywhere",
        high=0.3,
    ),
    Claim(
        "curve_padding_real",
        "the cheater under padding (8 real): p > 0.9 at positions 0-6, whose next token is real",
        low=0.9,
    ),
    Claim(
        "curve_padding_pad",
        "the cheater under padding (8 real): p < 0.3 from position 7 on, whose next token is a pad",
        high=0.3,
    ),
    Claim(
        "gen_period",
        "greedy generation from the copier: each new token repeats the token 3 back in >= 95 % of 900",
        low=0.95,
    ),
    Claim(
        "cache_tokens",
        "cached generation picks the tokens of the full causal forward, in float64 and in float32",
        low=1,
    ),
    Claim("cache_gap", "cached vs full causal forward: largest logit difference (float64) <= 1e-6", high=1e-6),
    Claim(
        "stale_gap",
        "a stale entry (token 3 of sequence 1) moves that sequence's next step off the full forward by > 1e-3",
        low=1e-3,
    ),
    Claim(
        "cache_check",
        "the clean sequence's step stays within 1e-6; check_cache passes the right cache and raises for the "
        "stale and for a shifted one",
        low=1,
    ),
    Claim(
        "left_pad_equal",
        "each left-padded prompt generates what it generates alone (1e-6); the columns as positions change "
        "the padded prompt's logits",
        low=1,
    ),
)


def _raises(fn: object, *args: object) -> bool:
    try:
        fn(*args)
    except AttnLabError:
        return True
    return False


def decoding_claims(copier: copying.OneHead) -> dict[str, float]:
    """The decoding section's claims, computed as the chapter computes them."""
    g = torch.Generator().manual_seed(2)
    prompts = copying.random_tokens(100, g)[:, :3]
    run = decoding.generate(copier, prompts, steps=9, cache=False)
    copier64 = copy.deepcopy(copier).double()
    cached = decoding.generate(copier64, prompts, steps=9)
    full = decoding.generate(copier64, prompts, steps=9, cache=False)
    same_tokens = torch.equal(cached.tokens, full.tokens) and torch.equal(
        decoding.generate(copier, prompts, steps=9).tokens, run.tokens
    )
    tokens = run.tokens[:2, :6]
    edited = tokens.clone()
    edited[1, 3] = (edited[1, 3] + 1) % copying.V
    with torch.no_grad():
        _, kv = decoding.fill_cache(copier64, tokens[:, :5])
        right = not _raises(decoding.check_cache, copier64, tokens[:, :5], kv)
        step, _ = decoding.decode_step(copier64, kv, edited[:, 5], torch.full((2,), 5))
        full_step = decoding.full_logits(copier64, edited)[:, 5]
        gaps = (step - full_step).abs().amax(-1)
        shifted = dataclasses.replace(kv, keys=kv.keys.roll(1, dims=2), values=kv.values.roll(1, dims=2))
        caught = _raises(decoding.check_cache, copier64, edited[:, :5], kv) and _raises(
            decoding.check_cache, copier64, tokens[:, :5], shifted
        )
    checked = right and caught and gaps[0].item() <= 1e-6
    batch = [[0, 1, 2], [3, 4], [5, 6, 7, 0]]
    padded, attention_mask = decoding.left_pad(batch, pad=0)
    batched = decoding.generate(copier64, padded, 6, attention_mask)
    left = torch.equal(batched.tokens, decoding.generate(copier64, padded, 6, attention_mask, cache=False).tokens)
    for b, prompt in enumerate(batch):
        alone = decoding.generate(copier64, torch.tensor([prompt]), 6)
        left &= torch.equal(alone.tokens[0, -6:], batched.tokens[b, -6:])
        left &= (alone.logits[0] - batched.logits[b]).abs().max().item() <= 1e-6
    columns = torch.arange(padded.shape[1]).expand_as(padded)
    with torch.no_grad():
        right_last = decoding.full_logits(copier64, padded, attention_mask)[:, -1]
        wrong_last = decoding.full_logits(copier64, padded, attention_mask, positions=columns)[:, -1]
    left &= torch.equal(right_last[2], wrong_last[2]) and not torch.allclose(right_last[1], wrong_last[1])
    return {
        "gen_period": decoding.repeats(run.tokens, start=3, lag=3),
        "cache_tokens": float(same_tokens),
        "cache_gap": (cached.logits - full.logits).abs().max().item(),
        "stale_gap": gaps[1].item(),
        "cache_check": float(checked),
        "left_pad_equal": float(left),
    }


def measure(seed: int) -> dict[str, float]:
    test = copying.held_out()
    copier = copying.train(copying.copy_two_back, causal=True, seed=seed)
    cheater = copying.train(copying.next_token, causal=False, seed=seed)
    honest = copying.train(copying.next_token, causal=True, seed=seed)
    acc_copy, maps_copy = copying.evaluate(copier, copying.copy_two_back, test)
    acc_cheat, maps_cheat = copying.evaluate(cheater, copying.next_token, test)
    acc_honest, maps_honest = copying.evaluate(honest, copying.next_token, test)
    setups = {  # name: (task, causal), as the chapter trains its fixed mixings
        "copier": (copying.copy_two_back, True),
        "cheater": (copying.next_token, False),
        "honest": (copying.next_token, True),
    }
    fixed = {}
    for name, (task, causal) in setups.items():
        baseline = copying.train(task, causal, steps=150, seed=seed, mixing=True)
        fixed[name] = copying.evaluate(baseline, task, test)
    fixed_acc_copy, fixed_copy = fixed["copier"]
    fixed_acc_cheat, fixed_cheat = fixed["cheater"]
    fixed_acc_honest, fixed_honest = fixed["honest"]
    curves = {
        kind: copying.target_probability(cheater, copying.next_token, test, copying.mask_kind(kind, 8))[:-1]
        for kind in copying.MASK_KINDS
    }
    zero = all((maps.triu(1) == 0).all() for maps in (maps_copy, maps_honest))
    return {
        "causal_zero": float(zero),
        "acc_copy": acc_copy,
        "align_copy": copying.alignment(maps_copy, -2),
        "acc_cheat": acc_cheat,
        "align_cheat": copying.alignment(maps_cheat, +1),
        "acc_honest": acc_honest,
        "fixed_causal_zero": float(all((maps.triu(1) == 0).all() for maps in (fixed_copy, fixed_honest))),
        "fixed_acc_copy": fixed_acc_copy,
        "fixed_align_copy": copying.alignment(fixed_copy, -2),
        "fixed_acc_cheat": fixed_acc_cheat,
        "fixed_align_cheat": copying.alignment(fixed_cheat, +1),
        "fixed_acc_honest": fixed_acc_honest,
        "weight_copy": copying.weight_on(maps_copy, -2),
        "weight_cheat": copying.weight_on(maps_cheat, +1),
        "fixed_weight_copy": copying.weight_on(fixed_copy, -2),
        "fixed_weight_cheat": copying.weight_on(fixed_cheat, +1),
        "curve_open": curves["no mask"].min().item(),
        "curve_causal": curves["causal"].max().item(),
        "curve_causal_padding": curves["causal + padding"].max().item(),
        "curve_padding_real": curves["padding"][:7].min().item(),
        "curve_padding_pad": curves["padding"][7:].max().item(),
        **decoding_claims(copier),
    }
