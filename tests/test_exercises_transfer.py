"""The transfer exercises of chapters 1 and 5 (``ch1_transfer``, ``ch5_transfer``) and the checker's hooks
they need: a set output, ``verify`` for a design task, ``detect`` for its mistakes.

Every reference is checked against the computation it stands for: the merge against attention over all
the keys, each prediction's rule against the layer or the X-CLIP blocks it predicts. (Every registered
mistake's message, the stubs, crashes and ``reveal`` are tested in test_exercises.py with every other
exercise.)
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import attnlab
from attnlab import CrossFrameAttentionBlock
from attnlab import exercises as ex
from attnlab.exercises._core import run_check
from attnlab.models.clip import ResidualAttentionBlock

# ---- merge_attention ----------------------------------------------------------------------------


def _part(q, k, v):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return torch.softmax(scores, -1) @ v, torch.logsumexp(scores, -1)


def test_merging_the_parts_is_attention_over_all_the_keys():
    """The reference is attnlab's attention over the concatenated keys, and it merges block after block
    (three parts, left to right, the merged lse carried on), as tiled attention does."""
    merge = ex.get("merge_attention").reference
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, n, 8, generator=g, dtype=torch.float64) for n in (5, 12, 12))
    whole = attnlab.scaled_dot_product_attention(q, k, v)
    (oa, la), (ob, lb), (oc, lc) = (
        _part(q, k[..., s, :], v[..., s, :]) for s in (slice(0, 3), slice(3, 4), slice(4, 12))
    )
    torch.testing.assert_close(
        merge(oa, la, ob, lb), attnlab.scaled_dot_product_attention(q, k[..., :4, :], v[..., :4, :])
    )
    torch.testing.assert_close(merge(merge(oa, la, ob, lb), torch.logaddexp(la, lb), oc, lc), whole)


def test_every_merge_case_is_a_real_split_and_the_large_case_overflows_a_naive_exp():
    for case in ex.get("merge_attention").cases():
        out_a, lse_a, out_b, lse_b = case.args
        assert out_a.shape[:-1] == lse_a.shape and out_b.shape[:-1] == lse_b.shape
    big = ex.get("merge_attention").cases()[-1]
    assert big.args[1].min() > 990 and torch.isinf(big.args[1].exp()).all()


# ---- design_attention ---------------------------------------------------------------------------


def one_hot_design(perm, E):
    """A reader's design: one-hot keys, long one-hot queries. Right while E ≥ L."""
    k = torch.eye(len(perm), E, dtype=torch.float64)
    return 30 * math.sqrt(E) * k[perm], k


def test_a_one_hot_design_passes_where_it_fits_and_is_told_why_it_does_not_elsewhere():
    exercise = ex.get("design_attention")
    fits = [c for c in exercise.cases() if c.args[1] >= len(c.args[0])]
    assert len(fits) == 2  # the other cases have more keys than dimensions
    short = ex.Exercise(**{**exercise.__dict__, "cases": lambda: fits})
    assert run_check(short, one_hot_design).passed
    result = ex.check("design_attention", one_hot_design)
    assert not result.passed and "perm=[3, 7, 0, 5, 1, 6, 2, 4], E=4). Some keys are the same vector" in result.message


def test_a_design_in_float32_with_its_own_geometry_passes():
    def random_directions(perm, E):
        g = torch.Generator().manual_seed(0)
        k = F.normalize(torch.randn(len(perm), E, generator=g), dim=-1)
        if E == 2:  # random directions in a plane may nearly coincide: spread them evenly
            a = torch.arange(len(perm)) * (2 * math.pi / len(perm)) + 0.3
            k = torch.stack([a.cos(), a.sin()], -1)
        return 2000 * k[perm], k  # float32

    assert ex.check("design_attention", random_directions).passed


@pytest.mark.parametrize(
    ("solution", "phrase"),
    [
        (lambda perm, E: (10 * torch.eye(len(perm), E)[perm], torch.eye(len(perm), E)), "without the 1/√E"),
        (lambda perm, E: (torch.eye(len(perm), E)[perm], torch.eye(len(perm), E)), "but not by enough"),
        (lambda perm, E: (torch.eye(len(perm), E) * 99, torch.eye(len(perm), E)[perm] * 99), "The roles are swapped"),
        (lambda perm, E: tuple(reversed(one_hot_design(perm, E))), "The roles are swapped"),
        (lambda perm, E: (torch.eye(len(perm), E) * 99, torch.eye(len(perm), E)), "perm is not used"),
    ],
    ids=["forgot_scaling", "not_sharp", "transposed", "returned_k_q", "identity"],
)
def test_designs_written_by_a_reader_are_named(solution, phrase):
    result = ex.check("design_attention", solution)
    assert not result.passed and phrase in result.message, result.message
    assert result.message.startswith("query ") and "it needs 0.99 (on perm=[2, 0, 3, 1], E=8)" in result.message


def test_a_design_that_is_wrong_in_no_named_way_gets_verify_s_words():
    def every_query_on_key_0(perm, E):
        q = torch.zeros(len(perm), E, dtype=torch.float64)
        q[:, 0] = 100.0
        return q, torch.eye(len(perm), E, dtype=torch.float64)

    result = ex.check("design_attention", every_query_on_key_0)
    assert result.message == (
        "query 0 puts almost none of its weight on key 2 = perm[0], its largest share, 1.00, goes to key 0; "
        "it needs 0.99 (on perm=[2, 0, 3, 1], E=8)"
    )


# ---- which_outputs_move -------------------------------------------------------------------------


def _moved_rows(L, j, change, seed=0):
    """The rows of softmax(Q Kᵀ/√E) V that change, measured: random Q, K, V, the change applied."""
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(L, 6, generator=g, dtype=torch.float64) for _ in range(3))
    c = torch.randn(6, generator=g, dtype=torch.float64)
    q2, k2, v2 = q.clone(), k.clone(), v.clone()
    part, everyone = {"query": q2, "key": k2, "value": v2}, {"queries": q2, "keys": k2, "values": v2}
    if change.startswith("same_to_"):
        everyone[change.removeprefix("same_to_")] += c  # one vector added to every row
    else:
        part[change][j] += c
    before = attnlab.scaled_dot_product_attention(q, k, v)
    after = attnlab.scaled_dot_product_attention(q2, k2, v2)
    return {i for i in range(L) if (after[i] - before[i]).abs().max() > 1e-9}


@pytest.mark.parametrize("change", ["query", "key", "value", "same_to_queries", "same_to_keys", "same_to_values"])
def test_the_rule_of_which_outputs_move_is_what_attention_does(change):
    rule = ex.get("which_outputs_move").reference
    for L, j, seed in ((5, 2, 0), (7, 0, 1), (3, 2, 2), (2, 1, 3)):
        assert rule(L, j, change) == _moved_rows(L, j, change, seed), (L, j, change)
    for case in ex.get("which_outputs_move").cases():
        assert rule(*case.args) == _moved_rows(*case.args)


# ---- which_frames_move --------------------------------------------------------------------------


def _moved_frames(T, frame, token, blocks, cross_frame, seed=0):
    """The frames of video 1 (of 2) whose outputs change, measured on X-CLIP's cross-frame blocks (or
    CLIP's blocks, frame by frame) with random weights, in float64."""
    torch.manual_seed(seed)
    d, n_tok, b = 16, 7, 2
    make = (lambda: CrossFrameAttentionBlock(d, 2, T=T)) if cross_frame else (lambda: ResidualAttentionBlock(d, 2))
    stack = torch.nn.Sequential(*[make() for _ in range(blocks)]).double().eval()
    x = torch.randn(n_tok, b * T, d, dtype=torch.float64)  # (l, b·T, d), rows video-major
    y = x.clone()
    # One token of frame `frame` of video 1. Not `+= 1.0`: LayerNorm removes a shift of every feature.
    y[token, 1 * T + frame] += torch.randn(d, dtype=torch.float64)
    with torch.no_grad():
        moved = (stack(y) - stack(x)).abs().amax(dim=(0, 2)) > 1e-9  # (b·T,)
    assert not moved[:T].any()  # video 0 never moves
    return {t for t in range(T) if moved[T + t]}


def test_the_rule_of_which_frames_move_is_what_x_clip_and_clip_blocks_do():
    rule = ex.get("which_frames_move").reference
    for case in ex.get("which_frames_move").cases():
        assert rule(*case.args) == _moved_frames(*case.args), case.label
    for T, frame, token, blocks in ((3, 0, 4, 1), (3, 1, 0, 2), (4, 2, 1, 2), (2, 1, 3, 3)):
        for cross_frame in (True, False):
            args = (T, frame, token, blocks, cross_frame)
            assert rule(*args) == _moved_frames(*args, seed=1), args


def test_which_frames_move_accepts_any_collection_of_ints_and_names_what_is_off():
    rule = ex.get("which_frames_move").reference
    assert ex.check("which_frames_move", lambda *a: sorted(rule(*a))).passed  # a list
    assert ex.check("which_frames_move", lambda *a: torch.tensor(sorted(rule(*a)), dtype=torch.long)).passed

    def off(T, frame, token, blocks, cross_frame):
        return {frame, T}  # a frame that does not exist, and (for a class token) many missing

    result = ex.check("which_frames_move", off)
    assert result.message == "frame 4 should not be there on T=4, frame=1, token=3, blocks=1, cross_frame=True"
    result = ex.check("which_frames_move", lambda *a: "all of them")
    assert (
        result.message.startswith("your function returned str all of them on T=4")
        and "a set of integers" in result.message
    )
    result = ex.check("which_frames_move", lambda *a: {True})
    assert "expected a set of integers" in result.message


# ---- frame_major_messages -----------------------------------------------------------------------


def test_frame_major_messages_are_the_class_tokens_of_each_frame():
    reference = ex.get("frame_major_messages").reference
    b, T, n_tok, d = 3, 4, 5, 2
    video_major = torch.randn(n_tok, b * T, d)  # row n·T + t
    frame_major = video_major.view(n_tok, b, T, d).transpose(1, 2).reshape(n_tok, T * b, d)  # row t·b + n
    assert torch.equal(reference(frame_major, T), video_major[0].view(b, T, d).transpose(0, 1))
    assert ex.check("frame_major_messages", lambda x, T: torch.stack(x[0].chunk(T))).passed  # another way


@pytest.mark.parametrize(
    ("solution", "phrase"),
    [
        (lambda x, T: x[0].view(-1, T, x.shape[-1]).transpose(0, 1), "you read the rows as video-major"),
        (lambda x, T: x[0].view(T, -1, x.shape[-1]).permute(1, 0, 2), "videos first"),
        (lambda x, T: x[-1].reshape(T, -1, x.shape[-1]), "you took the last token"),
    ],
)
def test_frame_major_mistakes_written_by_a_reader_are_named(solution, phrase):
    result = ex.check("frame_major_messages", solution)
    assert not result.passed and phrase in result.message, result.message


# ---- The hooks, on exercises of their own -------------------------------------------------------


def _toy(**fields):
    base = dict(
        id="toy", chapter=1, title="Toy", signature="solution(n) -> set", shapes="n → a set",
        task="Even numbers below n.", reference=lambda n: set(range(0, n, 2)),
        cases=lambda: [ex.Case((5,), "n=5"), ex.Case((6,), "n=6")], output="set", element="number",
    )  # fmt: skip
    return ex.Exercise(**{**base, **fields})


def test_a_set_output_names_missing_and_extra_elements_and_matches_mistakes_as_sets():
    toy = _toy(mistakes=(ex.Mistake("odd", lambda n: set(range(1, n, 2)), "{symptom}: odd, not even"),))
    assert run_check(toy, lambda n: [0, 2, 4]).passed
    assert run_check(toy, lambda n: (4, 2, 0, 2)).passed  # duplicates are one element
    assert run_check(toy, lambda n: {0, 2}).message == "missing number 4 on n=5"
    assert run_check(toy, lambda n: {0, 1, 2, 3, 4}).message == "numbers 1 and 3 should not be there on n=5"
    assert run_check(toy, lambda n: {0, 1, 2}).message == "missing number 4; number 1 should not be there on n=5"
    assert (
        run_check(toy, lambda n: [1, 3]).message
        == "missing numbers 0, 2 and 4; numbers 1 and 3 should not be there on n=5: odd, not even"
    )
    assert run_check(toy, lambda n: None).message == "your function returned None: did you forget to return the set?"
    assert "expected a set of integers" in run_check(toy, lambda n: [0.0, 2.0]).message


def _twice(got, case):
    return bool(got.sum() == 2 * case.args[0])


def test_verify_replaces_equality_and_detect_names_a_mistake_by_a_property():
    def verify(got, case):
        n = case.args[0]
        return None if got.sum() == n else f"sums to {got.sum():g}, not {n}"

    toy = _toy(
        signature="solution(n) -> Tensor", shapes="n → (3,)", output="tensor", dtype="float",
        reference=lambda n: torch.full((3,), n / 3, dtype=torch.float64),
        mistakes=(ex.Mistake("twice", lambda n: torch.full((3,), 2 * n / 3), "{symptom}: twice", detect=_twice),),
        verify=verify,
    )  # fmt: skip
    assert run_check(toy, lambda n: torch.tensor([n, 0.0, 0.0])).passed  # another right answer
    assert run_check(toy, lambda n: torch.tensor([0.0, 2.0 * n, 0.0])).message == "sums to 10, not 5: twice"
    assert run_check(toy, lambda n: torch.zeros(3)).message == "sums to 0, not 5"
    assert run_check(toy, lambda n: torch.zeros(4)).message.startswith("wrong shape: (4,), expected (3,) on n=5")
    assert run_check(toy, lambda n: torch.full((3,), math.nan)).message.startswith("has NaN at 3 entries")
