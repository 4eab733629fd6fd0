"""attnlab.exercises: every reference passes, every classic mistake is named, no wrong answer raises."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from attnlab import AttnLabError, MultiHeadAttention
from attnlab import exercises as ex

IDS = ex.ids()
MISTAKES = [(i, m) for i in IDS for m in ex.get(i).mistakes]

# The key phrase of the message for each registered mistake: the wording the reader sees, pinned.
PINNED = {
    ("cross_frame_macs", "no_message"): "IFA runs over l + 1 tokens",
    ("cross_frame_macs", "no_cfa"): "CFA is missing",
    ("cross_frame_macs", "no_ifa"): "IFA is missing",
    ("cross_frame_macs", "one_product"): "you counted one of the two products",
    ("cross_frame_macs", "flops"): "that counts FLOPs, 2 per multiply-accumulate",
    ("cross_frame_macs", "joint"): "that is joint space-time attention",
    ("sinusoidal_positions", "swapped"): "sine and cosine are swapped",
    ("sinusoidal_positions", "halves"): "all the sines come first and all the cosines after",
    ("sinusoidal_positions", "column_index"): "the odd columns use exponent (2i+1)/D",
    ("sinusoidal_positions", "i_over_D"): "the exponent is i/D: it is 2i/D",
    ("sinusoidal_positions", "times"): "you multiplied p by 10000^(2i/D): divide by it",
    ("sinusoidal_positions", "sin_only"): "every column is a sine",
    ("apply_rope", "interleaved"): "you rotated adjacent pairs (2i, 2i+1)",
    ("apply_rope", "wrong_way"): "every pair turns the wrong way",
    ("apply_rope", "from_one"): "the positions start at 1",
    ("apply_rope", "i_over_E"): "θᵢ = 10000^(−i/E): the exponent is −2i/E",
    ("apply_rope", "added"): "you added the sinusoidal table",
    ("attention_scores", "no_scale"): "off by a factor of √dₖ",
    ("attention_scores", "divide_by_E"): "divided by E instead of √E",
    ("attention_scores", "times_sqrt_E"): "multiplied the scores by √E",
    ("attention_scores", "divide_by_sqrt_S"): "divided by √S, with S the number of keys",
    ("attention_scores", "divide_by_sqrt_L"): "divided by √L, with L the number of queries",
    ("attention_scores", "transposed"): "the map is transposed",
    ("attention_scores", "softmax"): "you applied the softmax",
    ("attention_weights", "no_scale"): "off by a factor of √dₖ",
    ("attention_weights", "divide_by_E"): "divided by E instead of √E",
    ("attention_weights", "softmax_over_queries"): "rows do not sum to 1: softmax over the wrong dimension?",
    ("attention_weights", "softmax_over_dim_0"): "softmax over dim=0",
    ("attention_weights", "no_softmax"): "these are the scaled scores",
    ("attention_weights", "transposed"): "the map is transposed",
    ("scaled_dot_product_attention", "no_scale"): "off by a factor of √dₖ",
    ("scaled_dot_product_attention", "divide_by_E"): "divided by E instead of √E",
    ("scaled_dot_product_attention", "times_sqrt_E"): "multiplied the scores by √E",
    ("scaled_dot_product_attention", "divide_by_sqrt_S"): "divided by √S",
    ("scaled_dot_product_attention", "softmax_over_queries"): "rows do not sum to 1: softmax over the wrong dimension?",
    ("scaled_dot_product_attention", "softmax_over_dim_0"): "softmax over dim=0",
    ("scaled_dot_product_attention", "no_softmax"): "no softmax",
    ("scaled_dot_product_attention", "returned_weights"): "you returned the attention weights",
    ("scaled_dot_product_attention", "averaged_keys"): "you averaged the keys",
    ("split_heads", "no_transpose"): "reshape without the transpose",
    ("split_heads", "strided"): "head h holds features h, h + H, h + 2H",
    ("split_heads", "heads_last"): "you returned (B, L, H, E)",
    ("split_heads", "transpose_first"): "transposed before splitting",
    ("split_heads", "heads_transposed"): "each head came out as (E, L)",
    ("merge_heads", "no_transpose"): "reshape without the transpose",
    ("merge_heads", "interleaved"): "interleaved",
    ("merge_heads", "averaged"): "you averaged the heads",
    ("merge_heads", "summed"): "you summed the heads",
    ("merge_heads", "stacked_positions"): "stacked the heads along the positions",
    ("merge_heads", "not_flattened"): "flatten the last two axes",
    ("multi_head_weights", "divide_by_sqrt_D"): "scaled by 1/√D",
    ("multi_head_weights", "no_scale"): "off by a factor of √dₖ",
    ("multi_head_weights", "no_transpose"): "reshape without the transpose",
    ("multi_head_weights", "strided"): "head h holds features h, h + H, h + 2H",
    ("multi_head_weights", "softmax_over_queries"): "rows do not sum to 1",
    ("multi_head_weights", "averaged"): "you averaged over the heads",
    ("mha_batch_layout", "head_major"): "row 1 holds head 0 of sequence 1; nn.MultiheadAttention reads it as head 1 "
    "of sequence 0 (row n·H + h). Head-major rows",
    ("mha_batch_layout", "no_head_transpose"): "row 0 is no single head of one sequence. Reshape without the transpose",
    ("mha_batch_layout", "reshape_only"): "A reshape alone keeps the memory order",
    ("mha_batch_layout", "strided"): "Head h holds features h, h + H, h + 2H",
    ("mha_batch_layout", "batch_first"): "you read x as batch-first, (N, L, D)",
    ("mha_batch_layout", "not_merged"): "you returned (N, H, L, E): torch.bmm takes one batch axis",
    ("mha_batch_layout", "sequence_first"): "you returned (L, N·H, E), positions first",
    ("grouped_query_attention", "repeat"): "query head 1 (columns 4 to 7) attended with key/value head 1, but it "
    "is in group 0, query heads 0 to 1, which shares key/value head 0. repeat tiles the key/value heads",
    ("grouped_query_attention", "one_kv_head"): "query head 2 (columns 8 to 11) attended with key/value head 0, "
    "but it is in group 1, query heads 2 to 3, which shares key/value head 1. Every query head used key/value "
    "head 0",
    ("grouped_query_attention", "divide_by_sqrt_D"): "scaled by 1/√D, the queries' full width",
    ("grouped_query_attention", "divide_by_sqrt_D_kv"): "scaled by 1/√D_kv",
    ("grouped_query_attention", "no_scale"): "off by a factor of √dₖ",
    ("grouped_query_attention", "not_merged"): "you returned the heads, (B, H, L, E)",
    ("grouped_query_attention", "merge_no_transpose"): "merged by a reshape without the transpose",
    ("causal_mask", "inverted"): "position 0 can see position 1: the mask lets the future in. The mask is inverted",
    ("causal_mask", "transposed"): "The mask is transposed",
    ("causal_mask", "shifted_down"): "position 0 cannot see itself. Shifted by one",
    ("causal_mask", "shifted_up"): "position 0 can see position 1: the mask lets the future in. Shifted by one",
    ("causal_mask", "float"): "Return a bool tensor",
    ("causal_mask", "additive"): "this is the additive mask",
    ("key_padding_mask", "attnlab_convention"): "key 0 is a real token but is ignored. The mask is inverted",
    ("key_padding_mask", "off_by_one"): "key 3 is a pad but is not ignored. Off by one",
    ("key_padding_mask", "float"): "you returned a float mask",
    ("key_padding_mask", "transposed"): "you returned (S, N)",
    ("bool_to_additive", "inverted"): "−inf where the mask is True",
    ("bool_to_additive", "as_float"): "you turned True into 1 and False into 0",
    ("bool_to_additive", "large_negative"): "not −inf: use float('-inf')",
    ("causal_padding_mask", "padding_on_queries"): "you hid them as queries (rows)",
    ("causal_padding_mask", "causal_only"): "can see itself, a pad. Combine the causal mask with the padding mask",
    ("causal_padding_mask", "padding_only"): "the mask lets the future in. Combine the padding mask with the causal",
    ("causal_padding_mask", "or"): "not or",
    ("causal_padding_mask", "inverted"): "The mask is inverted",
    ("hf_to_attnlab_mask", "inverted"): "key 0 is a real token (attention_mask 1) but is masked. Inverted",
    ("hf_to_attnlab_mask", "no_broadcast"): "you returned (B, S), with no broadcast dimensions",
    ("hf_to_attnlab_mask", "one_short"): "its batch axis lines up with the heads",
    ("hf_to_attnlab_mask", "float"): "which masks nothing",
    ("hf_to_attnlab_mask", "integer"): "you returned the integers themselves",
    ("sliding_window_mask", "off_by_one_wide"): "outside a window of 3. Off by one",
    ("sliding_window_mask", "off_by_one_narrow"): "inside a window of 3. Off by one",
    ("sliding_window_mask", "symmetric"): "the mask lets the future in. A symmetric band looks ahead",
    ("sliding_window_mask", "causal"): "This is the plain causal mask",
    ("prefix_lm_mask", "causal_only"): "a prefix token. This is the plain causal mask, causal inside the prefix",
    ("prefix_lm_mask", "prefix_sees_everything"): "The prefix queries see the whole sequence",
    ("prefix_lm_mask", "off_by_one"): "Off by one: the prefix is tokens 0, …, prefix − 1",
    ("prefix_lm_mask", "suffix_blind"): "must see the prefix too",
    ("mha_mask_layout", "head_major"): "row 1 holds sequence 1, head 0; nn.MultiheadAttention reads it as "
    "sequence 0, head 1 (row n·H + h). Head-major rows",
    ("mha_mask_layout", "one_head_for_all"): "Every head got head 0's mask",
    ("mended_padding_mask", "attnlab_convention"): "query 2 can see key 0 (a pad). The mask is inverted",
    ("mended_padding_mask", "empty_rows"): "query 0 (a pad) cannot see itself. Causal and padding are right",
    ("mended_padding_mask", "pads_visible"): "query 2 can see key 0 (a pad). This is the causal mask alone",
    ("residual_block", "post_ln"): "post-LN",
    ("residual_block", "no_residual"): "no residual adds",
    ("residual_block", "added_to_normed"): "you added the sublayer's output to the normalised x",
    ("residual_block", "mlp_without_add"): "the MLP's output replaced x",
    ("residual_block", "parallel"): "a parallel block",
    ("residual_block", "norms_swapped"): "the LayerNorms are swapped",
    ("residual_block", "attention_unnormalised"): "the attention must read ln_1(x)",
    ("quick_gelu", "exact_gelu"): "the exact GELU",
    ("quick_gelu", "tanh_gelu"): "tanh approximation",
    ("quick_gelu", "silu"): "SiLU",
    ("quick_gelu", "gate_only"): "multiply it by x",
    ("residual_attention", "naive"): "M·T is the naive weighting",
    ("residual_attention", "input_residual"): "you added the input x",
    ("residual_attention", "weighted_input"): "you weighted the input x",
    ("residual_attention", "added_mask"): "T + M adds the mask",
    ("residual_attention", "mask_of_trunk"): "the mask branch looks at the module's input x",
    ("post_ln_block", "pre_ln"): "that is the page's pre-LN block",
    ("post_ln_block", "no_attention_add"): "the attention's residual add is missing",
    ("post_ln_block", "no_mlp_add"): "the MLP's residual add is missing",
    ("post_ln_block", "normed_branch"): "you normalised each sublayer's output and then added it",
    ("post_ln_block", "normed_input"): "you applied each LayerNorm before the add",
    ("post_ln_block", "normalised_both_sides"): "the sublayers also read a normalised copy",
    ("post_ln_block", "norms_swapped"): "ln_1 normalises after the attention's add",
    ("which_tokens_move", "own_token_only"): "missing tokens 0, 1, 3, 4 and 5 on L=6, j=2, block='clip'. The "
    "residual add carries token j's change to its own output, but attention carries it to all the others",
    ("which_tokens_move", "mlp_mixes"): "tokens 0, 1, 3, 4 and 5 should not be there on L=6, j=2, "
    "block='no_attention'. Without attention nothing carries a change",
    ("which_tokens_move", "causal_backwards"): "missing tokens 4, 5 and 6; tokens 0, 1 and 2 should not be there "
    "on L=7, j=3, block='causal'. The causal mask lets token i read tokens 0 … i",
    ("which_tokens_move", "causal_ignored"): "tokens 0, 1 and 2 should not be there on L=7, j=3, block='causal'. "
    "The text mask hides token j",
    ("which_tokens_move", "class_attention_mixes"): "only the class token is a query",
    ("which_tokens_move", "class_attention_forgets_j"): "missing token 2 on L=5, j=2, block='class_attention'. "
    "Token j passes through unchanged",
    ("which_tokens_move", "class_attention_blind"): "missing token 0 on L=5, j=2, block='class_attention'. The "
    "class token's query attends to every token",
    ("patches_to_images", "column_major"): "the 4 × 4 square at patch row 0, column 1 of image 0 holds token 2; "
    "it is token 1. You laid the patches out column by column",
    ("patches_to_images", "channels_last"): "holds token 0's numbers, in the wrong places. You read each token as "
    "(p, p, C), channels last",
    ("patches_to_images", "no_permute"): "A reshape without the permute",
    ("patches_to_images", "grid_swapped"): "Your grid has W/p rows of H/p patches",
    ("patches_to_images", "patch_transposed"): "in the wrong places. Each patch is transposed",
    ("patches_to_images", "strided"): "does not hold token 0's numbers. Your pixels are interleaved",
    ("frame_split", "frame_major"): "the frames are in the wrong order",
    ("frame_split", "no_permute"): "reshape without the transpose",
    ("frame_split", "batch_first"): "batch first",
    ("frame_split", "column_order"): "column by column",
    ("message_tokens", "frame_major"): "rows are video-major (row = video·T + frame)",
    ("message_tokens", "videos_first"): "you returned (b, T, d)",
    ("message_tokens", "last_token"): "you took the last token",
    ("message_tokens", "first_patch"): "the first patch",
    ("message_tokens", "mean_of_tokens"): "you averaged the tokens",
    ("append_message", "frame_major"): "the messages landed on the wrong frames",
    ("append_message", "prepended"): "you put it first",
    ("append_message", "replaced_last"): "you wrote the message over the last token",
    ("append_message", "added"): "you added the message to every token",
    ("attention_flops", "flops"): "that counts FLOPs",
    ("attention_flops", "one_product"): "you counted one of the two products",
    ("attention_flops", "square"): "you counted L² pairs",
    ("attention_flops", "no_heads"): "the heads are missing",
    ("attention_flops", "no_batch"): "the batch is missing",
    ("attention_flops", "with_softmax"): "count only the two matrix products",
    ("scores_memory", "bits"): "you counted bits",
    ("scores_memory", "elements"): "you counted elements",
    ("scores_memory", "float64"): "8 bytes is a float64",
    ("scores_memory", "float16"): "2 bytes is a float16",
    ("scores_memory", "square"): "you counted L² scores",
    ("scores_memory", "no_heads"): "the heads are missing",
    ("online_softmax", "nan_when_fully_masked"): "came out NaN",
    ("online_softmax", "no_rescale"): "the sums were not rescaled",
    ("online_softmax", "wrong_sign"): "rescaled the wrong way",
    ("online_softmax", "first_only"): "only s1 was rescaled",
    ("online_softmax", "relative_to_zero"): "that sum is relative to 0",
    ("online_softmax", "minimum"): "the new max is the larger of the two",
    ("online_softmax", "global_max"): "one max for the whole tensor",
    ("kv_cache_bytes", "keys_only"): "0.5× the answer. Only the keys: the cache keeps the values too",
    ("kv_cache_bytes", "queries_too"): "1.5× the answer. You cached the queries too",
    ("kv_cache_bytes", "scores_shape"): "You counted (length × length) matrices, the scores' shape",
    ("kv_cache_bytes", "heads_twice"): "4× the answer. The heads count twice",
    ("kv_cache_bytes", "bits"): "8× the answer. You counted bits",
    ("kv_cache_bytes", "one_layer"): "One layer's cache: every attention layer keeps its own keys and values",
    ("kv_cache_bytes", "elements"): "0.25× the answer. You counted numbers, not bytes",
    ("longest_explicit", "one_matrix"): "1.415× the answer. You fitted one matrix",
    ("longest_explicit", "elements"): "2× the answer. You counted numbers, not bytes: a float32 takes 4 bytes",
    ("longest_explicit", "rounded_up"): "you returned 2,365 for budget_mib=256, batch=2, heads=3, 1 more than the "
    "answer. Rounded up",
    ("longest_explicit", "rounded"): "1 more than the answer. Rounded to the nearest",
    ("longest_explicit", "exact_fit_excluded"): "you returned 4,095 for budget_mib=1536, batch=1, heads=12, 1 less "
    "than the answer. These matrices fill the budget exactly, and that fits",
    ("longest_explicit", "megabytes"): "You took a MiB as 10⁶ bytes, a megabyte (MB)",
    ("longest_explicit", "not_converted"): "You compared bytes with MiB",
    ("merge_attention", "equal_average"): "you gave the two parts equal shares",
    ("merge_attention", "linear_lse"): "lse is a logarithm, so a part's mass is exp(lse)",
    ("merge_attention", "overflow"): "exp(lse) overflows: with lse near 1000, exp gives inf",
    ("merge_attention", "summed"): "you added the two outputs",
    ("merge_attention", "swapped"): "the shares are swapped",
    ("merge_attention", "larger_only"): "you kept the part with the larger lse",
    ("merge_attention", "not_per_row"): "the shares multiply the wrong axis",
    ("design_attention", "forgot_scaling"): "without the 1/√E it would be sharp enough",
    ("design_attention", "not_sharp"): "its largest share; it needs 0.99 (on perm=[2, 0, 3, 1], E=8). Every query "
    "prefers the right key, but not by enough",
    ("design_attention", "same_keys"): "E=4). Some keys are the same vector",
    ("design_attention", "transposed"): "The roles are swapped",
    ("design_attention", "identity"): "goes to key 0; it needs 0.99 (on perm=[2, 0, 3, 1], E=8). Every query looks "
    "at its own key",
    ("which_outputs_move", "key_moves_own_row"): "missing rows 0, 1, 3 and 4 on L=5, j=2, change='key'. Key j is "
    "read by every query",
    ("which_outputs_move", "query_moves_all"): "rows 0, 1, 3 and 4 should not be there on L=5, j=2, "
    "change='query'. Query j is read by row j alone",
    ("which_outputs_move", "value_moves_own_row"): "a softmax is never exactly 0",
    ("which_outputs_move", "key_shift_moves_all"): "a softmax ignores a constant added to a row",
    ("which_outputs_move", "query_shift_moves_nothing"): "Only a shift of the keys cancels",
    ("which_outputs_move", "value_shift_moves_nothing"): "every row moves by exactly c",
    ("frame_major_messages", "video_major_recipe"): "you read the rows as video-major",
    ("frame_major_messages", "videos_first"): "you returned (b, T, d), videos first",
    ("frame_major_messages", "last_token"): "you took the last token",
    ("frame_major_messages", "mean_of_tokens"): "you averaged the tokens",
    ("which_frames_move", "all_frames"): "frames 0, 2 and 3 should not be there on T=4, frame=1, token=3, "
    "blocks=1, cross_frame=True. In one block a patch token reaches only its own frame",
    ("which_frames_move", "own_frame_only"): "missing frames 0, 1 and 3 on T=4, frame=2, token=0, blocks=1, "
    "cross_frame=True. A class token makes its frame's message",
    ("which_frames_move", "patch_stays_home"): "from the second block on, a patch token reaches every frame",
    ("which_frames_move", "one_block_late"): "Messages arrive in the block that makes them",
    ("which_frames_move", "plain_clip_mixes"): "frames 0 and 1 should not be there on T=3, frame=2, token=0, "
    "blocks=1, cross_frame=False. Plain CLIP has no messages",
}


def mistake_id(param: tuple[str, ex.Mistake]) -> str:
    return f"{param[0]}-{param[1].name}"


# ---- The catalogue -------------------------------------------------------------------------------


def test_every_chapter_has_at_least_three_exercises():
    for chapter in range(1, 7):
        assert len(ex.ids(chapter)) >= 3, f"chapter {chapter} has {ex.ids(chapter)}"
    assert set(IDS) >= {"scaled_dot_product_attention", "causal_mask", "split_heads", "message_tokens"}
    assert set(IDS) >= {"append_message", "attention_flops", "online_softmax", "scores_memory"}
    assert len(set(IDS)) == len(IDS) == sum(len(ex.ids(c)) for c in range(1, 7))


@pytest.mark.parametrize("exercise_id", IDS)
def test_describe_shows_the_signature_and_shapes(exercise_id):
    exercise = ex.get(exercise_id)
    text = ex.describe(exercise_id)
    assert exercise.signature.startswith("solution(") and exercise.signature in text
    assert f"(chapter {exercise.chapter})" in text and f"Shapes: {exercise.shapes}" in text
    assert "0x" not in repr(exercise)


def test_every_mistake_has_a_pinned_message_of_its_own():
    assert set(PINNED) == {(i, m.name) for i, m in MISTAKES}
    for exercise_id in IDS:
        messages = [m.message for m in ex.get(exercise_id).mistakes]
        assert len(set(messages)) == len(messages), f"{exercise_id}: two mistakes share a message"


@pytest.mark.parametrize("exercise_id", IDS)
def test_cases_are_seeded(exercise_id):
    first, second = ex.get(exercise_id).cases(), ex.get(exercise_id).cases()
    for a, b in zip(first, second, strict=True):
        assert a.label == b.label
        for x, y in zip(a.args, b.args, strict=True):
            if isinstance(x, torch.Tensor):
                assert torch.equal(x, y)


# ---- Right answers pass, wrong ones are named ----------------------------------------------------


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_reference_solution_passes(exercise_id):
    result = ex.check(exercise_id, ex.get(exercise_id).reference)
    assert result.passed and bool(result), result.message
    assert result.message.startswith("right on all")


@pytest.mark.parametrize("param", MISTAKES, ids=mistake_id)
def test_each_classic_mistake_is_caught_with_its_message(param):
    exercise_id, mistake = param
    result = ex.check(exercise_id, mistake.solution)
    assert not result.passed and not bool(result)
    assert PINNED[exercise_id, mistake.name] in result.message, result.message
    assert "{symptom}" not in result.message


def _scores(q, k):
    return q @ k.transpose(-2, -1)


# Wrong answers written the way a reader writes them, independently of the registered mistakes.
READER_MISTAKES = [
    ("scaled_dot_product_attention", lambda q, k, v: torch.softmax(_scores(q, k), dim=-1) @ v, "√dₖ"),
    (
        "scaled_dot_product_attention",
        lambda q, k, v: F.softmax(_scores(q, k) / q.size(-1) ** 0.5, dim=-2) @ v,
        "rows do not sum to 1: softmax over the wrong dimension?",
    ),
    ("attention_weights", lambda q, k: (_scores(q, k) / math.sqrt(k.shape[-1])).softmax(0), "softmax over dim=0"),
    ("attention_scores", lambda q, k: torch.einsum("...le,...se->...ls", q, k), "off by a factor of √dₖ"),
    ("causal_mask", lambda L: torch.triu(torch.ones(L, L, dtype=torch.bool), diagonal=1), "inverted"),
    ("causal_mask", lambda L: torch.tril(torch.ones(L, L, dtype=torch.bool), diagonal=-1), "cannot see itself"),
    (
        "causal_mask",
        lambda L: torch.arange(L)[:, None] + 1 >= torch.arange(L)[None, :],
        "position 0 can see position 1: the mask lets the future in",
    ),
    ("causal_mask", lambda L: torch.tril(torch.ones(L, L)), "Return a bool tensor"),
    ("key_padding_mask", lambda lengths, S: torch.arange(S)[None] < lengths[:, None], "inverted"),
    ("bool_to_additive", lambda m: torch.where(m, 0.0, -1e4), "not −inf"),
    ("split_heads", lambda x, h: x.view(x.shape[0], h, x.shape[1], -1), "reshape without the transpose"),
    ("merge_heads", lambda z: z.mean(dim=1), "you averaged the heads"),
    ("multi_head_weights", lambda q, k, h: torch.softmax(_scores(q, k) / q.shape[-1] ** 0.5, -1), "wrong shape"),
    (
        "residual_block",
        lambda x, ln_1, attn, ln_2, mlp: ln_2(
            ln_1(x + attn(x, x, x, need_weights=False)[0]) + mlp(ln_1(x + attn(x, x, x, need_weights=False)[0]))
        ),
        "post-LN",
    ),
    ("quick_gelu", lambda x: x * torch.sigmoid(x), "SiLU"),
    ("residual_attention", lambda x, trunk, soft_mask: trunk(x) * soft_mask(x), "naive"),
    ("message_tokens", lambda x, T: x[0].view(T, -1, x.shape[-1]), "video-major"),
    ("append_message", lambda x, m: torch.cat([x, m.flatten(0, 1)[None]]), "wrong frames"),
    ("attention_flops", lambda B, H, L, S, E: 2 * (2 * B * H * L * S * E), "FLOPs"),
    ("scores_memory", lambda B, H, L, S: B * H * L * S * 32, "bits"),
    ("online_softmax", lambda m1, s1, m2, s2: (torch.max(m1, m2), s1 + s2), "not rescaled"),
    ("hf_to_attnlab_mask", lambda m: ~m.bool()[:, None, None, :], "Inverted"),
    ("hf_to_attnlab_mask", lambda m: m.unsqueeze(1).unsqueeze(1).float(), "masks nothing"),
    ("hf_to_attnlab_mask", lambda m: m.bool()[:, None, :, None], "wrong shape"),
    ("sliding_window_mask", lambda L, w: torch.ones(L, L, dtype=torch.bool).tril().triu(-w), "Off by one"),
    ("sliding_window_mask", lambda L, w: torch.ones(L, L, dtype=torch.bool).triu(-w + 1).tril(w - 1), "symmetric"),
    ("prefix_lm_mask", lambda L, p: torch.ones(L, L, dtype=torch.bool).tril(), "causal inside the prefix"),
    (
        "mha_mask_layout",
        lambda m: torch.cat([m[:, h] for h in range(m.shape[1])]),
        "Head-major rows",
    ),
]


@pytest.mark.parametrize(("exercise_id", "solution", "phrase"), READER_MISTAKES, ids=lambda p: None)
def test_mistakes_written_by_a_reader_are_named(exercise_id, solution, phrase):
    result = ex.check(exercise_id, solution)
    assert not result.passed
    assert phrase in result.message, result.message


def log_sum_state(m1, s1, m2, s2):
    """The combined sum through log-sum-exp: log s = logaddexp(m1 + log s1, m2 + log s2) − m."""
    return (torch.logaddexp(m1 + s1.log(), m2 + s2.log()) - torch.maximum(m1, m2)).exp()


# Right answers written another way than the reference: the checker must not be stricter than the task.
READER_SOLUTIONS = [
    (
        "scaled_dot_product_attention",
        lambda q, k, v: torch.einsum("...ls,...sv->...lv", torch.softmax(_scores(q / q.shape[-1] ** 0.5, k), -1), v),
    ),
    ("scaled_dot_product_attention", lambda q, k, v: F.scaled_dot_product_attention(q, k, v)),
    ("causal_mask", lambda L: torch.arange(L)[None, :] <= torch.arange(L)[:, None]),
    ("key_padding_mask", lambda lengths, S: torch.arange(S).expand(len(lengths), S) >= lengths[:, None]),
    ("bool_to_additive", lambda m: torch.log(m.double())),
    ("split_heads", lambda x, h: torch.stack(x.chunk(h, dim=-1), dim=1)),
    ("merge_heads", lambda z: torch.cat(z.unbind(1), dim=-1)),
    ("message_tokens", lambda x, T: torch.stack([x[0, t::T] for t in range(T)])),
    ("attention_flops", lambda B, H, L, S, E: float(2 * B * H * L * S * E)),
    ("hf_to_attnlab_mask", lambda m: (m != 0).view(m.shape[0], 1, 1, -1)),
    ("sliding_window_mask", lambda L, w: torch.ones(L, L, dtype=torch.bool).tril().triu(-w + 1)),
    ("prefix_lm_mask", lambda L, p: torch.ones(L, L).tril().bool() | (torch.arange(L) < p)),
    ("mha_mask_layout", lambda m: m.flatten(0, 1)),
    (
        "online_softmax",
        lambda m1, s1, m2, s2: (
            torch.maximum(m1, m2),
            torch.nan_to_num(torch.logaddexp(m1 + s1.log(), m2 + s2.log()).exp() / torch.maximum(m1, m2).exp()),
        ),
    ),
]


@pytest.mark.parametrize(("exercise_id", "solution"), READER_SOLUTIONS, ids=lambda p: None)
def test_right_answers_written_another_way_pass(exercise_id, solution):
    result = ex.check(exercise_id, solution)
    assert result.passed, result.message


# ---- Crashes, shapes, dtypes, NaN: explained, never raised ---------------------------------------


@pytest.mark.parametrize("exercise_id", IDS)
def test_a_crashing_solution_is_explained(exercise_id):
    def crashes(*args):
        raise IndexError("index 7 is out of bounds")

    result = ex.check(exercise_id, crashes)
    assert not result.passed
    first = ex.get(exercise_id).cases()[0].label
    assert result.message == f"your function raised IndexError on {first}: index 7 is out of bounds"


@pytest.mark.parametrize("exercise_id", IDS)
def test_returning_none_is_explained(exercise_id):
    result = ex.check(exercise_id, lambda *args: None)
    assert not result.passed and not result.pending and "returned None" in result.message

    def forgot_to_return(*args):
        answer = args[0]  # noqa: F841

    result = ex.check(exercise_id, forgot_to_return)
    assert not result.passed and not result.pending and "returned None" in result.message


def stub_pass(x):
    # your code here
    pass


def stub_docstring(x, y):
    """Write me."""


def stub_ellipsis(*args): ...


@pytest.mark.parametrize("exercise_id", IDS)
@pytest.mark.parametrize("stub", [stub_pass, stub_docstring, stub_ellipsis])
def test_an_untouched_stub_is_neutral_not_a_failure(exercise_id, stub):
    result = ex.check(exercise_id, stub)
    assert result.pending and not result.passed and not bool(result)
    assert repr(result).startswith(f"… {exercise_id}: your answer goes here\nthe function is still a stub")
    assert f"reveal({exercise_id!r})" in result.message
    html = result._repr_html_()
    assert "your answer goes here" in html and "#868e96" in html  # grey, not red
    assert "✗" not in html and "#c92a2a" not in html and "not yet" not in html
    assert result._repr_markdown_().startswith(f"**… {exercise_id}: your answer goes here**")


@pytest.mark.parametrize("exercise_id", [i for i in IDS if ex.get(i).output not in ("number", "set")])
def test_a_wrong_shape_gets_a_shape_message(exercise_id):
    reference = ex.get(exercise_id).reference

    def extra_axis(*args):
        out = reference(*args)
        return tuple(t.unsqueeze(0) for t in out) if isinstance(out, tuple) else out.unsqueeze(0)

    result = ex.check(exercise_id, extra_axis)
    assert not result.passed
    assert result.message.startswith("wrong shape: "), result.message
    assert ex.get(exercise_id).shapes in result.message


@pytest.mark.parametrize("exercise_id", [i for i in IDS if ex.get(i).output == "set"])
def test_a_set_exercise_wants_a_set_and_names_what_is_missing(exercise_id):
    result = ex.check(exercise_id, lambda *args: "a lot")
    assert not result.passed and "expected a set of integers" in result.message
    result = ex.check(exercise_id, lambda *args: set(ex.get(exercise_id).reference(*args)) | {-1})
    assert not result.passed and f"{ex.get(exercise_id).element} -1 should not be there on " in result.message


@pytest.mark.parametrize("exercise_id", [i for i in IDS if ex.get(i).output == "number"])
def test_a_number_exercise_wants_a_number(exercise_id):
    result = ex.check(exercise_id, lambda *args: "a lot")
    assert not result.passed and "expected a number" in result.message
    result = ex.check(exercise_id, lambda *args: 3 * ex.get(exercise_id).reference(*args))
    assert not result.passed and "it is 3× the answer" in result.message


def test_dtype_and_nan_are_named():
    reference = ex.get("scaled_dot_product_attention").reference
    result = ex.check("scaled_dot_product_attention", lambda q, k, v: reference(q, k, v).float())
    assert "dtype is torch.float32 for torch.float64 inputs" in result.message
    result = ex.check("scaled_dot_product_attention", lambda q, k, v: reference(q, k, v) / 0 * 0)
    assert "has NaN at" in result.message
    result = ex.check("causal_mask", lambda L: torch.ones(L, L, dtype=torch.int64).tril())
    assert "dtype is torch.int64, expected a bool (True/False) tensor" in result.message


def test_hints_for_common_errors():
    result = ex.check("merge_heads", lambda z: z.transpose(1, 2).view(z.shape[0], z.shape[2], -1))
    assert "raised RuntimeError" in result.message and "use .reshape(...)" in result.message
    result = ex.check("residual_block", lambda x, ln_1, attn, ln_2, mlp: x + attn(ln_1(x), ln_1(x), ln_1(x)))
    assert "raised TypeError" in result.message and "take [0]" in result.message


def test_a_solution_that_changes_its_inputs_in_place_cannot_fool_the_diagnosis():
    def no_scale_then_vandalise(q, k, v):
        out = torch.softmax(_scores(q, k), dim=-1) @ v
        q.zero_(), k.zero_(), v.zero_()
        return out

    assert "off by a factor of √dₖ" in ex.check("scaled_dot_product_attention", no_scale_then_vandalise).message


def test_check_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    ex.check("residual_block", lambda x, *parts: torch.randn_like(x))
    ex.check("frame_split", ex.get("frame_split").reference)
    assert torch.equal(torch.get_rng_state(), before)


# ---- The result and the errors -------------------------------------------------------------------


def test_the_result_is_frozen_deterministic_and_displays_itself():
    result = ex.check("causal_mask", ex.get("causal_mask").mistakes[0].solution)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.passed = True
    again = ex.check("causal_mask", ex.get("causal_mask").mistakes[0].solution)
    assert result == again and repr(result) == repr(again)
    assert repr(result).startswith("✗ causal_mask: not yet\n") and "0x" not in repr(result)
    assert result._repr_markdown_().startswith("**✗ causal_mask: not yet**")
    html = result._repr_html_()
    assert "✗ causal_mask: not yet" in html and "nn.MultiheadAttention&#x27;s" in html
    passed = ex.check("causal_mask", ex.get("causal_mask").reference)
    assert repr(passed) == "✓ causal_mask: passed\nright on all 3 test cases."


# ---- Worked solutions: reveal -------------------------------------------------------------------


def _revealed_function(exercise_id):
    """The function that reveal's source defines, executed with only torch and math at hand."""
    namespace = {"torch": torch, "math": math}
    exec(ex.reveal(exercise_id).source, namespace)
    functions = [v for k, v in namespace.items() if callable(v) and k not in ("torch", "math")]
    assert len(functions) == 1, f"{exercise_id}: the worked solution defines {len(functions)} functions"
    return functions[0]


@pytest.mark.parametrize("exercise_id", IDS)
def test_reveal_shows_a_worked_solution_that_passes(exercise_id):
    solution = ex.reveal(exercise_id)
    assert isinstance(solution, ex.Solution) and solution.exercise == exercise_id
    assert solution.source.startswith("def ") and len(solution.explanation) > 40
    assert ex.check(exercise_id, _revealed_function(exercise_id)).passed


@pytest.mark.parametrize("exercise_id", IDS)
def test_reveal_displays_collapsed_in_a_notebook_and_as_text(exercise_id):
    solution = ex.reveal(exercise_id)
    text = repr(solution)
    assert text.startswith(f"Worked solution of {exercise_id}: {ex.get(exercise_id).title}\n\n")
    assert solution.source in text and solution.explanation in text and "0x" not in text
    html = solution._repr_html_()
    assert html.startswith('<details class="attnlab-solution"') and "<details open" not in html
    assert "<summary>" in html and "<script" not in html
    assert not hasattr(solution, "_repr_markdown_")  # a Markdown display would show it unfolded


def test_reveal_of_an_unknown_id_raises():
    with pytest.raises(AttnLabError, match=r"unknown exercise 'prefix_mask'; did you mean 'prefix_lm_mask'\?"):
        ex.reveal("prefix_mask")


def test_an_exercise_written_without_a_solution_still_reveals_its_reference():
    """A module written before reveal (no ``solution`` or ``explanation``) still works: the reference's
    source and the task stand in."""

    def reference(L):
        return torch.ones(L, L, dtype=torch.bool).tril()

    old_style = ex.Exercise(
        "old_style", 3, "Old", "solution(L) -> Tensor", "bool (L, L)", "The task.", reference,
        lambda: [ex.Case((3,), "L=3")], dtype="bool",
    )  # fmt: skip
    from attnlab.exercises._core import run_check
    from attnlab.exercises._reveal import worked_solution

    solution = worked_solution(old_style)
    assert solution.source.startswith("def reference(L):") and "The task." in solution.explanation
    assert run_check(old_style, reference).passed and run_check(old_style, stub_pass).pending


def test_the_per_head_layout_is_the_one_nn_multiheadattention_reads():
    """mha_mask_layout's reference feeds nn.MultiheadAttention the mask of head h of sequence n."""
    torch.manual_seed(0)
    N, H, L, D = 2, 3, 4, 6
    mha = torch.nn.MultiheadAttention(D, H, bias=False, batch_first=True)
    x = torch.randn(N, L, D)
    bias = torch.randn(N, H, L, L)  # (N, H, L, S): a different additive mask per sequence and head
    _, weights = mha(x, x, x, attn_mask=ex.get("mha_mask_layout").reference(bias), average_attn_weights=False)
    q, k = (t.view(N, L, H, D // H).transpose(1, 2) for t in F.linear(x, mha.in_proj_weight).chunk(3, -1)[:2])
    expected = torch.softmax(q @ k.transpose(-2, -1) / (D // H) ** 0.5 + bias, dim=-1)  # (N, H, L, S)
    torch.testing.assert_close(weights, expected)


def test_the_mended_mask_gives_nn_multiheadattention_no_nan_and_the_same_real_outputs():
    torch.manual_seed(0)
    L = 6
    mha = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    x = torch.randn(1, L, 8)
    pad = torch.arange(L) < 2  # two pads on the left
    out, weights = mha(x, x, x, attn_mask=ex.get("mended_padding_mask").reference(pad))
    assert not out.isnan().any() and not weights.isnan().any()
    ours = MultiHeadAttention(8, 2, batch_first=True)
    ours.load_state_dict(mha.state_dict())
    plain = ~(torch.ones(L, L, dtype=torch.bool).tril() & ~pad[None, :])  # causal + padding, True = blocked
    torch.testing.assert_close(out[:, 2:], ours(x, x, x, attn_mask=plain)[0][:, 2:])
    assert mha(x, x, x, attn_mask=plain)[0][:, :2].isnan().all()  # the NaN it mends


def _moved(mask, changed):
    """The outputs of one attention layer under ``mask`` that change when token ``changed`` changes."""
    torch.manual_seed(0)
    x = torch.randn(mask.shape[0], 4)
    x2 = x.clone()
    x2[changed] += 1.0
    out, out2 = (torch.softmax((t @ t.T).masked_fill(~mask, float("-inf")), -1) @ t for t in (x, x2))
    return {i for i in range(mask.shape[0]) if not torch.equal(out[i], out2[i])}


def test_the_masks_of_the_transfer_exercises_decide_which_outputs_move():
    """What chapter 3 asks the reader to predict: an output moves exactly when its row sees the token."""
    window = ex.get("sliding_window_mask").reference(8, 3)
    assert _moved(window, 4) == {4, 5, 6}  # a window of 3: token 4 reaches outputs 4, 5, 6 only
    prefix = ex.get("prefix_lm_mask").reference(7, 3)
    assert _moved(prefix, 2) == set(range(7))  # a prefix token reaches every output, 0 and 1 too
    assert _moved(prefix, 5) == {5, 6}  # after the prefix, causal: nothing leaks back


def test_html_is_escaped():
    result = ex.Result("x", False, "<script>alert(1)</script>")
    assert "<script>" not in result._repr_html_() and "&lt;script&gt;" in result._repr_html_()


def test_an_unknown_id_raises_with_the_known_ones():
    with pytest.raises(
        AttnLabError, match=r"unknown exercise 'causal'; did you mean 'causal_mask'\? known exercises: "
    ):
        ex.check("causal", lambda L: L)
    with pytest.raises(AttnLabError, match="split_heads, merge_heads"):
        ex.describe("nothing like it")


def test_passing_the_result_instead_of_the_function_is_explained():
    result = ex.check("causal_mask", torch.ones(3, 3, dtype=torch.bool))
    assert not result.passed
    assert result.message.startswith("check needs your function itself, not what it returned (Tensor)")


@pytest.mark.parametrize(("b", "T", "n_tok", "d", "heads"), [(2, 6, 10, 32, 2), (1, 8, 50, 64, 4)])
def test_cross_frame_macs_reference_agrees_with_the_flop_counter(b, T, n_tok, d, heads):
    """The exercise's count is what torch's FlopCounterMode sees of one block's Q Kᵀ and A V (bmm)."""
    from attnlab import CrossFrameAttentionBlock, count_flops

    block = CrossFrameAttentionBlock(d, heads, T=T).eval()
    flops = count_flops(block, torch.randn(n_tok, b * T, d))
    assert flops["aten.bmm"] == 2 * ex.get("cross_frame_macs").reference(b, T, n_tok, d)


@pytest.mark.parametrize("answer_id", ["fixed_mixing_reach", "causal_mask_leaks_position"])
def test_open_answers_reveal_and_their_code_runs(answer_id):
    """An open exercise's revealed answer is shown folded, and its self-contained code runs as shown."""
    shown = ex.reveal(answer_id)
    assert shown.source and shown.explanation and "<details" in shown._repr_html_()
    exec(compile(shown.source, answer_id, "exec"), {})  # its asserts are the answer's claims


def test_every_open_answer_reveals():
    from attnlab.exercises._solutions import OPEN

    for answer_id in OPEN:
        assert ex.reveal(answer_id).title == OPEN[answer_id][0]


# Per chapter whose retyping exercises became transfer tasks (issue 17): its number, the transfer module,
# the self-checking exercises on the page, and those retired from it, which stay registered.
RETIRED = {
    "chapters/02_multi_head_attention.ipynb": (
        2,
        "ch2_transfer",
        ("mha_batch_layout", "grouped_query_attention", "multi_head_weights"),
        ("split_heads", "merge_heads"),
    ),
    "chapters/04_residual_attention.ipynb": (
        4,
        "ch4_transfer",
        ("post_ln_block", "which_tokens_move", "patches_to_images"),
        ("residual_block", "quick_gelu", "residual_attention"),
    ),
    "chapters/06_cost_of_attention.ipynb": (
        6,
        "ch6_transfer",
        ("kv_cache_bytes", "longest_explicit", "online_softmax"),
        ("attention_flops", "scores_memory"),
    ),
}


@pytest.mark.parametrize("notebook", RETIRED)
def test_a_chapter_checks_its_transfer_exercises_and_the_retired_ones_stay_registered(notebook):
    chapter, module, on_page, retired = RETIRED[notebook]
    transfer = tuple(e.id for e in getattr(ex, module).EXERCISES)
    assert {ex.get(i).chapter for i in transfer} == {chapter} and transfer == on_page[: len(transfer)]
    assert set(on_page) | set(retired) == set(ex.ids(chapter))
    for exercise_id in retired:  # off the page, still checked and revealed
        assert ex.check(exercise_id, ex.get(exercise_id).reference).passed
        assert ex.reveal(exercise_id).source.startswith("def ")
    cells = json.loads((Path(__file__).parent.parent / notebook).read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    for exercise_id in on_page:
        assert f'check("{exercise_id}", ' in code and f'reveal("{exercise_id}")' in code
    for exercise_id in retired:
        assert f'"{exercise_id}"' not in code
