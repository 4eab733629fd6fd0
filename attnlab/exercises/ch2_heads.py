"""Exercises of chapter 2, multi-head attention: split into heads, concatenate them, per-head weights."""

from __future__ import annotations

import math

import torch

from ..functional import attention_logits, attention_weights
from ..heads import merge_heads, split_heads
from ._core import Exercise, Mistake, seeded_cases
from .ch1_attention import _SOFTMAX_DIM, _scores, _weights_symptom

__all__ = ["EXERCISES"]


def _split_no_transpose(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    B, L, D = x.shape
    return x.reshape(B, num_heads, L, D // num_heads)  # (B, H, L, E), positions mixed into heads


def _split_strided(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    B, L, D = x.shape
    return x.view(B, L, D // num_heads, num_heads).permute(0, 3, 1, 2)  # (B, H, L, E), features h, h+H, ...


_NO_TRANSPOSE = (
    "reshape without the transpose: view (B, L, D) as (B, L, H, E), then move the head axis forward with "
    "transpose(1, 2); reshaping straight to (B, H, L, E) mixes positions into the heads"
)
_STRIDED = (
    "head h holds features h, h + H, h + 2H, …: view the last axis as (H, E), not (E, H), so that head h "
    "holds features h·E to (h+1)·E − 1, as nn.MultiheadAttention splits them"
)

_SPLIT = Exercise(
    id="split_heads",
    chapter=2,
    title="Split into heads",
    signature="solution(x, num_heads) -> Tensor",
    shapes="x (B, L, D), num_heads H → (B, H, L, E) with E = D / H",
    task="Split the features of x into H heads: head h holds features h·E to (h+1)·E − 1 of every position, "
    "as nn.MultiheadAttention splits them.",
    reference=split_heads,
    cases=lambda: seeded_cases(
        ("x", "num_heads"), [((2, 5, 8), 2), ((1, 3, 12), 3), ((2, 4, 12), 4), ((3, 2, 6), 6)], 3
    ),
    mistakes=(
        Mistake("no_transpose", _split_no_transpose, _NO_TRANSPOSE),
        Mistake("strided", _split_strided, _STRIDED),
        Mistake(
            "heads_last",
            lambda x, h: x.view(*x.shape[:2], h, x.shape[2] // h),
            "you returned (B, L, H, E): move the head axis in front of the positions, transpose(1, 2), so "
            "that each head is an (L, E) matrix",
        ),
        Mistake(
            "transpose_first",
            lambda x, h: x.transpose(1, 2).reshape(x.shape[0], h, x.shape[1], x.shape[2] // h),
            "transposed before splitting: view the features as (H, E) first, then move the head axis, "
            "x.view(B, L, H, E).transpose(1, 2)",
        ),
        Mistake(
            "heads_transposed",
            lambda x, h: split_heads(x, h).transpose(-2, -1),
            "each head came out as (E, L): positions before features, (B, H, L, E)",
        ),
    ),
)


_MERGE = Exercise(
    id="merge_heads",
    chapter=2,
    title="Concatenate the heads",
    signature="solution(z) -> Tensor",
    shapes="z (B, H, L, E) → (B, L, H·E)",
    task="Undo the split: put the heads side by side, head h's output in columns h·E to (h+1)·E − 1.",
    reference=merge_heads,
    cases=lambda: seeded_cases(("z",), [((2, 3, 5, 4),), ((1, 2, 3, 6),), ((2, 4, 1, 2),)], 4),
    mistakes=(
        Mistake(
            "no_transpose",
            lambda z: z.reshape(z.shape[0], z.shape[2], -1),
            "reshape without the transpose: move the heads back behind the positions first, transpose(1, 2), "
            "then reshape to (B, L, H·E)",
        ),
        Mistake(
            "interleaved",
            lambda z: z.permute(0, 2, 3, 1).reshape(z.shape[0], z.shape[2], -1),
            "the heads' features are interleaved: head h must land in columns h·E to (h+1)·E − 1, so permute "
            "to (B, L, H, E), not (B, L, E, H)",
        ),
        Mistake(
            "averaged",
            lambda z: z.mean(1),
            "you averaged the heads: concatenate them instead, to width H·E",
        ),
        Mistake("summed", lambda z: z.sum(1), "you summed the heads: concatenate them instead, to width H·E"),
        Mistake(
            "stacked_positions",
            lambda z: torch.cat(z.unbind(1), dim=1),
            "you stacked the heads along the positions, (B, H·L, E): concatenate along the features, the last axis",
        ),
        Mistake(
            "not_flattened",
            lambda z: z.transpose(1, 2),
            "you returned (B, L, H, E): flatten the last two axes, reshape(B, L, H·E)",
        ),
    ),
)


def _head_weights(q: torch.Tensor, k: torch.Tensor, num_heads: int) -> torch.Tensor:
    return attention_weights(split_heads(q, num_heads), split_heads(k, num_heads))  # (B, H, L, S)


_HEAD_WEIGHTS = Exercise(
    id="multi_head_weights",
    chapter=2,
    title="Per-head attention weights, queries and keys from two sequences",
    signature="solution(q, k, num_heads) -> Tensor",
    shapes="q (B, L, D), k (B, S, D), num_heads H → (B, H, L, S)",
    task="q and k are already projected. Split both into H heads and return every head's weights "
    "softmax(q_h k_hᵀ / √E), E = D / H.",
    reference=_head_weights,
    cases=lambda: seeded_cases(
        ("q", "k", "num_heads"),
        [((2, 5, 8), (2, 7, 8), 2), ((1, 4, 12), (1, 3, 12), 3), ((2, 6, 8), (2, 6, 8), 4), ((1, 3, 6), (1, 5, 6), 1)],
        5,
    ),
    mistakes=(
        Mistake(
            "divide_by_sqrt_D",
            lambda q, k, h: torch.softmax(_scores(split_heads(q, h), split_heads(k, h)) / math.sqrt(q.shape[-1]), -1),
            "scaled by 1/√D, the model width: each head scales by its own width, 1/√E with E = D / H",
        ),
        Mistake(
            "no_scale",
            lambda q, k, h: torch.softmax(_scores(split_heads(q, h), split_heads(k, h)), -1),
            "off by a factor of √dₖ: divide each head's scores by √E, E = D / H",
        ),
        Mistake(
            "no_transpose",
            lambda q, k, h: attention_weights(_split_no_transpose(q, h), _split_no_transpose(k, h)),
            _NO_TRANSPOSE,
        ),
        Mistake(
            "strided",
            lambda q, k, h: attention_weights(_split_strided(q, h), _split_strided(k, h)),
            _STRIDED,
        ),
        Mistake(
            "softmax_over_queries",
            lambda q, k, h: torch.softmax(attention_logits(split_heads(q, h), split_heads(k, h)), -2),
            _SOFTMAX_DIM,
        ),
        Mistake(
            "averaged",
            lambda q, k, h: _head_weights(q, k, h).mean(1),
            "you averaged over the heads (what nn.MultiheadAttention returns by default): return one map per "
            "head, (B, H, L, S)",
        ),
    ),
    symptom=_weights_symptom,
)

EXERCISES = (_SPLIT, _MERGE, _HEAD_WEIGHTS)
