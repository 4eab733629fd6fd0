"""Worked solutions that :func:`attnlab.exercises.reveal` shows, for the exercises whose module does
not carry its own (``Exercise.solution`` and ``Exercise.explanation`` take precedence).

Each entry is the solution as a reader would write it, self-contained (it needs only ``torch`` and
``math``), and a few sentences on why it is right. The tests run every one through ``check``.

``OPEN`` holds the answers of the open exercises, those no function can check (predict, then measure;
show that something holds): a title, code that shows the answer (self-contained: ``torch`` and
``attnlab``; the tests run it) and the explanation.
"""

from __future__ import annotations

SOLUTIONS: dict[str, tuple[str, str]] = {
    "attention_scores": (
        """def my_scores(q, k):
    # Only k's last two axes swap.
    return q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., L, S)""",
        "Entry (i, j) is the dot product of query i with key j, so k is transposed on its last two "
        "axes only (the batch axes stay in front). Dividing by √E, the width of one query, keeps the "
        "scores' variance near 1 whatever the width.",
    ),
    "attention_weights": (
        """def my_weights(q, k):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., L, S)
    return torch.softmax(scores, dim=-1)  # along the keys: each row sums to 1""",
        "Each query shares one unit of weight among the keys, so the softmax runs along the keys, the "
        "last axis: every row of the (L, S) map sums to 1.",
    ),
    "scaled_dot_product_attention": (
        """def my_attention(q, k, v):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., L, S)
    # Each output row is a weighted average of the values.
    return torch.softmax(scores, dim=-1) @ v  # (..., L, Ev)""",
        "Scores, a softmax along the keys, then the weights times the values: output i is the average "
        "of the values weighted by how well query i matches each key.",
    ),
    "sinusoidal_positions": (
        """def my_table(length, dim):
    p = torch.arange(length, dtype=torch.float64)[:, None]  # (L, 1)
    omega = 10000 ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)  # (D/2,)
    angles = p * omega  # (L, D/2): pair i turns by omega_i per position
    # sin and cos of pair i side by side: columns 2i and 2i + 1
    return torch.stack([angles.sin(), angles.cos()], dim=-1).flatten(-2)  # (L, D)""",
        "Pair i of the table turns at its own frequency ω_i = 10000^(−2i/D): column 2i holds the sine of "
        "p·ω_i and column 2i + 1 its cosine. Stacking the two on a new last axis and flattening puts them "
        "side by side, interleaved; float64 keeps the slow pairs exact.",
    ),
    "apply_rope": (
        """def my_rope(x):
    L, E = x.shape[-2:]
    theta = 10000 ** (-torch.arange(0, E, 2, dtype=x.dtype) / E)  # (E/2,)
    angles = torch.arange(L, dtype=x.dtype)[:, None] * theta  # (L, E/2)
    cos, sin = angles.cos().repeat(1, 2), angles.sin().repeat(1, 2)  # (L, E)
    x1, x2 = x.chunk(2, dim=-1)  # feature i pairs with feature i + E/2
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin  # (..., L, E)""",
        "Feature i and feature i + E/2 form pair i, turned by the angle p·θ_i at position p. Writing the "
        "rotation as x·cos + rotate_half(x)·sin, with rotate_half(x₁, x₂) = (−x₂, x₁), turns every pair "
        "at once; the angles repeat over the two halves because both features of a pair share one.",
    ),
    "split_heads": (
        """def my_split_heads(x, num_heads):
    B, L, D = x.shape
    x = x.view(B, L, num_heads, D // num_heads)  # (B, L, H, E)
    return x.transpose(1, 2)  # (B, H, L, E)""",
        "The view cuts each position's D features into H consecutive groups of E; the transpose then "
        "brings the heads in front of the positions. A view straight to (B, H, L, E) would cut across "
        "positions instead.",
    ),
    "merge_heads": (
        """def my_merge_heads(z):
    B, H, L, E = z.shape
    return z.transpose(1, 2).reshape(B, L, H * E)  # (B, L, H, E) -> (B, L, H·E)""",
        "The inverse of the split: positions back in front of the heads, then each position's H "
        "heads side by side. After the transpose the tensor is not contiguous, so reshape, not view.",
    ),
    "multi_head_weights": (
        """def my_head_weights(q, k, num_heads):
    B, L, D = q.shape
    qh = q.view(B, L, num_heads, D // num_heads).transpose(1, 2)  # (B, H, L, E)
    kh = k.view(B, -1, num_heads, D // num_heads).transpose(1, 2)  # (B, H, S, E)
    E = qh.shape[-1]
    scores = qh @ kh.transpose(-2, -1) / E**0.5  # (B, H, L, S): 1/√E, not 1/√D
    return torch.softmax(scores, dim=-1)""",
        "Split queries and keys into heads, then one attention map per head. Each head's dot products "
        "run over its E = D / H features, so the scale is 1/√E, not 1/√D.",
    ),
    "residual_block": (
        """def my_block_forward(x, ln_1, attn, ln_2, mlp):
    h = ln_1(x)
    x = x + attn(h, h, h, need_weights=False)[0]  # (L, N, D): attention, added back
    return x + mlp(ln_2(x))  # the MLP, added back""",
        "Pre-LN: each sublayer reads a normalised copy of x and its output is added back to x itself, "
        "so the residual stream is never normalised in place. nn.MultiheadAttention returns "
        "(output, weights): take [0].",
    ),
    "quick_gelu": (
        """def my_quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)""",
        "CLIP's QuickGELU approximates the GELU x·Φ(x) with x·σ(1.702·x): the sigmoid of a scaled x "
        "stands in for the normal CDF.",
    ),
    "residual_attention": (
        """def my_residual_attention(x, trunk, soft_mask):
    # (1 + M)·T: the trunk, plus the trunk weighted by the mask
    return (1 + soft_mask(x)) * trunk(x)""",
        "Attention residual learning: H = (1 + M(x))·T(x). Where the mask is 0 the trunk passes "
        "unchanged, so stacking modules cannot fade the features the way M·T alone does.",
    ),
    "frame_split": (
        """def my_frame_tokens(video, conv):
    b, t, c, h, w = video.shape
    # (b·t, d, h/p, w/p): every frame an image, video-major
    patches = conv(video.reshape(b * t, c, h, w))
    return patches.flatten(2).permute(2, 0, 1)  # (b·t, d, P) -> (P, b·t, d)""",
        "Every frame is an image for the patch embedding, so videos and frames merge into one batch "
        "axis, video-major (row = video·t + frame). The patches then become the sequence axis, first, "
        "in CLIP's (L, N, D) layout.",
    ),
    "message_tokens": (
        """def my_message_tokens(x, T):
    bT, d = x.shape[1:]  # x is (l, b·T, d)
    # (b, T, d) -> (T, b, d): frames first
    return x[0].reshape(bT // T, T, d).permute(1, 0, 2)""",
        "The message comes from each frame's class token, row 0. The batch axis is video-major, so "
        "reshaping it to (b, T) puts each video's frames together; the permute puts the frames first, "
        "the sequence axis of the message attention.",
    ),
    "append_message": (
        """def my_append_message(x, m):
    T, b, d = m.shape
    # (1, b·T, d): row = video·T + frame, as in x
    rows = m.permute(1, 0, 2).reshape(1, b * T, d)
    return torch.cat([x, rows])  # (l + 1, b·T, d): each frame's message last""",
        "The messages go back to the frames they came from: undo the permute so that row video·T + "
        "frame holds that frame's message, then append it as one more token at the end.",
    ),
    "attention_flops": (
        """def my_attention_macs(B, H, L, S, E):
    # Q Kᵀ and A V: L·S·E each, for every head of every sequence
    return 2 * B * H * L * S * E""",
        "Two matrix products per head: Q Kᵀ takes L·S·E multiply-accumulates and A V another L·S·E; "
        "times the heads and the batch. The softmax is not counted.",
    ),
    "scores_memory": (
        """def my_scores_bytes(B, H, L, S):
    return 4 * B * H * L * S  # B·H·L·S scores of 4 bytes each""",
        "One float32 score, 4 bytes, for every query-key pair of every head of every sequence.",
    ),
    "online_softmax": (
        """def my_combine(m1, s1, m2, s2):
    m = torch.maximum(m1, m2)  # (...): each query's own new maximum
    # keys masked in both blocks: exp(-inf - (-inf)) would be NaN
    blind = torch.isneginf(m)
    f1 = torch.where(blind, 0.0, torch.exp(m1 - m))  # rescaling factors, each <= 1
    f2 = torch.where(blind, 0.0, torch.exp(m2 - m))
    return m, s1 * f1 + s2 * f2  # both sums relative to m; (-inf, 0) where nothing was seen""",
        "Each sum is relative to its own block's maximum; to add them, rescale both to the new "
        "maximum m by exp(m_i - m). A query that saw only masked keys has m = -inf, where the rescaling "
        "would be exp(NaN): it keeps (-inf, 0).",
    ),
}


OPEN: dict[str, tuple[str, str, str]] = {
    "fixed_mixing_reach": (
        "What a causal fixed-mixing matrix can do",
        """import torch
from attnlab.models.mixing import FixedMixing

L = 8
x = torch.randn(4, L, 3, generator=torch.Generator().manual_seed(2))
mix = FixedMixing(3, L, causal=True, value=False)  # z = softmax(M) x, no value map
rows = torch.arange(L)
with torch.no_grad():
    mix.logits.fill_(-30.0)
    mix.logits[rows[2:], rows[2:] - 2] = 30.0  # two back: row i -> column i - 2
    torch.testing.assert_close(mix(x)[0][:, 2:], x[:, :-2])
    mix.logits.fill_(-30.0)
    mix.logits[:, 0] = 30.0  # the first token: every row -> column 0
    torch.testing.assert_close(mix(x)[0], x[:, :1].expand(-1, L, -1))
    # Two ahead would need column i + 2 of row i, which the causal mask hides:
    assert (mix.weights(L).triu(1) == 0).all()""",
        "Two back and the first token, yes; two ahead, no: row i never sees column i + 2. Every one of "
        "these maps is the same for every input, which is why a fixed matrix can hold it.",
    ),
    "causal_mask_leaks_position": (
        "A causal mask already leaks position",
        """import torch
import attnlab

g = torch.Generator().manual_seed(4)
X = torch.randn(6, 8, generator=g)
W_Q, W_K, W_V = torch.randn(3, 8, 8, generator=g)
order = torch.randperm(6, generator=g)


def causal_layer(X):
    mask = attnlab.causal_mask(len(X))
    return attnlab.scaled_dot_product_attention(X @ W_Q, X @ W_K, X @ W_V, mask)


def plain_layer(X):
    return attnlab.scaled_dot_product_attention(X @ W_Q, X @ W_K, X @ W_V)


torch.testing.assert_close(plain_layer(X[order]), plain_layer(X)[order])  # equivariant
assert not torch.allclose(causal_layer(X[order]), causal_layer(X)[order])  # not""",
        "Without a mask, permuting the tokens permutes the outputs. With the causal mask, token i averages "
        "over the i + 1 tokens before it, so the first token's output is its own value and the last one's "
        "an average over all: how many tokens a token sees tells it where it sits, and a decoder with no "
        "position encoding can use that.",
    ),
    "order_in_xclip": (
        "Where order gets into X-CLIP",
        """import copy

blind = copy.deepcopy(xclip)  # the chapter's trained X-CLIP (order task)
with torch.no_grad():
    blind.mit.positional_embedding.zero_()
    acc_blind = accuracy_of(blind, test_x, test_y)
    same = blind(test_x[PAIRS:])  # the reversed halves
    assert_close(blind(test_x[:PAIRS]), same, atol=1e-4, rtol=1e-4)  # video = reversal
print(f"{acc_blind:.0%}")  # 50 %""",
        "50 %, by construction. With its positions zeroed, MIT is a Transformer over the T frame features "
        "with nothing that tells one frame from another, followed by a mean over frames: it ignores their "
        "order. The cross-frame encoder is permutation-equivariant over frames. So a video and its "
        "reversal get the same logits, and the paired test set holds each video both ways with opposite "
        "labels: one of each pair is right, whatever the weights. Frame order enters X-CLIP only through "
        "MIT's positional embedding.",
    ),
}
