"""Chapter 6's transfer exercises: what the chapter counts, applied where it did not count it.

Nothing on the chapter's page answers them by copying: the memory of a decoder's key/value cache (the
cache chapter 3 decodes with), and the inverse of the chapter's memory count, the longest sequence whose
explicit attention fits in a memory budget. Each carries its worked solution and why it is right, for
:func:`attnlab.exercises.reveal`.
"""

from __future__ import annotations

import math
from typing import Any

from ._compare import _number
from ._core import Case, Exercise, Mistake, describe_args

__all__ = ["EXERCISES"]

MIB = 2**20  # bytes in a mebibyte, the MiB the chapter's tables print


def _count_cases(names: tuple[str, ...], rows: tuple[tuple[int, ...], ...]) -> list[Case]:
    return [Case(row, describe_args(names, row)) for row in rows]


def _how_far(got: Any, expected: Any, case: Case) -> str:
    """``you returned 3,344 for budget_mib=256, …, 1.415× the answer``, or ``…, 1 more than the answer``
    when the two are within a percent: how far a wrong count is, in the reader's terms."""
    ratio, diff = float(got) / float(expected), float(got) - float(expected)
    if abs(ratio - 1) < 0.01 and diff == round(diff):
        far = f"{_number(abs(int(diff)))} {'more' if diff > 0 else 'less'} than the answer"
    else:
        far = f"{ratio:.4g}× the answer"
    return f"you returned {_number(got)} for {case.label}, {far}"


# ---- kv_cache_bytes -----------------------------------------------------------------------------


def _kv_bytes(layers: int, batch: int, heads: int, head_dim: int, length: int, bytes_per_value: int) -> int:
    # every layer keeps a key and a value, (B, H, length, E) each
    return 2 * layers * batch * heads * length * head_dim * bytes_per_value


_KV_CACHE = Exercise(
    id="kv_cache_bytes",
    chapter=6,
    title="The memory of a key/value cache",
    signature="solution(layers, batch, heads, head_dim, length, bytes_per_value) -> int",
    shapes="layers (attention layers), batch B, heads H, head_dim E, length (tokens per sequence), "
    "bytes_per_value (4 for float32, 2 for float16) → a number of bytes",
    task="A decoder generates with a key/value cache (chapter 3): every attention layer keeps what later "
    "tokens need from each token seen so far. How many bytes does the whole cache hold after length "
    "tokens, for batch sequences? Count the cached tensors only, not the model's weights.",
    reference=_kv_bytes,
    cases=lambda: _count_cases(
        ("layers", "batch", "heads", "head_dim", "length", "bytes_per_value"),
        ((3, 5, 4, 8, 10, 4), (12, 1, 12, 64, 1024, 4), (32, 8, 32, 128, 4096, 2)),
    ),
    mistakes=(
        Mistake(
            "keys_only",
            lambda n, B, H, E, t, b: n * B * H * E * t * b,
            "{symptom}. Only the keys: the cache keeps the values too, one (B, H, length, E) tensor of each "
            "per layer, because a new query weighs the earlier tokens' values as well as their keys",
        ),
        Mistake(
            "queries_too",
            lambda n, B, H, E, t, b: 3 * n * B * H * E * t * b,
            "{symptom}. You cached the queries too: a token's query is used once, at its own step, while its "
            "key and value are read again by every later token, so the cache holds keys and values only",
        ),
        Mistake(
            "scores_shape",
            lambda n, B, H, E, t, b: 2 * n * B * H * t * t * b,
            "{symptom}. You counted (length × length) matrices, the scores' shape: the cache holds a key and a "
            "value per token, each of head_dim numbers per head, (B, H, length, E); no score is cached",
        ),
        Mistake(
            "heads_twice",
            lambda n, B, H, E, t, b: 2 * n * B * H * (H * E) * t * b,
            "{symptom}. The heads count twice: a head's key has head_dim numbers, and the H heads of a token "
            "together have H·head_dim, the model width; you gave every head the whole width",
        ),
        Mistake(
            "bits",
            lambda n, B, H, E, t, b: 8 * _kv_bytes(n, B, H, E, t, b),
            "{symptom}. You counted bits: bytes_per_value is already in bytes, 8 bits each",
        ),
        Mistake(
            "one_layer",
            lambda n, B, H, E, t, b: _kv_bytes(1, B, H, E, t, b),
            "{symptom}. One layer's cache: every attention layer keeps its own keys and values, computed from "
            "its own input, so multiply by the number of layers",
        ),
        Mistake(
            "elements",
            lambda n, B, H, E, t, b: _kv_bytes(n, B, H, E, t, 1),
            "{symptom}. You counted numbers, not bytes: each takes bytes_per_value bytes",
        ),
    ),
    output="number",
    symptom=_how_far,
    solution="""def my_kv_cache_bytes(layers, batch, heads, head_dim, length, bytes_per_value):
    one_tensor = batch * heads * length * head_dim  # (B, H, length, E) numbers
    per_layer = 2 * one_tensor  # a key and a value; a query is never reused
    return layers * per_layer * bytes_per_value""",
    explanation="At every step the new token's query attends to the keys of all the tokens so far and "
    "weighs their values, so each attention layer keeps one key and one value per token: two (B, H, length, "
    "E) tensors. The query is used once and never cached, and no score is kept. Times the layers and the "
    "bytes per number: 2·layers·B·H·length·E·bytes. It grows linearly with the length, unlike the explicit "
    "path's (L, S) scores; for a 7-billion-parameter model (32 layers of 32 heads of 128) in float16, 4096 "
    "tokens of one sequence cache 2 GiB.",
)


# ---- longest_explicit ---------------------------------------------------------------------------


def _longest(budget_mib: int, batch: int, heads: int, bytes_per_mib: int = MIB, matrices: int = 2) -> int:
    """The largest n with matrices·4·batch·heads·n² ≤ budget: isqrt is exact where a float root may not be."""
    return math.isqrt(budget_mib * bytes_per_mib // (matrices * 4 * batch * heads))


def _rounded(budget_mib: int, batch: int, heads: int, rounding: Any) -> int:
    return int(rounding(math.sqrt(budget_mib * MIB / (8 * batch * heads))))


_LONGEST = Exercise(
    id="longest_explicit",
    chapter=6,
    title="The longest sequence the explicit path can hold",
    signature="solution(budget_mib, batch, heads) -> int",
    shapes="a memory budget in MiB (2²⁰ bytes), B sequences, H heads, L = S = n → the largest n",
    task="At its peak the explicit path holds two float32 (B, H, n, n) matrices at once, as the chapter "
    "measured. Return the largest n for which those two matrices fit in a budget of budget_mib MiB "
    "(1 MiB = 2²⁰ bytes), counting nothing else. Two matrices that fill the budget exactly fit.",
    reference=_longest,
    cases=lambda: _count_cases(
        ("budget_mib", "batch", "heads"), ((256, 2, 3), (1536, 1, 12), (100, 3, 4), (40960, 8, 32))
    ),
    mistakes=(
        Mistake(
            "one_matrix",
            lambda budget, B, H: _longest(budget, B, H, matrices=1),
            "{symptom}. You fitted one matrix: at its peak the explicit path holds the scores and the weights "
            "the softmax makes from them, two (B, H, n, n) matrices, 8·B·H·n² bytes",
        ),
        Mistake(
            "elements",
            lambda budget, B, H: math.isqrt(budget * MIB // (2 * B * H)),
            "{symptom}. You counted numbers, not bytes: a float32 takes 4 bytes, so two matrices take 8·B·H·n² bytes",
        ),
        Mistake(
            "rounded_up",
            lambda budget, B, H: _rounded(budget, B, H, math.ceil),
            "{symptom}. Rounded up: the square root is rarely a whole number, and the n above it no longer "
            "fits; round down (math.isqrt, or int(math.sqrt(...)))",
        ),
        Mistake(
            "rounded",
            lambda budget, B, H: _rounded(budget, B, H, round),
            "{symptom}. Rounded to the nearest: when the root's fraction is .5 or more, that n no longer fits; "
            "round down (math.isqrt, or int(math.sqrt(...)))",
        ),
        Mistake(
            "exact_fit_excluded",
            lambda budget, B, H: math.isqrt((budget * MIB - 1) // (8 * B * H)),
            "{symptom}. These matrices fill the budget exactly, and that fits: the test is 8·B·H·n² ≤ budget, not <",
        ),
        Mistake(
            "megabytes",
            lambda budget, B, H: _longest(budget, B, H, bytes_per_mib=10**6),
            "{symptom}. You took a MiB as 10⁶ bytes, a megabyte (MB): a mebibyte (MiB) is 2²⁰ = 1,048,576 bytes",
        ),
        Mistake(
            "not_converted",
            lambda budget, B, H: _longest(budget, B, H, bytes_per_mib=1),
            "{symptom}. You compared bytes with MiB: the matrices' 8·B·H·n² is in bytes, so multiply "
            "budget_mib by 2²⁰ first",
        ),
    ),
    output="number",
    symptom=_how_far,
    solution="""def my_longest_explicit(budget_mib, batch, heads):
    budget = budget_mib * 2**20  # bytes
    per_entry = 2 * 4 * batch * heads  # scores and weights, 4 bytes each, per (i, j)
    # the largest n with per_entry * n**2 <= budget, rounded down
    return math.isqrt(budget // per_entry)""",
    explanation="The peak is 2 · 4 · B · H · n² bytes, scores and weights in float32, and must be at most "
    "the budget in bytes, budget_mib · 2²⁰. So n² ≤ budget / (8·B·H), and n is the square root rounded "
    "down: the next whole n already overflows, and a root that is a whole number fits exactly. math.isqrt "
    "of the integer quotient gives it exactly (n² ≤ q and n² ≤ ⌊q⌋ are the same test for a whole n). "
    "Memory grows as n², so the longest sequence grows only as its square root: four times the memory "
    "buys twice the length, and 40 GiB holds n = 4579 for 8 sequences of 32 heads.",
)

EXERCISES = (_KV_CACHE, _LONGEST)
