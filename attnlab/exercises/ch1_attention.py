"""Exercises of chapter 1, self-attention: the scaled scores, the weights, and attention itself."""

from __future__ import annotations

import math

import torch

from ..functional import attention_logits, attention_weights, scaled_dot_product_attention
from ._core import Case, Exercise, Mistake, seeded_cases

__all__ = ["EXERCISES"]

_SOFTMAX_DIM = "rows do not sum to 1: softmax over the wrong dimension? Take it along the keys, dim=-1"
_NO_SCALE = "off by a factor of √dₖ: divide the scores q kᵀ by √E (E = q.shape[-1]) before the softmax"
_BY_E = "divided by E instead of √E: the scale is 1/√dₖ, the square root of the query width"
_TIMES = "multiplied the scores by √E: divide by it instead"
_BY_S = "divided by √S, with S the number of keys: divide by √E, the width of a query (q.shape[-1])"
_TRANSPOSED = "the map is transposed: row i must be query i and column j key j, q @ k.transpose(-2, -1)"


def _qk_cases() -> list[Case]:
    shapes = [((4, 8), (4, 8)), ((5, 8), (7, 8)), ((2, 3, 5, 8), (2, 3, 7, 8)), ((1, 6, 16), (1, 2, 16))]
    return seeded_cases(("q", "k"), shapes, seed=1)


def _qkv_cases() -> list[Case]:
    shapes = [
        ((4, 8), (4, 8), (4, 8)),
        ((5, 8), (7, 8), (7, 3)),
        ((2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 6)),
        ((1, 6, 16), (1, 2, 16), (1, 2, 4)),
    ]
    return seeded_cases(("q", "k", "v"), shapes, seed=2)


def _weights_symptom(got: torch.Tensor, expected: torch.Tensor, case: Case) -> str | None:
    """What a wrong (..., L, S) map of weights shows: negative weights, or rows that do not sum to 1."""
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape or not got.is_floating_point():
        return None
    if bool((got < 0).any()):
        return "some weights are negative: a softmax along each row gives weights ≥ 0 that sum to 1"
    if not torch.allclose(got.sum(-1), torch.ones((), dtype=got.dtype)):
        return _SOFTMAX_DIM
    return None


def _scores(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return q @ k.transpose(-2, -1)  # (..., L, S)


_SCORES = Exercise(
    id="attention_scores",
    chapter=1,
    title="Scaled scores",
    signature="solution(q, k) -> Tensor",
    shapes="q (..., L, E), k (..., S, E) → (..., L, S)",
    task="Return the scaled scores q kᵀ / √dₖ (dₖ = E, the width of a query), before any softmax.",
    reference=lambda q, k: attention_logits(q, k),
    cases=_qk_cases,
    mistakes=(
        Mistake("no_scale", _scores, "off by a factor of √dₖ: divide q kᵀ by √E (E = q.shape[-1])"),
        Mistake("divide_by_E", lambda q, k: _scores(q, k) / q.shape[-1], _BY_E),
        Mistake("times_sqrt_E", lambda q, k: _scores(q, k) * math.sqrt(q.shape[-1]), _TIMES),
        Mistake("divide_by_sqrt_S", lambda q, k: _scores(q, k) / math.sqrt(k.shape[-2]), _BY_S),
        Mistake(
            "divide_by_sqrt_L",
            lambda q, k: _scores(q, k) / math.sqrt(q.shape[-2]),
            "divided by √L, with L the number of queries: divide by √E, the width of a query (q.shape[-1])",
        ),
        Mistake("transposed", lambda q, k: k @ q.transpose(-2, -1) / math.sqrt(q.shape[-1]), _TRANSPOSED),
        Mistake(
            "softmax",
            lambda q, k: attention_weights(q, k),
            "you applied the softmax: this exercise asks for the scaled scores, before it",
        ),
    ),
)

_WEIGHTS = Exercise(
    id="attention_weights",
    chapter=1,
    title="Attention weights, a softmax along each row",
    signature="solution(q, k) -> Tensor",
    shapes="q (..., L, E), k (..., S, E) → (..., L, S), each row summing to 1",
    task="Return the attention weights softmax(q kᵀ / √E): row i says how query i divides its attention "
    "among the S keys.",
    reference=lambda q, k: attention_weights(q, k),
    cases=_qk_cases,
    mistakes=(
        Mistake("no_scale", lambda q, k: torch.softmax(_scores(q, k), -1), _NO_SCALE),
        Mistake("divide_by_E", lambda q, k: torch.softmax(_scores(q, k) / q.shape[-1], -1), _BY_E),
        Mistake("softmax_over_queries", lambda q, k: torch.softmax(attention_logits(q, k), -2), _SOFTMAX_DIM),
        Mistake(
            "softmax_over_dim_0",
            lambda q, k: torch.softmax(attention_logits(q, k), 0),
            "rows do not sum to 1: softmax over dim=0, the first dimension (for a batch, across its "
            "sequences); take it along the keys, dim=-1",
        ),
        Mistake(
            "no_softmax",
            lambda q, k: attention_logits(q, k),
            "rows do not sum to 1: these are the scaled scores; turn each row into weights with a softmax "
            "along the keys (dim=-1)",
        ),
        Mistake("transposed", lambda q, k: torch.softmax(attention_logits(k, q), -1), _TRANSPOSED),
    ),
    symptom=_weights_symptom,
)


def _attend(weights: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return weights @ v  # (..., L, Ev)


_ATTENTION = Exercise(
    id="scaled_dot_product_attention",
    chapter=1,
    title="Scaled dot-product attention",
    signature="solution(q, k, v) -> Tensor",
    shapes="q (..., L, E), k (..., S, E), v (..., S, Ev) → (..., L, Ev)",
    task="Return softmax(q kᵀ / √E) v, with no mask, for any number of leading (batch) dimensions.",
    reference=lambda q, k, v: scaled_dot_product_attention(q, k, v),
    cases=_qkv_cases,
    mistakes=(
        Mistake("no_scale", lambda q, k, v: _attend(torch.softmax(_scores(q, k), -1), v), _NO_SCALE),
        Mistake("divide_by_E", lambda q, k, v: _attend(torch.softmax(_scores(q, k) / q.shape[-1], -1), v), _BY_E),
        Mistake(
            "times_sqrt_E",
            lambda q, k, v: _attend(torch.softmax(_scores(q, k) * math.sqrt(q.shape[-1]), -1), v),
            _TIMES,
        ),
        Mistake(
            "divide_by_sqrt_S",
            lambda q, k, v: _attend(torch.softmax(_scores(q, k) / math.sqrt(k.shape[-2]), -1), v),
            _BY_S,
        ),
        Mistake(
            "softmax_over_queries",
            lambda q, k, v: _attend(torch.softmax(attention_logits(q, k), -2), v),
            _SOFTMAX_DIM,
        ),
        Mistake(
            "softmax_over_dim_0",
            lambda q, k, v: _attend(torch.softmax(attention_logits(q, k), 0), v),
            "softmax over dim=0, the first dimension (for a batch, across its sequences): take it along "
            "the keys, dim=-1",
        ),
        Mistake(
            "no_softmax",
            lambda q, k, v: _attend(attention_logits(q, k), v),
            "no softmax: the scaled scores must become weights (a softmax along the keys, dim=-1) before "
            "they multiply v",
        ),
        Mistake(
            "returned_weights",
            lambda q, k, v: attention_weights(q, k),
            "you returned the attention weights (..., L, S): multiply them by v to get the output",
        ),
        Mistake(
            "averaged_keys",
            lambda q, k, v: _attend(attention_weights(q, k), k),
            "you averaged the keys: the output is a weighted average of the values, weights @ v",
        ),
    ),
)

EXERCISES = (_SCORES, _WEIGHTS, _ATTENTION)
