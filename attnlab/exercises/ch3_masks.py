"""Exercises of chapter 3, masking: the causal mask, padding, and the conventions between them.

Each carries a worked solution and its explanation for :func:`attnlab.exercises.reveal`. The chapter's
transfer tasks are in :mod:`attnlab.exercises.ch3_transfer`.
"""

from __future__ import annotations

import torch

from ..masks import bool_to_additive, causal_mask, combine_masks, padding_mask
from ._core import Case, Exercise, Mistake, describe_args

__all__ = ["EXERCISES"]

_INVERTED = (
    "{symptom}. The mask is inverted: here True means may attend (attnlab, F.scaled_dot_product_attention); "
    "yours follows nn.MultiheadAttention's attn_mask, True = blocked (to_mha_mask converts to that one)"
)


def _pair_symptom(got: torch.Tensor, expected: torch.Tensor, lengths: list[int] | None = None) -> str | None:
    """The first pair a wrong (L, S) or (B, L, S) boolean mask gets wrong, in the reader's words.

    A look into the future is named first, then a look at a pad, then a pair that should be allowed.
    """
    if not isinstance(got, torch.Tensor) or got.dtype != torch.bool or got.shape != expected.shape:
        return None
    g3, e3 = (got, expected) if got.dim() == 3 else (got[None], expected[None])
    i, j = torch.meshgrid(torch.arange(g3.shape[-2]), torch.arange(g3.shape[-1]), indexing="ij")
    pads = torch.zeros_like(g3) if lengths is None else j[None] >= torch.tensor(lengths)[:, None, None]
    for wrong, words in (
        (g3 & ~e3 & (j > i), "can see position {j}: the mask lets the future in"),
        (g3 & ~e3 & pads, "can see position {j}, a pad"),
        (~g3 & e3, "cannot see position {j}, an earlier " + ("position" if lengths is None else "real token")),
    ):
        if bool(wrong.any()):
            b, qi, kj = torch.nonzero(wrong)[0].tolist()
            text = f"position {qi} " + words.format(j=kj)
            if qi == kj:
                seen = bool(g3[b, qi, kj])
                text = f"position {qi} can see itself, a pad" if seen else f"position {qi} cannot see itself"
            if lengths is None:
                return text
            return f"in sequence {b} (length {lengths[b]}), {text}"
    return None


_CAUSAL = Exercise(
    id="causal_mask",
    chapter=3,
    title="The causal mask",
    signature="solution(L) -> Tensor",
    shapes="L → bool (L, L), True = may attend",
    task="Return the decoder's mask: query i may attend to keys 0, …, i (itself included), never to a later one.",
    reference=causal_mask,
    cases=lambda: [Case((L,), f"L={L}") for L in (4, 1, 6)],
    mistakes=(
        Mistake("inverted", lambda L: ~causal_mask(L), _INVERTED),
        Mistake(
            "transposed",
            lambda L: causal_mask(L).T,
            "{symptom}. The mask is transposed: row i is query i and column j key j; allow j ≤ i, the lower "
            "triangle (tril), not the upper one",
        ),
        Mistake(
            "shifted_down",
            lambda L: torch.ones(L, L, dtype=torch.bool).tril(-1),
            "{symptom}. Shifted by one: a position may attend to itself, use tril(), not tril(-1)",
        ),
        Mistake(
            "shifted_up",
            lambda L: torch.ones(L, L, dtype=torch.bool).tril(1),
            "{symptom}. Shifted by one: use tril(), not tril(1)",
        ),
        Mistake(
            "float",
            lambda L: torch.ones(L, L).tril(),
            "you returned a float mask of 1s and 0s: a float mask is added to the logits. Return a bool "
            "tensor (dtype=torch.bool), True = may attend",
        ),
        Mistake(
            "additive",
            lambda L: bool_to_additive(causal_mask(L)),
            "this is the additive mask (0 and −inf): the exercise asks for the boolean one, True = may attend",
        ),
    ),
    dtype="bool",
    symptom=lambda got, expected, case: _pair_symptom(got, expected),
    solution="""def my_causal_mask(L):
    return torch.ones(L, L, dtype=torch.bool).tril()  # (L, L): key j <= query i""",
    explanation="Row i is query i, column j key j; query i may see keys 0..i, the lower triangle with "
    "its diagonal: tril().",
)


def _lengths_cases(size_name: str) -> list[Case]:
    cases = []
    for lengths, size in (([3, 5, 1], 5), ([2], 4), ([3, 3], 3), ([0, 2], 3)):
        args = (torch.tensor(lengths), size)
        cases.append(Case(args, describe_args(("lengths", size_name), args)))
    return cases


def _key_padding_symptom(got: torch.Tensor, expected: torch.Tensor, case: Case) -> str | None:
    if not isinstance(got, torch.Tensor) or got.dtype != torch.bool or got.shape != expected.shape:
        return None
    n, j = torch.nonzero(got != expected)[0].tolist()
    length = int(case.args[0][n])
    if j < length:
        return f"in sequence {n} (length {length}), key {j} is a real token but is ignored"
    return f"in sequence {n} (length {length}), key {j} is a pad but is not ignored"


_KEY_PADDING = Exercise(
    id="key_padding_mask",
    chapter=3,
    title="A key_padding_mask for nn.MultiheadAttention",
    signature="solution(lengths, S) -> Tensor",
    shapes="lengths (N,) int, S → bool (N, S) in nn.MultiheadAttention's convention, True = ignore that key",
    task="Sequences padded on the right to length S: return the key_padding_mask nn.MultiheadAttention "
    "expects, True at the pads (the keys to ignore).",
    reference=lambda lengths, S: ~padding_mask(lengths, S),
    cases=lambda: _lengths_cases("S"),
    mistakes=(
        Mistake(
            "attnlab_convention",
            lambda lengths, S: padding_mask(lengths, S),
            "{symptom}. The mask is inverted: nn.MultiheadAttention's key_padding_mask says True = ignore "
            "this key; yours marks the real tokens, as attnlab's padding_mask does. Invert it",
        ),
        Mistake(
            "off_by_one",
            lambda lengths, S: torch.arange(S)[None, :] > lengths[:, None],
            "{symptom}. Off by one: key j is a pad when j >= length (positions count from 0)",
        ),
        Mistake(
            "float",
            lambda lengths, S: (~padding_mask(lengths, S)).float(),
            "you returned a float mask: nn.MultiheadAttention adds a float key_padding_mask to the logits. "
            "Return a bool tensor, True = ignore",
        ),
        Mistake(
            "transposed",
            lambda lengths, S: ~padding_mask(lengths, S).T,
            "you returned (S, N): one row per sequence, (N, S)",
        ),
    ),
    dtype="bool",
    symptom=_key_padding_symptom,
    solution="""def my_key_padding_mask(lengths, S):
    # (N, S): True at the pads, the keys to ignore.
    return torch.arange(S)[None, :] >= lengths[:, None]""",
    explanation="Key j of sequence n is a pad when j >= lengths[n] (positions count from 0). "
    "nn.MultiheadAttention's key_padding_mask says True = ignore, so True goes on the pads, the "
    "inverse of attnlab's padding_mask.",
)


def _random_masks() -> list[Case]:
    g = torch.Generator().manual_seed(6)
    masks = [torch.rand(4, 6, generator=g) < 0.6, torch.rand(2, 1, 5, generator=g) < 0.5, causal_mask(5)]
    masks[0][2] = False  # a query that may attend to nothing
    return [Case((m,), describe_args(("mask",), (m,))) for m in masks]


def _additive_symptom(got: torch.Tensor, expected: torch.Tensor, case: Case) -> str | None:
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape or not got.is_floating_point():
        return None
    allowed = case.args[0]
    blocked = got[~allowed]
    if bool((got[allowed] == 0).all()) and bool(torch.isfinite(blocked).all()) and bool((blocked <= -1e3).all()):
        return (
            f"masked pairs get {blocked.max().item():.3g}, not −inf: use float('-inf'). A large negative "
            "number is only nearly −inf: a row masked everywhere then spreads its weight evenly instead of "
            "having none"
        )
    if bool(torch.isneginf(got[allowed]).any()):
        return "a pair that may attend (True) gets −inf: True must give 0, False −inf"
    return None


_ADDITIVE = Exercise(
    id="bool_to_additive",
    chapter=3,
    title="From a boolean mask to an additive one",
    signature="solution(mask) -> Tensor",
    shapes="mask bool (...), True = may attend → float (...), the same shape",
    task="Return the float mask to add to the logits: 0 where the mask is True, −inf where it is False.",
    reference=bool_to_additive,
    cases=_random_masks,
    mistakes=(
        Mistake(
            "inverted",
            lambda m: torch.zeros(m.shape).masked_fill(m, float("-inf")),
            "−inf where the mask is True: True means may attend, so those pairs get 0 and the others −inf",
        ),
        Mistake(
            "as_float",
            lambda m: m.float(),
            "you turned True into 1 and False into 0: an additive mask is 0 where a pair may attend and −inf "
            "where it may not (adding 1 to some logits removes nothing)",
        ),
        Mistake("large_negative", lambda m: torch.zeros(m.shape).masked_fill(~m, -1e9), "{symptom}"),
    ),
    dtype="float",
    symptom=_additive_symptom,
    solution="""def my_bool_to_additive(mask):
    # The same shape, float32.
    return torch.zeros(mask.shape).masked_fill(~mask, float("-inf"))""",
    explanation="An additive mask is added to the logits: 0 leaves a pair as it was and −inf removes "
    "it, since e^(−inf) = 0. A large negative number only nearly removes it.",
)


def _causal_padding(lengths: torch.Tensor, L: int) -> torch.Tensor:
    return combine_masks(causal_mask(L), padding_mask(lengths, L)[:, None, :])  # (B, L, L)


_CAUSAL_PADDING = Exercise(
    id="causal_padding_mask",
    chapter=3,
    title="Causal and padding together",
    signature="solution(lengths, L) -> Tensor",
    shapes="lengths (B,) int, L → bool (B, L, L), True = may attend",
    task="Sequences padded on the right to length L: query i of sequence b may attend to key j when j ≤ i "
    "and key j is a real token (j < lengths[b]).",
    reference=_causal_padding,
    cases=lambda: _lengths_cases("L"),
    mistakes=(
        Mistake(
            "padding_on_queries",
            lambda lengths, L: causal_mask(L) & padding_mask(lengths, L)[:, :, None],
            "{symptom}. The padding mask must hide the pads as keys (columns), real[:, None, :]; you hid "
            "them as queries (rows)",
        ),
        Mistake(
            "causal_only",
            lambda lengths, L: causal_mask(L).expand(len(lengths), L, L),
            "{symptom}. Combine the causal mask with the padding mask (&): with right padding the real tokens never "
            "see a pad anyway, but the pads' own rows do",
        ),
        Mistake(
            "padding_only",
            lambda lengths, L: padding_mask(lengths, L)[:, None, :].expand(len(lengths), L, L),
            "{symptom}. Combine the padding mask with the causal mask (&)",
        ),
        Mistake(
            "or",
            lambda lengths, L: causal_mask(L) | padding_mask(lengths, L)[:, None, :],
            "{symptom}. Join the two masks with and (&), not or: a pair may attend only where both allow it",
        ),
        Mistake("inverted", lambda lengths, L: ~_causal_padding(lengths, L), _INVERTED),
    ),
    dtype="bool",
    symptom=lambda got, expected, case: _pair_symptom(got, expected, case.args[0].tolist()),
    solution="""def my_causal_padding_mask(lengths, L):
    causal = torch.ones(L, L, dtype=torch.bool).tril()  # (L, S): key j <= query i
    real = torch.arange(L)[None, :] < lengths[:, None]  # (B, S): the real tokens
    return causal & real[:, None, :]  # (B, L, S): causal, and real keys only""",
    explanation="Both conditions must hold, so the masks are joined with and. The padding mask hides "
    "keys, the columns: real[:, None, :] broadcasts it over the queries, and the pads' own rows lose "
    "the pads before them too.",
)

EXERCISES = (_CAUSAL, _KEY_PADDING, _ADDITIVE, _CAUSAL_PADDING)
