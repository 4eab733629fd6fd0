"""Exercises of chapter 6, the cost of attention: multiply-accumulates, the scores' memory, and the online
softmax that the tiled path uses to avoid that memory."""

from __future__ import annotations

import torch

from ._core import Case, Exercise, Mistake, describe_args

__all__ = ["EXERCISES"]


def _count_cases(names: tuple[str, ...], rows: tuple[tuple[int, ...], ...]) -> list[Case]:
    return [Case(row, describe_args(names, row)) for row in rows]


_FLOPS = Exercise(
    id="attention_flops",
    chapter=6,
    title="The multiply-accumulates of attention",
    signature="solution(B, H, L, S, E) -> int",
    shapes="B, H, L, S, E: batch, heads, queries, keys, head width (values have width E too) → a number",
    task="Count the multiply-accumulates (MACs) of the two matrix products of attention, Q Kᵀ and A V, "
    "for B sequences of H heads.",
    reference=lambda B, H, L, S, E: 2 * B * H * L * S * E,
    cases=lambda: _count_cases(("B", "H", "L", "S", "E"), ((2, 3, 5, 7, 11), (1, 4, 16, 32, 8), (8, 12, 197, 197, 64))),
    mistakes=(
        Mistake(
            "flops",
            lambda B, H, L, S, E: 4 * B * H * L * S * E,
            "that counts FLOPs, 2 per multiply-accumulate: the exercise asks for MACs",
        ),
        Mistake(
            "one_product",
            lambda B, H, L, S, E: B * H * L * S * E,
            "you counted one of the two products: Q Kᵀ and A V each take B·H·L·S·E multiply-accumulates",
        ),
        Mistake(
            "square",
            lambda B, H, L, S, E: 2 * B * H * L * L * E,
            "you counted L² pairs: the score matrix is L × S, with L ≠ S here",
        ),
        Mistake(
            "no_heads",
            lambda B, H, L, S, E: 2 * B * L * S * E,
            "the heads are missing: each of the H heads computes its own two products",
        ),
        Mistake(
            "no_batch",
            lambda B, H, L, S, E: 2 * H * L * S * E,
            "the batch is missing: each of the B sequences computes its own products",
        ),
        Mistake(
            "with_softmax",
            lambda B, H, L, S, E: 2 * B * H * L * S * E + B * H * L * S,
            "count only the two matrix products, not the softmax's B·H·L·S exponentials",
        ),
    ),
    output="number",
)

_MEMORY = Exercise(
    id="scores_memory",
    chapter=6,
    title="The memory of the score matrix",
    signature="solution(B, H, L, S) -> int",
    shapes="B, H, L, S → a number of bytes",
    task="How many bytes does the (B, H, L, S) matrix of scores take in float32?",
    reference=lambda B, H, L, S: 4 * B * H * L * S,
    cases=lambda: _count_cases(("B", "H", "L", "S"), ((2, 3, 5, 7), (1, 12, 197, 197), (4, 16, 2048, 1024))),
    mistakes=(
        Mistake("bits", lambda B, H, L, S: 32 * B * H * L * S, "you counted bits: a float32 takes 4 bytes"),
        Mistake("elements", lambda B, H, L, S: B * H * L * S, "you counted elements: each float32 takes 4 bytes"),
        Mistake("float64", lambda B, H, L, S: 8 * B * H * L * S, "8 bytes is a float64: a float32 takes 4"),
        Mistake("float16", lambda B, H, L, S: 2 * B * H * L * S, "2 bytes is a float16: a float32 takes 4"),
        Mistake(
            "square",
            lambda B, H, L, S: 4 * B * H * L * L,
            "you counted L² scores: the matrix is L × S, with L ≠ S here",
        ),
        Mistake(
            "no_heads",
            lambda B, H, L, S: 4 * B * L * S,
            "the heads are missing: every head has its own L × S matrix",
        ),
    ),
    output="number",
)


def _softmax_cases() -> list[Case]:
    g = torch.Generator().manual_seed(10)
    cases = []
    for shape, spread in (((4,), 1.0), ((2, 3), 20.0), ((3,), 1.0)):
        m1, m2 = (spread * torch.randn(2, *shape, generator=g, dtype=torch.float64)).unbind(0)
        s1 = 1 + 4 * torch.rand(shape, generator=g, dtype=torch.float64)
        s2 = 1 + 4 * torch.rand(shape, generator=g, dtype=torch.float64)
        label = describe_args(("m1", "s1", "m2", "s2"), (m1, s1, m2, s2))
        if len(cases) == 2:
            m1[0], s1[0] = float("-inf"), 0.0  # row 0 saw only masked keys in block 1
            m1[1], s1[1] = float("-inf"), 0.0  # row 1 saw only masked keys in both blocks
            m2[1], s2[1] = float("-inf"), 0.0
            label += " (row 0 of block 1 fully masked: m1 = -inf, s1 = 0; row 1 of both blocks too)"
        cases.append(Case((m1, s1, m2, s2), label))
    return cases


def _with_max(m, m1, s1, m2, s2):
    """The state of both blocks, with both sums rescaled to the max m (the right one, or a wrong one).

    A row that has seen only masked keys has m = −inf and sum 0; its factors exp(m_i − m) would be
    exp(−inf − (−inf)) = NaN, so they are 0 there and the state stays (−inf, 0), as in attnlab.tiled.
    """
    blind = torch.isneginf(m)
    factor1 = torch.where(blind, 0.0, torch.exp(m1 - m))
    factor2 = torch.where(blind, 0.0, torch.exp(m2 - m))
    return m, s1 * factor1 + s2 * factor2


def _combine(m1, s1, m2, s2):
    return _with_max(torch.maximum(m1, m2), m1, s1, m2, s2)


def _nan_when_blind(m1, s1, m2, s2):
    m = torch.maximum(m1, m2)
    return m, s1 * torch.exp(m1 - m) + s2 * torch.exp(m2 - m)  # −inf − (−inf) = NaN in a fully masked row


def _rescaled_up(m1, s1, m2, s2):
    m = torch.maximum(m1, m2)
    return m, s1 * torch.exp(m - m1) + s2 * torch.exp(m - m2)  # the factors upside down


_ONLINE_SOFTMAX = Exercise(
    id="online_softmax",
    chapter=6,
    title="Combine two partial softmax states",
    signature="solution(m1, s1, m2, s2) -> (m, s)",
    shapes="m1, s1, m2, s2 (...) → m (...), s (...)",
    task="Two blocks of keys gave, for every row, a max m_i and a sum s_i of exp(logit − m_i). Return the "
    "state of both blocks together: its max m and its sum s relative to m, as the tiled path does. A row "
    "whose keys were all masked has m_i = −inf and s_i = 0; if both blocks were, return (−inf, 0), not NaN.",
    reference=_combine,
    cases=_softmax_cases,
    mistakes=(
        Mistake(
            "nan_when_fully_masked",
            _nan_when_blind,
            "a row whose keys were masked in both blocks came out NaN: m = −inf there, and exp(m_i − m) is "
            "exp(−inf − (−inf)) = NaN; where m is −inf, use a factor of 0, so the state stays (−inf, 0)",
        ),
        Mistake(
            "no_rescale",
            lambda m1, s1, m2, s2: (torch.maximum(m1, m2), s1 + s2),
            "the sums were not rescaled: s1 is relative to m1 and s2 to m2; bring both to the new max, "
            "s1·exp(m1 − m) + s2·exp(m2 − m)",
        ),
        Mistake(
            "wrong_sign",
            _rescaled_up,
            "rescaled the wrong way: multiply s_i by exp(m_i − m), which is at most 1, not by exp(m − m_i)",
        ),
        Mistake(
            "first_only",
            lambda m1, s1, m2, s2: (torch.maximum(m1, m2), s1 * torch.exp(m1 - torch.maximum(m1, m2)) + s2),
            "only s1 was rescaled: s2 needs its factor exp(m2 − m) too",
        ),
        Mistake(
            "relative_to_zero",
            lambda m1, s1, m2, s2: (torch.maximum(m1, m2), s1 * torch.exp(m1) + s2 * torch.exp(m2)),
            "that sum is relative to 0, s_i·exp(m_i): keep it relative to the new max m, s_i·exp(m_i − m)",
        ),
        Mistake(
            "minimum",
            lambda m1, s1, m2, s2: _with_max(torch.minimum(m1, m2), m1, s1, m2, s2),
            "the new max is the larger of the two, torch.maximum(m1, m2), not the smaller",
        ),
        Mistake(
            "global_max",
            lambda m1, s1, m2, s2: _with_max(torch.maximum(m1.max(), m2.max()), m1, s1, m2, s2),
            "one max for the whole tensor: each row keeps its own, the elementwise torch.maximum(m1, m2)",
        ),
    ),
    output="tensors",
    parts=("m", "s"),
)

EXERCISES = (_FLOPS, _MEMORY, _ONLINE_SOFTMAX)
