"""Chapter 2's transfer exercises (``ch2_transfer``): mha_batch_layout, grouped_query_attention.

Each reference is checked against the computation it stands for: the (N·H, L, E) layout against what
``nn.MultiheadAttention`` computes from it (its per-head weights and its output), grouped-query attention
against ``F.scaled_dot_product_attention(..., enable_gqa=True)`` and against ordinary multi-head attention
over keys and values repeated per group. Right answers written another way pass; wrong ones written as a
reader writes them are named; a stub is neutral and a crash is explained. The checks run through
``run_check`` on the module's own exercises, so they hold whether or not the module is registered.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import attnlab
from attnlab.exercises import ch2_transfer
from attnlab.exercises._core import run_check

EXERCISES = {exercise.id: exercise for exercise in ch2_transfer.EXERCISES}


def check(exercise_id, solution):
    return run_check(EXERCISES[exercise_id], solution)


# ---- mha_batch_layout ---------------------------------------------------------------------------


def _torch_mha(D: int, H: int) -> nn.MultiheadAttention:
    torch.manual_seed(0)
    return nn.MultiheadAttention(D, H, dtype=torch.float64).eval()  # sequence-first, as by default


@pytest.mark.parametrize(("N", "H", "L", "S"), [(2, 2, 5, 7), (3, 4, 4, 3), (1, 1, 3, 3)])
def test_the_layout_is_the_one_nn_multiheadattention_computes_with(N, H, L, S):
    """Queries and keys from the module's in_proj, laid out by the reference and multiplied with
    torch.bmm, give the module's per-head weights; with the values, its output."""
    layout = EXERCISES["mha_batch_layout"].reference
    D, g = 4 * H, torch.Generator().manual_seed(N)
    mha = _torch_mha(D, H)
    x = torch.randn(L, N, D, generator=g, dtype=torch.float64)  # (L, N, D): the queries' sequence
    y = torch.randn(S, N, D, generator=g, dtype=torch.float64)  # (S, N, D): keys' and values'
    w_q, w_k, w_v = mha.in_proj_weight.chunk(3)
    b_q, b_k, b_v = mha.in_proj_bias.chunk(3)
    with torch.no_grad():
        out, weights = mha(x, y, y, average_attn_weights=False)  # (L, N, D), (N, H, L, S)
        q, k, v = (layout(F.linear(t, w, b), H) for t, w, b in ((x, w_q, b_q), (y, w_k, b_k), (y, w_v, b_v)))
        ours = torch.softmax(torch.bmm(q, k.transpose(1, 2)) / math.sqrt(D // H), -1)  # (N·H, L, S)
        torch.testing.assert_close(ours.view(N, H, L, S), weights)
        z = torch.bmm(ours, v).transpose(0, 1).reshape(L, N, D)  # (L, N·H, E) → (L, N, D)
        torch.testing.assert_close(mha.out_proj(z), out)
    if N > 1 and H > 1:  # head-major rows hand the module's weights to the wrong sequences
        head_major = next(m for m in EXERCISES["mha_batch_layout"].mistakes if m.name == "head_major").solution
        q_wrong, k_wrong = head_major(F.linear(x, w_q, b_q), H), head_major(F.linear(y, w_k, b_k), H)
        wrong = torch.softmax(torch.bmm(q_wrong, k_wrong.transpose(1, 2)) / math.sqrt(D // H), -1)
        assert not torch.allclose(wrong.view(N, H, L, S), weights)


def test_every_layout_case_is_sequence_first_with_a_batch():
    for case in EXERCISES["mha_batch_layout"].cases():
        x, H = case.args
        assert x.dtype == torch.float64 and x.dim() == 3 and x.shape[1] > 1 and x.shape[2] % H == 0
    assert any(c.args[0].shape[0] != c.args[0].shape[1] for c in EXERCISES["mha_batch_layout"].cases())


@pytest.mark.parametrize(
    "solution",
    [
        lambda x, h: attnlab.split_heads(x.transpose(0, 1), h).flatten(0, 1),
        lambda x, h: x.view(x.shape[0], x.shape[1], h, -1).permute(1, 2, 0, 3).reshape(-1, x.shape[0], x.shape[2] // h),
        lambda x, h: torch.stack([c for n in range(x.shape[1]) for c in x[:, n].chunk(h, dim=-1)]),  # n, then h
    ],
    ids=["split_heads", "permute", "loops"],
)
def test_layout_answers_written_another_way_pass(solution):
    result = check("mha_batch_layout", solution)
    assert result.passed, result.message


def _cat_per_head(x, h):
    E = x.shape[2] // h
    return torch.cat([x[..., i * E : (i + 1) * E].transpose(0, 1) for i in range(h)])  # row i·N + n


@pytest.mark.parametrize(
    ("solution", "phrase"),
    [
        (_cat_per_head, "Head-major rows"),
        (lambda x, h: x.permute(1, 0, 2).reshape(x.shape[1] * h, x.shape[0], -1), "Reshape without the transpose"),
        (lambda x, h: x.view(x.shape[1] * h, x.shape[0], -1), "A reshape alone"),
        (
            lambda x, h: attnlab.split_heads(x, h).reshape(x.shape[0] * h, x.shape[1], -1),  # N, L = x.shape[:2]
            "you read x as batch-first",
        ),
        (lambda x, h: x.view(x.shape[0], x.shape[1] * h, -1), "you returned (L, N·H, E), positions first"),
    ],
    ids=["cat_per_head", "permute_then_reshape", "view", "batch_first", "no_final_transpose"],
)
def test_layout_mistakes_written_by_a_reader_are_named(solution, phrase):
    result = check("mha_batch_layout", solution)
    assert not result.passed and phrase in result.message, result.message


# ---- grouped_query_attention --------------------------------------------------------------------


def _heads(q, k, v, H, H_kv):
    return attnlab.split_heads(q, H), attnlab.split_heads(k, H_kv), attnlab.split_heads(v, H_kv)


def test_the_grouped_reference_is_pytorchs_enable_gqa_and_repeated_multi_head_attention():
    reference = EXERCISES["grouped_query_attention"].reference
    for case in EXERCISES["grouped_query_attention"].cases():
        q, k, v, H, H_kv = case.args
        qh, kh, vh = _heads(q, k, v, H, H_kv)
        by_torch = attnlab.merge_heads(F.scaled_dot_product_attention(qh, kh, vh, enable_gqa=True))
        torch.testing.assert_close(reference(*case.args), by_torch)
        # Every key/value head copied for the consecutive query heads of its group: multi-head attention.
        group = H // H_kv
        k_full, v_full = (attnlab.merge_heads(t.repeat_interleave(group, dim=1)) for t in (kh, vh))  # (B, S, D)
        mha = attnlab.scaled_dot_product_attention(*(attnlab.split_heads(t, H) for t in (q, k_full, v_full)))
        torch.testing.assert_close(reference(*case.args), attnlab.merge_heads(mha))


def test_one_key_value_head_is_multi_query_and_as_many_as_the_queries_is_multi_head():
    reference = EXERCISES["grouped_query_attention"].reference
    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, 5, 12, generator=g, dtype=torch.float64)
    k, v = (torch.randn(2, 7, 4, generator=g, dtype=torch.float64) for _ in range(2))
    mqa = attnlab.scaled_dot_product_attention(attnlab.split_heads(q, 3), k[:, None], v[:, None])  # one k, v
    torch.testing.assert_close(reference(q, k, v, 3, 1), attnlab.merge_heads(mqa))
    k, v = (torch.randn(2, 7, 12, generator=g, dtype=torch.float64) for _ in range(2))
    mha = attnlab.scaled_dot_product_attention(*(attnlab.split_heads(t, 3) for t in (q, k, v)))
    torch.testing.assert_close(reference(q, k, v, 3, 3), attnlab.merge_heads(mha))


def test_every_grouped_case_has_a_batch_and_more_keys_or_fewer_than_queries():
    for case in EXERCISES["grouped_query_attention"].cases():
        q, k, v, H, H_kv = case.args
        assert q.dtype == torch.float64 and q.shape[0] > 1 and q.shape[1] != k.shape[1]
        assert k.shape == v.shape and k.shape[-1] == H_kv * q.shape[-1] // H and H % H_kv == 0


def _grouped_einsum(q, k, v, H, H_kv):
    """A right answer without any copy: the query heads viewed as (H_kv, group)."""
    B, L, D = q.shape
    E, S = D // H, k.shape[1]
    qg = q.view(B, L, H_kv, H // H_kv, E)  # (B, L, H_kv, G, E)
    kg, vg = k.view(B, S, H_kv, E), v.view(B, S, H_kv, E)  # (B, S, H_kv, E)
    w = torch.softmax(torch.einsum("blkge,bske->bkgls", qg, kg) / E**0.5, dim=-1)  # (B, H_kv, G, L, S)
    return torch.einsum("bkgls,bske->blkge", w, vg).reshape(B, L, D)


def _expanded(q, k, v, H, H_kv, tiled=False):
    B, S = k.shape[:2]
    qh, kh, vh = _heads(q, k, v, H, H_kv)
    G = H // H_kv
    if tiled:  # (B, G, H_kv, S, E): heads 0 1 0 1
        kh, vh = (t[:, None].expand(B, G, H_kv, S, -1).reshape(B, H, S, -1) for t in (kh, vh))
    else:  # (B, H_kv, G, S, E): heads 0 0 1 1
        kh, vh = (t[:, :, None].expand(B, H_kv, G, S, -1).reshape(B, H, S, -1) for t in (kh, vh))
    return attnlab.merge_heads(F.scaled_dot_product_attention(qh, kh, vh))


@pytest.mark.parametrize(
    "solution",
    [
        _grouped_einsum,
        _expanded,
        lambda q, k, v, H, H_kv: attnlab.merge_heads(
            F.scaled_dot_product_attention(*_heads(q, k, v, H, H_kv), enable_gqa=True)
        ),
    ],
    ids=["einsum", "expand", "enable_gqa"],
)
def test_grouped_answers_written_another_way_pass(solution):
    result = check("grouped_query_attention", solution)
    assert result.passed, result.message


def _reversed_groups(q, k, v, H, H_kv):
    """Query head h with key/value head H_kv − 1 − h // group: a pairing no named mistake makes."""
    qh, kh, vh = _heads(q, k, v, H, H_kv)
    kh, vh = (t.flip(1).repeat_interleave(H // H_kv, dim=1) for t in (kh, vh))
    return attnlab.merge_heads(F.scaled_dot_product_attention(qh, kh, vh))


@pytest.mark.parametrize(
    ("solution", "phrase"),
    [
        (lambda q, k, v, H, H_kv: _expanded(q, k, v, H, H_kv, tiled=True), "repeat tiles the key/value heads"),
        (
            lambda q, k, v, H, H_kv: _expanded(q, k.repeat(1, 1, H // H_kv), v.repeat(1, 1, H // H_kv), H, H),
            "repeat tiles the key/value heads",
        ),
        (
            lambda q, k, v, H, H_kv: attnlab.merge_heads(
                F.scaled_dot_product_attention(*_heads(q, k, v, H, H_kv), enable_gqa=True, scale=q.shape[-1] ** -0.5)
            ),
            "scaled by 1/√D, the queries' full width",
        ),
        (
            lambda q, k, v, H, H_kv: F.scaled_dot_product_attention(*_heads(q, k, v, H, H_kv), enable_gqa=True),
            "you returned the heads, (B, H, L, E)",
        ),
        (
            _reversed_groups,
            "query head 0 (columns 0 to 3) attended with key/value head 1, but it is in group 0, query heads 0 to "
            "1, which shares key/value head 0 (on q of shape (2, 5, 16)",
        ),
    ],
    ids=["expand_tiled", "repeat_features", "scale_D", "not_merged", "reversed_groups"],
)
def test_grouped_mistakes_written_by_a_reader_are_named(solution, phrase):
    result = check("grouped_query_attention", solution)
    assert not result.passed and phrase in result.message, result.message


# ---- Crashes (every mistake, stub, crash and reveal of every exercise: tests/test_exercises.py) ----


def test_a_view_after_the_transpose_crashes_and_is_explained():
    result = check(
        "grouped_query_attention",
        lambda q, k, v, H, H_kv: ch2_transfer._grouped(q, k, v, H, H_kv).transpose(1, 2).view(q.shape),
    )
    assert "raised RuntimeError" in result.message and "use .reshape(...)" in result.message
