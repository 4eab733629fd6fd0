"""Generating with a decoder, one token at a time: the full causally masked forward, and a key/value cache.

A decoder generates greedily by running itself on the sequence so far and appending the most likely
next token. Run naively, every step recomputes the queries, keys and values of every earlier token. The
causal mask makes that waste visible: the key and value of token t depend only on tokens 0..t, so they
never change once computed. A **key/value cache** keeps them; each step then computes the new token's
q, k and v only, and its query attends to the cached keys and values (no mask is needed: the cache
holds no future). :func:`generate` does both, and the book asserts that they agree token by token.

A batch of prompts of different lengths is padded on the **left**, so that every sequence's newest
token sits in the same column. Left padding needs two things: the pads are hidden as keys, and each
token's *position* counts its real tokens only (:func:`positions_from_mask`), not its column.

The decoders here have one attention layer, shaped like :class:`attnlab.tasks.copying.OneHead`: token and
position embeddings ``tok`` and ``pos``, a batch-first :class:`attnlab.MultiHeadAttention` ``attn``, and
a read-out ``out``.

    from attnlab.decoding import generate
    run = generate(model, prompt, steps=8)                     # with the cache
    assert torch.equal(run.tokens, generate(model, prompt, 8, cache=False).tokens)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .errors import AttnLabError, _shape
from .functional import scaled_dot_product_attention
from .heads import merge_heads
from .masks import causal_mask, to_mha_mask
from .mha import project_heads

__all__ = [
    "Generation",
    "KVCache",
    "check_cache",
    "decode_step",
    "fill_cache",
    "full_logits",
    "generate",
    "generation_macs",
    "left_pad",
    "positions_from_mask",
    "repeats",
]


@dataclass(frozen=True)
class KVCache:
    """The keys and values of the tokens seen so far, one entry per token, and which of them are real.

    Immutable: :meth:`append` returns a longer cache.

    Shapes:
        keys, values (B, H, S, E); keep (B, S) bool, False at a pad; positions (B, S), the position
        each entry was computed at. S is the number of tokens seen.
    """

    keys: Tensor
    values: Tensor
    keep: Tensor
    positions: Tensor

    @classmethod
    def empty(cls, model: nn.Module, batch: int) -> KVCache:
        """A cache with no entries for ``batch`` sequences of ``model``'s attention."""
        H, E = model.attn.num_heads, model.attn.head_dim
        w = model.attn.in_proj_weight
        kv = torch.zeros(batch, H, 0, E, dtype=w.dtype, device=w.device)  # (B, H, 0, E)
        no = torch.zeros(batch, 0, dtype=torch.long, device=w.device)  # (B, 0)
        return cls(kv, kv.clone(), no.bool(), no)

    def __len__(self) -> int:
        return self.keys.shape[2]

    def append(self, k: Tensor, v: Tensor, keep: Tensor, position: Tensor) -> KVCache:
        """This cache and one more entry per sequence: k, v (B, H, 1, E), keep (B,), position (B,)."""
        return KVCache(
            torch.cat([self.keys, k], dim=2),  # (B, H, S+1, E)
            torch.cat([self.values, v], dim=2),
            torch.cat([self.keep, keep[:, None]], dim=1),  # (B, S+1)
            torch.cat([self.positions, position[:, None]], dim=1),
        )


@dataclass(frozen=True)
class Generation:
    """What :func:`generate` returns: the tokens, prompt included, and the logits that chose each new one.

    Shapes:
        tokens (B, P + steps); logits (B, steps, V); attention_mask (B, P + steps), 1 = a real token.
    """

    tokens: Tensor
    logits: Tensor
    attention_mask: Tensor


def _check_model(model: nn.Module) -> None:
    missing = [name for name in ("tok", "pos", "attn", "out") if not hasattr(model, name)]
    if missing:
        raise AttnLabError(
            f"a decoder here needs tok, pos, attn and out (like copying.OneHead); {type(model).__name__} "
            f"lacks {', '.join(missing)}"
        )
    if not getattr(model.attn, "batch_first", False):
        raise AttnLabError(f"the decoder's attention must be batch_first, got {type(model.attn).__name__}")


def _check_tokens(model: nn.Module, tokens: Tensor, attention_mask: Tensor | None) -> Tensor:
    """The attention mask as bool (B, L), all True when None; raises for bad shapes or lengths."""
    if tokens.dim() != 2:
        raise AttnLabError(f"tokens must be (B, L), got shape {_shape(tokens)}")
    longest = model.pos.num_embeddings
    if tokens.shape[1] > longest:
        raise AttnLabError(
            f"{tokens.shape[1]} tokens, but the decoder has positions for {longest} only (tokens: {_shape(tokens)})"
        )
    if attention_mask is None:
        return torch.ones_like(tokens, dtype=torch.bool)
    if attention_mask.shape != tokens.shape:
        raise AttnLabError(
            f"attention_mask of shape {_shape(attention_mask)} does not match tokens of shape {_shape(tokens)}"
        )
    return attention_mask.bool()


def _embed(model: nn.Module, tokens: Tensor, positions: Tensor) -> Tensor:
    """Token plus position embeddings, as the decoder's forward adds them: (B, L), (B, L) → (B, L, d)."""
    return model.tok(tokens) + model.pos(positions)


def positions_from_mask(attention_mask: Tensor) -> Tensor:
    """Each token's position among the real tokens of its row: 0 at the first real token.

    With left padding a column is not a position: a sequence with two pads has its first token in
    column 2. Pads get position 0 (they are hidden as keys, so any position would do).

    Shapes:
        attention_mask (B, L), 1 = a real token → positions (B, L), long.
    """
    real = attention_mask.long()
    return (real.cumsum(-1) - 1).clamp_min(0)  # (B, L)


def left_pad(prompts: list[list[int]], pad: int = 0) -> tuple[Tensor, Tensor]:
    """Prompts of different lengths as one batch, padded on the left with ``pad``.

    Shapes:
        B prompts, the longest of length P → tokens (B, P), attention_mask (B, P), 1 = a real token.
    """
    if not prompts or any(len(p) == 0 for p in prompts):
        raise AttnLabError(f"need at least one prompt, each with a token; got lengths {[len(p) for p in prompts]}")
    P = max(len(p) for p in prompts)
    tokens = torch.tensor([[pad] * (P - len(p)) + list(p) for p in prompts])  # (B, P)
    attention_mask = torch.tensor([[0] * (P - len(p)) + [1] * len(p) for p in prompts])  # (B, P)
    return tokens, attention_mask


def full_logits(
    model: nn.Module, tokens: Tensor, attention_mask: Tensor | None = None, positions: Tensor | None = None
) -> Tensor:
    """The decoder's full forward over every token at once, under the causal mask (and the padding).

    Query t attends to keys 0..t that are real. Positions come from :func:`positions_from_mask` unless
    given (to show what wrong ones do). A pad's own row sees nothing and gets zeros; nobody reads it.

    Shapes:
        tokens (B, L), attention_mask (B, L) or None, positions (B, L) or None → logits (B, L, V).
    """
    _check_model(model)
    real = _check_tokens(model, tokens, attention_mask)
    if positions is None:
        positions = positions_from_mask(real)
    elif positions.shape != tokens.shape:
        raise AttnLabError(f"positions of shape {_shape(positions)} do not match tokens of shape {_shape(tokens)}")
    h = _embed(model, tokens, positions)  # (B, L, d)
    blocked = to_mha_mask(causal_mask(tokens.shape[1], device=tokens.device))  # (L, S), True = blocked
    z = model.attn(h, h, h, attn_mask=blocked, key_padding_mask=~real, need_weights=False)[0]  # (B, L, d)
    return model.out(z)  # (B, L, V)


def decode_step(
    model: nn.Module, cache: KVCache, token: Tensor, position: Tensor, keep: Tensor | None = None
) -> tuple[Tensor, KVCache]:
    """One step with the cache: q, k, v of the new token only; its query attends to every cached key.

    Shapes:
        token (B,), position (B,), keep (B,) bool or None (all real) → logits (B, V), the cache one longer.
    """
    _check_model(model)
    if token.dim() != 1 or position.shape != token.shape or token.shape[0] != cache.keys.shape[0]:
        raise AttnLabError(
            f"token and position must be (B,) with B = {cache.keys.shape[0]} sequences in the cache, got "
            f"token {_shape(token)} and position {_shape(position)}"
        )
    keep = torch.ones_like(token, dtype=torch.bool) if keep is None else keep.bool()
    h = _embed(model, token[:, None], position[:, None])  # (B, 1, d): the new token only
    q, k, v, _ = project_heads(model.attn, h)  # (B, H, 1, E) each
    cache = cache.append(k, v, keep, position)
    # (B, H, 1, E): the new query over every cached key; the cache holds no future, so no causal mask
    out = scaled_dot_product_attention(q, cache.keys, cache.values, cache.keep[:, None, None, :])
    z = model.attn.out_proj(merge_heads(out))  # (B, 1, d)
    return model.out(z)[:, 0], cache  # (B, V)


def fill_cache(model: nn.Module, tokens: Tensor, attention_mask: Tensor | None = None) -> tuple[Tensor, KVCache]:
    """Run a prompt through :func:`decode_step`, one token at a time, from an empty cache.

    Shapes:
        tokens (B, P), attention_mask (B, P) or None → the last position's logits (B, V), a cache of P.
    """
    _check_model(model)
    real = _check_tokens(model, tokens, attention_mask)
    if tokens.shape[1] == 0:
        raise AttnLabError(f"need a prompt of at least one token, got tokens of shape {_shape(tokens)}")
    kv, positions = KVCache.empty(model, tokens.shape[0]), positions_from_mask(real)  # (B, P)
    for t in range(tokens.shape[1]):
        logits, kv = decode_step(model, kv, tokens[:, t], positions[:, t], real[:, t])
    return logits, kv


def generate(
    model: nn.Module, prompt: Tensor, steps: int, attention_mask: Tensor | None = None, *, cache: bool = True
) -> Generation:
    """Greedy generation: ``steps`` new tokens, each the most likely next one.

    With ``cache=True`` every token, prompt included, passes through :func:`decode_step` once; with
    ``cache=False`` every step runs :func:`full_logits` over the whole sequence so far. A batch of
    prompts is padded on the left (:func:`left_pad`) and ``attention_mask`` marks its real tokens.

    Shapes:
        prompt (B, P), attention_mask (B, P) or None → tokens (B, P + steps), logits (B, steps, V).
    """
    _check_model(model)
    real = _check_tokens(model, prompt, attention_mask)
    if steps < 1 or prompt.shape[1] + steps > model.pos.num_embeddings:
        raise AttnLabError(
            f"steps must be at least 1 and prompt length + steps at most {model.pos.num_embeddings} positions, "
            f"got {prompt.shape[1]} + {steps}"
        )
    B = prompt.shape[0]
    tokens, new_logits = prompt, []
    with torch.no_grad():
        if cache:
            logits, kv = fill_cache(model, prompt, real)  # the prompt, one token at a time
            position = positions_from_mask(real)[:, -1]  # (B,)
            for _ in range(steps):
                new_logits.append(logits)
                token = logits.argmax(-1)  # (B,)
                tokens = torch.cat([tokens, token[:, None]], dim=1)  # (B, t + 1)
                position = position + 1
                if len(new_logits) < steps:
                    logits, kv = decode_step(model, kv, token, position)
        else:
            for _ in range(steps):
                mask = torch.cat([real, real.new_ones(B, tokens.shape[1] - real.shape[1])], dim=1)
                logits = full_logits(model, tokens, mask)[:, -1]  # (B, V): the last position's
                new_logits.append(logits)
                tokens = torch.cat([tokens, logits.argmax(-1)[:, None]], dim=1)
    full_mask = torch.cat([real, real.new_ones(B, steps)], dim=1).long()  # (B, P + steps)
    return Generation(tokens, torch.stack(new_logits, dim=1), full_mask)


def check_cache(
    model: nn.Module, tokens: Tensor, cache: KVCache, attention_mask: Tensor | None = None, atol: float = 1e-5
) -> None:
    """Raise :class:`AttnLabError` unless every cached key and value is that of its token at its position.

    A stale entry (a token changed after it was cached) or a misaligned one (computed at another
    position, or shifted by one) differs from what the full forward computes; the error names the
    sequences and positions. Pads are not compared.

    Shapes:
        tokens (B, S), cache of S entries, attention_mask (B, S) or None.
    """
    _check_model(model)
    real = _check_tokens(model, tokens, attention_mask)
    if tuple(cache.keys.shape[::2]) != tuple(tokens.shape):
        raise AttnLabError(
            f"the cache holds {len(cache)} entries for {cache.keys.shape[0]} sequences, the tokens are {_shape(tokens)}"
        )
    h = _embed(model, tokens, positions_from_mask(real))  # (B, S, d)
    with torch.no_grad():
        _, k, v, _ = project_heads(model.attn, h)  # (B, H, S, E) each
    wrong = ((cache.keys - k).abs().amax((1, 3)) > atol) | ((cache.values - v).abs().amax((1, 3)) > atol)  # (B, S)
    wrong &= real
    if bool(wrong.any()):
        where = ", ".join(f"(sequence {b}, position {s})" for b, s in torch.nonzero(wrong).tolist()[:6])
        n = int(wrong.sum())
        more = ", …" if n > 6 else ""
        what = (
            "entry is not the key and value of its token"
            if n == 1
            else "entries are not the keys and values of their tokens"
        )
        raise AttnLabError(f"{n} cached {what}, at {where}{more}: a stale or misaligned cache")


def generation_macs(length: int, d: int, vocab: int, *, cache: bool) -> int:
    """Multiply-accumulates to run ``length`` decoding steps of a one-layer decoder, counted, not timed.

    Step t (t tokens so far) without the cache reruns the full forward: q, k, v and the output
    projection of all t tokens (4·t·d²), Q Kᵀ and A V over t × t pairs (2·t²·d, summed over the heads),
    and the read-out of every position (t·d·V). With the cache it does the same for the new token
    only: 4·d² + 2·t·d + d·V. Over ``length`` steps that is O(L³ d + L² d²) against O(L² d + L d²).

    Shapes:
        length L, width d, vocabulary V → a count.
    """
    if min(length, d, vocab) < 1:
        raise AttnLabError(f"length, d and vocab must be at least 1, got {length}, {d} and {vocab}")
    t = torch.arange(1, length + 1, dtype=torch.float64)
    if cache:
        total = 4 * d * d * length + 2 * d * t.sum() + d * vocab * length
    else:
        total = 4 * d * d * t.sum() + 2 * d * (t * t).sum() + d * vocab * t.sum()
    return int(total.item()) if isinstance(total, Tensor) else int(total)


def repeats(tokens: Tensor, start: int, lag: int) -> float:
    """How often a token from column ``start`` on equals the token ``lag`` columns before it.

    A decoder that continues its prompt with period ``lag`` scores 1.

    Shapes:
        tokens (B, L) → a share in [0, 1].
    """
    if tokens.dim() != 2 or not 0 < lag <= start < tokens.shape[1]:
        raise AttnLabError(
            f"need tokens (B, L) and 0 < lag <= start < L, got tokens {_shape(tokens)}, start={start}, lag={lag}"
        )
    return (tokens[:, start:] == tokens[:, start - lag : -lag]).float().mean().item()
