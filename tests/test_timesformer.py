"""DividedSpaceTimeBlock: what each token can see, its cost, and errors."""

from __future__ import annotations

import pytest
import torch

from attnlab import AttnLabError, attention_flops, count_flops
from attnlab.models.timesformer import DividedSpaceTimeBlock

T, P, D, H, B = 3, 4, 16, 2, 2


def block_and_input():
    torch.manual_seed(0)
    block = DividedSpaceTimeBlock(D, H, T).eval()
    x = torch.randn(1 + P, B * T, D, generator=torch.Generator().manual_seed(1))  # (l, B·T, D)
    return block, x


def changed_tokens(block, x, token: int, row: int) -> set[tuple[int, int]]:
    """Which (token, row) outputs move when input (token, row) changes."""
    y = x.clone()
    y[token, row] += torch.randn(D, generator=torch.Generator().manual_seed(2))  # not a constant: LayerNorm drops those
    with torch.no_grad():
        moved = (block(y) - block(x)).abs().amax(-1) > 1e-6  # (l, B·T)
    return {(int(t), int(r)) for t, r in moved.nonzero()}


def test_shape_and_what_a_patch_reaches_in_one_block():
    block, x = block_and_input()
    assert block(x).shape == x.shape
    video, frame, patch = 1, 2, 3
    row = video * T + frame
    reached = changed_tokens(block, x, token=1 + patch, row=row)
    rows_of_video = set(range(video * T, (video + 1) * T))
    assert {r for _, r in reached} == rows_of_video  # temporal attention: every frame of its video, no other
    assert {(1 + patch, r) for r in rows_of_video} <= reached  # the same patch position in every frame
    assert {(t, row) for t in range(1 + P)} <= reached  # and, spatially, its whole own frame
    other_frame = video * T + (frame + 1) % T
    assert (0, other_frame) in reached and (2, other_frame) in reached  # through that frame's patch 3


def test_a_class_token_stays_in_its_frame():
    """Class tokens skip temporal attention: a frame's class token reaches only its own frame."""
    block, x = block_and_input()
    assert {r for _, r in changed_tokens(block, x, token=0, row=4)} == {4}


def test_core_flops_are_the_formula():
    """The core (Q Kᵀ and A V): P attentions over T frames plus T·B attentions over the frame's 1 + P tokens."""
    block, x = block_and_input()
    core = count_flops(block, x)["aten.bmm"]
    assert core == B * attention_flops(1, H, T, T, D // H) * P + B * T * attention_flops(1, H, 1 + P, 1 + P, D // H)


def test_bad_input_is_named():
    block, _ = block_and_input()
    with pytest.raises(
        AttnLabError, match=r"x must be \(1 \+ P, B·T, D\) with B·T a multiple of T = 3, got \(5, 4, 16\)"
    ):
        block(torch.zeros(5, 4, D))
    with pytest.raises(AttnLabError, match=r"T must be >= 1 frames, got 0"):
        DividedSpaceTimeBlock(D, H, 0)
