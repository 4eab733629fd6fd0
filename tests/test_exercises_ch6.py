"""Chapter 6's transfer exercises (``ch6_transfer``): kv_cache_bytes, longest_explicit.

Each reference is checked against what it counts: the key/value cache against the bytes of the tensors
``attnlab.decoding`` actually caches while it decodes, layer by layer; the longest sequence against
``attnlab.cost.scores_bytes``, two matrices of n fitting and two of n + 1 not. Right answers written
another way pass; wrong ones written as a reader writes them are named; a stub is neutral and a crash is
explained. The checks run through ``run_check`` on the module's own exercises, so they hold whether or
not the module is registered.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from attnlab import MultiHeadAttention
from attnlab.cost import scores_bytes
from attnlab.decoding import KVCache, fill_cache
from attnlab.exercises import ch6_transfer
from attnlab.exercises._core import run_check

EXERCISES = {exercise.id: exercise for exercise in ch6_transfer.EXERCISES}
NEW = ("kv_cache_bytes", "longest_explicit")


def check(exercise_id, solution):
    return run_check(EXERCISES[exercise_id], solution)


# ---- kv_cache_bytes -----------------------------------------------------------------------------


class _Decoder(nn.Module):
    """A one-layer decoder as attnlab.decoding expects it: tok, pos, a batch-first attention, out."""

    def __init__(self, d: int, heads: int, vocab: int = 11, positions: int = 16) -> None:
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(positions, d)
        self.attn = MultiHeadAttention(d, heads, batch_first=True)
        self.out = nn.Linear(d, vocab)


def _cached_bytes(cache: KVCache) -> int:
    """The bytes of what the cache holds for attention: its keys and values (not its bookkeeping)."""
    return cache.keys.numel() * cache.keys.element_size() + cache.values.numel() * cache.values.element_size()


@pytest.mark.parametrize(("batch", "heads", "head_dim", "length", "dtype"), [
    (3, 4, 8, 5, torch.float32), (2, 2, 6, 9, torch.float64), (1, 1, 16, 1, torch.float32),
])  # fmt: skip
def test_the_cache_reference_is_the_bytes_that_decoding_caches(batch, heads, head_dim, length, dtype):
    """Three layers, each with its own cache filled by attnlab.decoding from the same tokens: the bytes of
    their keys and values are what the reference counts."""
    torch.manual_seed(0)
    layers = [_Decoder(heads * head_dim, heads).to(dtype).eval() for _ in range(3)]
    tokens = torch.randint(0, 11, (batch, length), generator=torch.Generator().manual_seed(1))  # (B, length)
    with torch.no_grad():
        caches = [fill_cache(layer, tokens)[1] for layer in layers]
    for cache in caches:
        assert cache.keys.shape == cache.values.shape == (batch, heads, length, head_dim)  # (B, H, length, E)
    reference = EXERCISES["kv_cache_bytes"].reference
    item = torch.empty((), dtype=dtype).element_size()
    assert sum(map(_cached_bytes, caches)) == reference(3, batch, heads, head_dim, length, item)
    assert _cached_bytes(caches[0]) == reference(1, batch, heads, head_dim, length, item)


def test_the_cache_grows_linearly_with_the_length_and_the_scores_do_not():
    reference = EXERCISES["kv_cache_bytes"].reference
    for n in (256, 1024, 4096):
        assert reference(1, 1, 12, 64, 2 * n, 4) == 2 * reference(1, 1, 12, 64, n, 4)
        assert scores_bytes(1, 12, 2 * n, 2 * n) == 4 * scores_bytes(1, 12, n, n)
    assert reference(32, 1, 32, 128, 4096, 2) == 2 * 2**30  # the explanation's 2 GiB


@pytest.mark.parametrize(
    "solution",
    [
        lambda n, B, H, E, t, b: n * 2 * B * t * (H * E) * b,  # the model width D = H·E per token
        lambda n, B, H, E, t, b: float(2 * n * B * H * E * t * b),
        lambda n, B, H, E, t, b: sum(  # tensors on the meta device: shapes, no memory
            torch.empty(B, H, t, E, device="meta", dtype=torch.float16 if b == 2 else torch.float32).nbytes
            for _layer in range(n)
            for _kv in ("key", "value")
        ),
    ],
    ids=["model_width", "float", "meta_tensors"],
)
def test_cache_answers_written_another_way_pass(solution):
    result = check("kv_cache_bytes", solution)
    assert result.passed, result.message


@pytest.mark.parametrize(
    ("solution", "phrase"),
    [
        (lambda n, B, H, E, t, b: n * B * H * E * t * b, "Only the keys"),
        (lambda n, B, H, E, t, b: n * B * t * (H * E) * b * 3, "You cached the queries too"),
        (lambda n, B, H, E, t, b: 2 * n * B * H * t * t * b, "the scores' shape"),
        (lambda n, B, H, E, t, b: 2 * n * B * H * t * (H * E) * b, "The heads count twice"),
        (lambda n, B, H, E, t, b: 2 * n * B * H * E * t * b * 8, "You counted bits"),
        (lambda n, B, H, E, t, b: 2 * B * H * E * t * b, "One layer's cache"),
        (lambda n, B, H, E, t, b: 2 * n * B * H * E * t, "You counted numbers, not bytes"),
    ],
    ids=["keys_only", "queries", "scores", "width_per_head", "bits", "one_layer", "numbers"],
)
def test_cache_mistakes_written_by_a_reader_are_named(solution, phrase):
    result = check("kv_cache_bytes", solution)
    assert not result.passed and phrase in result.message, result.message


# ---- longest_explicit ---------------------------------------------------------------------------


def _fits(n: int, budget_mib: int, batch: int, heads: int) -> bool:
    """Whether the explicit path's peak, scores and weights, fits: 2 · scores_bytes ≤ the budget."""
    return n == 0 or 2 * scores_bytes(batch, heads, n, n) <= budget_mib * 2**20


@pytest.mark.parametrize(("budget_mib", "batch", "heads"), [
    *(case.args for case in ch6_transfer.EXERCISES[1].cases()),
    (1, 1, 1), (3, 2, 5), (768, 1, 12), (769, 1, 12), (767, 1, 12), (10**6, 64, 96),
])  # fmt: skip
def test_the_longest_n_fits_and_the_next_does_not(budget_mib, batch, heads):
    n = EXERCISES["longest_explicit"].reference(budget_mib, batch, heads)
    assert isinstance(n, int) and _fits(n, budget_mib, batch, heads) and not _fits(n + 1, budget_mib, batch, heads)


def test_a_budget_that_is_filled_exactly_fits_and_four_times_the_memory_doubles_n():
    longest = EXERCISES["longest_explicit"].reference
    assert 2 * scores_bytes(1, 12, 4096, 4096) == 1536 * 2**20 and longest(1536, 1, 12) == 4096
    for budget in (100, 256, 1536, 40960):
        n = longest(budget, 2, 4)
        assert longest(4 * budget, 2, 4) in (2 * n, 2 * n + 1)


def _search(budget_mib, batch, heads):
    """A right answer by bisection on the bytes themselves: no square root at all."""
    low, high = 0, 1 << 20
    while low < high:
        mid = (low + high + 1) // 2
        if 2 * 4 * batch * heads * mid * mid <= budget_mib * 2**20:
            low = mid
        else:
            high = mid - 1
    return low


@pytest.mark.parametrize(
    "solution",
    [
        lambda budget, B, H: int(math.sqrt(budget * 2**20 / (2 * 4 * B * H))),
        lambda budget, B, H: math.floor((budget * 1024 * 1024 / (8 * B * H)) ** 0.5),
        lambda budget, B, H: float(math.isqrt(budget * 2**20 // (8 * B * H))),
        _search,
    ],
    ids=["int_sqrt", "floor_power", "float", "bisection"],
)
def test_longest_answers_written_another_way_pass(solution):
    result = check("longest_explicit", solution)
    assert result.passed, result.message


def _count_up(budget_mib, batch, heads):
    """Counting n up while the two matrices stay under the budget: < where ≤ was meant."""
    n = 0
    while 8 * batch * heads * (n + 1) ** 2 < budget_mib * 2**20:
        n += 1
    return n


@pytest.mark.parametrize(
    ("solution", "phrase"),
    [
        (lambda budget, B, H: math.ceil(math.sqrt(budget * 2**20 / (8 * B * H))), "Rounded up"),
        (lambda budget, B, H: round(math.sqrt(budget * 2**20 / (8 * B * H))), "Rounded to the nearest"),
        (lambda budget, B, H: int(math.sqrt(budget * 2**20 / (4 * B * H))), "You fitted one matrix"),
        (lambda budget, B, H: int(math.sqrt(budget * 2**20 / (2 * B * H))), "You counted numbers, not bytes"),
        (lambda budget, B, H: int(math.sqrt(budget * 1e6 / (8 * B * H))), "a megabyte (MB)"),
        (lambda budget, B, H: int(math.sqrt(budget / (8 * B * H))), "You compared bytes with MiB"),
        (_count_up, "fill the budget exactly, and that fits"),
    ],
    ids=["ceil", "round", "one_matrix", "numbers", "megabytes", "not_converted", "strict"],
)
def test_longest_mistakes_written_by_a_reader_are_named(solution, phrase):
    result = check("longest_explicit", solution)
    assert not result.passed and phrase in result.message, result.message


def test_the_cases_tell_the_rounding_mistakes_apart():
    """One case fills its budget exactly, one has a root's fraction under one half, one over."""
    fractions = []
    for case in EXERCISES["longest_explicit"].cases():
        budget, B, H = case.args
        root = math.sqrt(budget * 2**20 / (8 * B * H))
        fractions.append(root - math.floor(root))
    assert 0.0 in fractions and any(0 < f < 0.5 for f in fractions) and any(f > 0.5 for f in fractions)


# ---- Numbers (every mistake, stub, crash and reveal of every exercise: tests/test_exercises.py) ----


@pytest.mark.parametrize("exercise_id", NEW)
def test_a_number_far_off_says_how_far_and_a_string_is_not_a_number(exercise_id):
    reference = EXERCISES[exercise_id].reference
    result = check(exercise_id, lambda *args: reference(*args) + 7)
    assert not result.passed and "is not right for" in result.message
    result = check(exercise_id, lambda *args: str(reference(*args)))
    assert not result.passed and "expected a number" in result.message
