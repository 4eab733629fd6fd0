"""Exercises of chapter 5, video: X-CLIP's frames as patch tokens, message tokens and their layouts.

Video shapes follow the X-CLIP code and the book's notation page: b videos of T frames, l tokens per
frame (the class token at index 0), width d; rows of a (l, b·T, d) tensor are video-major,
row = video·T + frame.
"""

from __future__ import annotations

import torch
from torch import nn

from ._core import Case, Exercise, Mistake, describe_args

__all__ = ["EXERCISES"]

_VIDEO_MAJOR = "rows are video-major (row = video·T + frame)"


def _randn(g: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def _frame_cases() -> list[Case]:
    cases = []
    for seed, (shape, d, p) in enumerate((((2, 3, 3, 8, 8), 5, 4), ((1, 4, 3, 8, 12), 3, 4), ((3, 2, 1, 6, 6), 4, 2))):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            conv = nn.Conv2d(shape[2], d, kernel_size=p, stride=p, bias=False, dtype=torch.float64)
            video = torch.randn(*shape, dtype=torch.float64)
        label = f"video of shape {shape} (b, t, c, h, w), conv with {p}×{p} patches to width {d}"
        cases.append(Case((video, conv), label))
    return cases


def _patches(video: torch.Tensor, conv: nn.Module) -> torch.Tensor:
    b, t, c, h, w = video.shape
    return conv(video.reshape(b * t, c, h, w))  # (b·t, d, h/p, w/p), row = video·t + frame


def _frame_tokens(video: torch.Tensor, conv: nn.Module) -> torch.Tensor:
    return _patches(video, conv).flatten(2).permute(2, 0, 1)  # (P, b·t, d)


def _frame_major(video: torch.Tensor, conv: nn.Module) -> torch.Tensor:
    return _frame_tokens(video.transpose(0, 1), conv)  # (P, t·b, d), row = frame·b + video


_FRAME_SPLIT = Exercise(
    id="frame_split",
    chapter=5,
    title="Frames to patch tokens",
    signature="solution(video, conv) -> Tensor",
    shapes="video (b, t, c, h, w) → (b·t, c, h, w) → tokens (P, b·t, d), P = (h/p)·(w/p)",
    task="Treat every frame as an image: stack the frames video-major (row = video·t + frame), cut them into "
    "patches with conv (kernel = stride = p, out channels d), number the patches row by row, and return the "
    "tokens sequence first, as CLIP's transformer takes them.",
    reference=_frame_tokens,
    cases=_frame_cases,
    mistakes=(
        Mistake(
            "frame_major",
            _frame_major,
            "the frames are in the wrong order: reshape (b, t, c, h, w) straight to (b·t, c, h, w), so that "
            "row video·t + frame holds that frame; you put the frames first",
        ),
        Mistake(
            "no_permute",
            lambda video, conv: (
                _patches(video, conv).flatten(2).reshape(-1, video.shape[0] * video.shape[1], conv.out_channels)
            ),
            "reshape without the transpose: conv gives (b·t, d, h', w'), flatten(2) gives (b·t, d, P); move "
            "the axes with permute(2, 0, 1) to get (P, b·t, d)",
        ),
        Mistake(
            "batch_first",
            lambda video, conv: _patches(video, conv).flatten(2).transpose(1, 2),
            "you returned (b·t, P, d), batch first: CLIP's transformer takes the sequence first, (P, b·t, d)",
        ),
        Mistake(
            "column_order",
            lambda video, conv: _patches(video, conv).transpose(-2, -1).flatten(2).permute(2, 0, 1),
            "the patches are numbered column by column: number them row by row, as flatten(2) does",
        ),
    ),
)


def _token_cases() -> list[Case]:
    g = torch.Generator().manual_seed(8)
    cases = []
    for shape, T in (((5, 6, 4), 3), ((3, 8, 2), 2), ((2, 3, 5), 3), ((4, 6, 3), 2)):
        x = _randn(g, *shape)
        cases.append(Case((x, T), f"x of shape {shape} (l, b·T, d), T={T}, so b={shape[1] // T}"))
    return cases


def _messages(x: torch.Tensor, T: int) -> torch.Tensor:
    bt, d = x.shape[1:]
    return x[0].reshape(bt // T, T, d).permute(1, 0, 2)  # (T, b, d): m[t, n] = x[0, n·T + t]


_MESSAGE_TOKENS = Exercise(
    id="message_tokens",
    chapter=5,
    title="Message tokens from the class tokens",
    signature="solution(x, T) -> Tensor",
    shapes="x (l, b·T, d), class token at index 0 → (T, b, d)",
    task="Take every frame's class token and arrange them as X-CLIP arranges its message tokens, frames "
    "first: out[t, n] is the class token of frame t of video n. (X-CLIP then applies a linear layer; "
    "leave it out here.)",
    reference=_messages,
    cases=_token_cases,
    mistakes=(
        Mistake(
            "frame_major",
            lambda x, T: x[0].reshape(T, x.shape[1] // T, x.shape[2]),
            f"{_VIDEO_MAJOR}: view x[0] as (b, T, d), then permute to (T, b, d); reshaping straight to "
            "(T, b, d) mixes frames of different videos",
        ),
        Mistake(
            "videos_first",
            lambda x, T: x[0].reshape(x.shape[1] // T, T, x.shape[2]),
            "you returned (b, T, d): the message tokens attend across frames, so the frames come first, "
            "permute(1, 0, 2) to (T, b, d)",
        ),
        Mistake(
            "last_token",
            lambda x, T: _messages(x.flip(0), T),
            "you took the last token: the class token is at index 0, x[0]",
        ),
        Mistake(
            "first_patch",
            lambda x, T: _messages(x[1:], T),
            "you took token 1, the first patch: the class token is at index 0, x[0]",
        ),
        Mistake(
            "mean_of_tokens",
            lambda x, T: _messages(x.mean(0, keepdim=True), T),
            "you averaged the tokens: each message token comes from its frame's class token alone, x[0]",
        ),
    ),
)


def _append_cases() -> list[Case]:
    g = torch.Generator().manual_seed(9)
    cases = []
    for tokens, b, T, d in ((4, 2, 3, 5), (2, 4, 2, 3), (3, 3, 2, 2), (3, 2, 1, 4)):
        x, m = _randn(g, tokens, b * T, d), _randn(g, T, b, d)
        cases.append(Case((x, m), f"x of shape {(tokens, b * T, d)} (l, b·T, d), m of shape {(T, b, d)} (T, b, d)"))
    return cases


def _append(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    T, b, d = m.shape
    return torch.cat([x, m.permute(1, 0, 2).reshape(1, b * T, d)])  # (l + 1, b·T, d), row = video·T + frame


_APPEND_MESSAGE = Exercise(
    id="append_message",
    chapter=5,
    title="Append each frame's message token",
    signature="solution(x, m) -> Tensor",
    shapes="x (l, b·T, d), m (T, b, d) → (l + 1, b·T, d)",
    task="Give every frame its message token as one more, last token, as X-CLIP does before attention "
    "within the frame: frame t of video n (row n·T + t of x) gets m[t, n].",
    reference=_append,
    cases=_append_cases,
    mistakes=(
        Mistake(
            "frame_major",
            lambda x, m: torch.cat([x, m.reshape(1, -1, m.shape[-1])]),
            f"the messages landed on the wrong frames: m is frames first, (T, b, d), but the {_VIDEO_MAJOR}; "
            "permute m to (b, T, d) before flattening it",
        ),
        Mistake(
            "prepended",
            lambda x, m: torch.cat([_append(x, m)[-1:], x]),
            "the message goes last, after the class token and the patches (index l); you put it first",
        ),
        Mistake(
            "replaced_last",
            lambda x, m: torch.cat([x[:-1], _append(x, m)[-1:]]),
            "you wrote the message over the last token: append it, one more token, (l + 1, b·T, d)",
        ),
        Mistake(
            "added",
            lambda x, m: x + _append(x, m)[-1:],
            "you added the message to every token: append it as a token of its own, (l + 1, b·T, d)",
        ),
    ),
)


def _cross_frame_macs(b: int, T: int, n_tok: int, d: int) -> int:
    cfa = 2 * b * T * T * d  # Q Kᵀ and A V over the T messages of each video, all heads together
    ifa = 2 * b * T * (n_tok + 1) ** 2 * d  # over the l + 1 tokens of each frame, message included
    return cfa + ifa


_CROSS_FRAME_MACS = Exercise(
    id="cross_frame_macs",
    chapter=5,
    title="What one cross-frame block's attention costs",
    signature="solution(b, T, n_tok, d) -> int",
    shapes="b videos, T frames, n_tok = l tokens per frame (class token included), width d → a number",
    task="Count the multiply-accumulates (MACs) of the matrix products Q Kᵀ and A V in one cross-frame "
    "block: CFA over the T message tokens of each video, and IFA over each frame's tokens with its message "
    "appended. The heads split the width d, so all heads together take as many MACs as one head of width d.",
    reference=_cross_frame_macs,
    cases=lambda: [
        Case(row, describe_args(("b", "T", "n_tok", "d"), row))
        for row in ((1, 8, 50, 768), (2, 6, 10, 32), (3, 16, 197, 64))
    ],
    mistakes=(
        Mistake(
            "no_message",
            lambda b, T, n, d: 2 * b * T * T * d + 2 * b * T * n * n * d,
            "IFA runs over l + 1 tokens: each frame's message token is appended before it",
        ),
        Mistake(
            "no_cfa",
            lambda b, T, n, d: 2 * b * T * (n + 1) ** 2 * d,
            "CFA is missing: the T message tokens of each video attend to each other too",
        ),
        Mistake(
            "no_ifa",
            lambda b, T, n, d: 2 * b * T * T * d,
            "IFA is missing: every frame also attends within itself, over its l + 1 tokens",
        ),
        Mistake(
            "one_product",
            lambda b, T, n, d: _cross_frame_macs(b, T, n, d) // 2,
            "you counted one of the two products: Q Kᵀ and A V each take the same number of MACs",
        ),
        Mistake(
            "flops",
            lambda b, T, n, d: 2 * _cross_frame_macs(b, T, n, d),
            "that counts FLOPs, 2 per multiply-accumulate: the exercise asks for MACs",
        ),
        Mistake(
            "joint",
            lambda b, T, n, d: 2 * b * (T * n) ** 2 * d,
            "that is joint space-time attention over all T·l tokens of a video, not one cross-frame block",
        ),
    ),
    output="number",
    solution="""def my_cross_frame_macs(b, T, n_tok, d):
    cfa = 2 * b * T * T * d  # Q Kᵀ and A V over T messages, per video
    ifa = 2 * b * T * (n_tok + 1) ** 2 * d  # over l + 1 tokens, per frame
    return cfa + ifa""",
    explanation="Attention over n tokens of width d takes n·n·d MACs for Q Kᵀ and as many for A V, whatever "
    "the number of heads (they split d). CFA does that for each of the b videos with n = T messages; IFA for "
    "each of the b·T frames with n = l + 1, the message appended.",
)

EXERCISES = (_FRAME_SPLIT, _MESSAGE_TOKENS, _APPEND_MESSAGE, _CROSS_FRAME_MACS)
