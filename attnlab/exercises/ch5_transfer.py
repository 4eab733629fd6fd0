"""Chapter 5's transfer exercises: X-CLIP's message tokens in a layout, and a reach, the page does not show.

Nothing on the chapter's page answers them by copying: the message tokens of a batch stacked frame-major
(row = frame·b + video, where the walkthrough is video-major), and which frames a change to one token
reaches after several cross-frame blocks (the page proves one block). Shapes follow the X-CLIP code and
the book's notation page: b videos of T frames, l tokens per frame (the class token at index 0), width d.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._core import Case, Exercise, Mistake, describe_args, seeded_cases

__all__ = ["EXERCISES"]


# ---- frame_major_messages -----------------------------------------------------------------------


def _frame_major_cases() -> list[Case]:
    cases = seeded_cases(("x", "T"), [((3, 9, 4), 3), ((4, 6, 5), 3), ((3, 8, 2), 2), ((2, 5, 3), 5)], seed=12)
    return [Case(c.args, f"{c.label} (x is (l, T·b, d), so b={c.args[0].shape[1] // c.args[1]})") for c in cases]


def _frame_major(x: torch.Tensor, T: int) -> torch.Tensor:
    return x[0].reshape(T, x.shape[1] // T, x.shape[2])  # (T, b, d): row t·b + n is frame t of video n


_FRAME_MAJOR = Exercise(
    id="frame_major_messages",
    chapter=5,
    title="Message tokens from a frame-major batch",
    signature="solution(x, T) -> Tensor",
    shapes="x (l, T·b, d), class token at index 0, rows frame-major (row = frame·b + video) → (T, b, d)",
    task="Another codebase stacks the frames of a batch frame-major: row t·b + n of x holds frame t of video "
    "n (the chapter's X-CLIP is video-major, row n·T + t). Return the message tokens as X-CLIP's CFA reads "
    "them, frames first: out[t, n] is the class token of frame t of video n (leave out message_fc).",
    reference=_frame_major,
    cases=_frame_major_cases,
    mistakes=(
        Mistake(
            "video_major_recipe",
            lambda x, T: x[0].reshape(x.shape[1] // T, T, x.shape[2]).permute(1, 0, 2),
            "you read the rows as video-major (the chapter's layout, row n·T + t) and permuted. Here row "
            "t·b + n is frame t of video n: the frames already come first, so x[0].reshape(T, b, d) is the "
            "answer, with no permute",
        ),
        Mistake(
            "videos_first",
            lambda x, T: _frame_major(x, T).transpose(0, 1),
            "you returned (b, T, d), videos first: CFA attends across the frames of a video, so the frames are "
            "its sequence axis and come first, (T, b, d)",
        ),
        Mistake(
            "last_token",
            lambda x, T: _frame_major(x[-1:], T),
            "you took the last token: the class token is at index 0, x[0]",
        ),
        Mistake(
            "mean_of_tokens",
            lambda x, T: _frame_major(x.mean(0, keepdim=True), T),
            "you averaged the tokens: each message comes from its frame's class token alone, x[0]",
        ),
    ),
    solution="""def my_frame_major_messages(x, T):
    Tb, d = x.shape[1:]  # x is (l, T·b, d)
    # row t·b + n: the T·b rows split as (T, b), frames first already
    return x[0].reshape(T, Tb // T, d)  # (T, b, d): out[t, n] = x[0, t·b + n]""",
    explanation="A reshape splits an axis with its first factor outermost. Frame-major rows are numbered "
    "t·b + n, so the frame is the outer factor: reshaping x[0] to (T, b, d) puts out[t, n] = x[0, t·b + n], "
    "frames first, as CFA wants them, with no permute. The chapter's video-major rows, n·T + t, have the video "
    "outermost; that is why its X-CLIP reshapes to (b, T) and then swaps the axes.",
)


# ---- which_frames_move --------------------------------------------------------------------------


def _frames_that_move(T: int, frame: int, token: int, blocks: int, cross_frame: bool) -> set[int]:
    if not cross_frame:
        return {frame}  # plain CLIP: every frame is an image of its own
    if token == 0 or blocks >= 2:
        # a class token makes its frame's message in block 1; a patch token reaches its frame's class
        # token in block 1 (IFA), and block 2 makes a message from it
        return set(range(T))
    return {frame}  # one block: a patch token stays in its frame


def _rule(reach: Callable[[int, int], bool], plain_mixes: bool = False) -> Callable[..., set[int]]:
    """A wrong rule: every frame moves when ``reach(token, blocks)``, else its own frame only."""

    def rule(T: int, frame: int, token: int, blocks: int, cross_frame: bool) -> set[int]:
        if not cross_frame and not plain_mixes:
            return {frame}
        return set(range(T)) if reach(token, blocks) else {frame}

    return rule


def _which_frames_cases() -> list[Case]:
    names = ("T", "frame", "token", "blocks", "cross_frame")
    rows = (
        (4, 1, 3, 1, True),
        (4, 2, 0, 1, True),
        (5, 0, 2, 2, True),
        (3, 2, 0, 1, False),
        (6, 4, 5, 3, True),
        (4, 3, 1, 2, False),
        (8, 5, 0, 2, True),
    )
    return [Case(row, describe_args(names, row)) for row in rows]


_WHICH_FRAMES = Exercise(
    id="which_frames_move",
    chapter=5,
    title="Which frames does one token reach?",
    signature="solution(T, frame, token, blocks, cross_frame) -> set",
    shapes="T frames, frame and token indices, blocks ≥ 1, cross_frame a bool → a set of frames (0 … T − 1)",
    task="A video of T frames enters a stack of `blocks` blocks as tokens (l, b·T, d), class token first. "
    "With cross_frame=True they are X-CLIP's cross-frame blocks (message tokens from each frame's class "
    "token, CFA across the frames, each message appended to its frame for IFA); with cross_frame=False, "
    "plain CLIP blocks, frame by frame. One token of one frame changes before the first block: token 0 is "
    "the class token, any other a patch; a generic change (not one number added to every feature, which "
    "LayerNorm removes). Predict the frames of that video whose output tokens change, by any amount (the "
    "weights are generic too: nothing cancels by chance). Other videos never move. Return a set.",
    reference=_frames_that_move,
    cases=_which_frames_cases,
    mistakes=(
        Mistake(
            "all_frames",
            _rule(lambda token, blocks: True),
            "{symptom}. In one block a patch token reaches only its own frame: other frames hear from a frame "
            "only through its message, and a block makes its messages from the class tokens as they enter it",
        ),
        Mistake(
            "own_frame_only",
            _rule(lambda token, blocks: False),
            "{symptom}. A class token makes its frame's message, and CFA sends that message to every frame of "
            "the video, where IFA reads it: a class token reaches every frame in one block, and a patch token "
            "in two (block 1 carries it to its frame's class token)",
        ),
        Mistake(
            "patch_stays_home",
            _rule(lambda token, blocks: token == 0),
            "{symptom}. A patch token is read by its frame's class token in block 1 (IFA), and block 2 makes "
            "its message from that class token: from the second block on, a patch token reaches every frame",
        ),
        Mistake(
            "one_block_late",
            _rule(lambda token, blocks: blocks >= (2 if token == 0 else 3)),
            "{symptom}. Messages arrive in the block that makes them: CFA runs first, then each message is "
            "appended to its frame for that block's IFA. A class token reaches every frame after one block, a "
            "patch token after two",
        ),
        Mistake(
            "plain_clip_mixes",
            _rule(lambda token, blocks: token == 0 or blocks >= 2, plain_mixes=True),
            "{symptom}. Plain CLIP has no messages: each frame goes through the blocks as an image of its own, "
            "so a change stays in its frame however many blocks there are",
        ),
    ),
    output="set",
    element="frame",
    solution="""def my_which_frames_move(T, frame, token, blocks, cross_frame):
    if not cross_frame:
        return {frame}  # plain CLIP: frames never exchange anything
    if token == 0:
        return set(range(T))  # its message reaches every frame in block 1
    # a patch token: its own frame in block 1 (its class token too, by IFA),
    # every frame from block 2 on, whose messages come from those class tokens
    return set(range(T)) if blocks >= 2 else {frame}""",
    explanation="Frames exchange information only through message tokens, and a block makes its messages from "
    "the class tokens as they enter the block; within the same block CFA spreads them and IFA reads them. A "
    "class token therefore reaches every frame of its video in one block. A patch token first reaches its "
    "own frame's tokens, the class token included, through IFA; block 2 turns that class token into a "
    "message: every frame. Plain CLIP has no messages, so nothing leaves the frame. The chapter proves the "
    "one-block case on the trained block; the tests check this rule on X-CLIP's blocks with random weights.",
)

EXERCISES = (_FRAME_MAJOR, _WHICH_FRAMES)
