"""Synthetic videos for the video chapter, generated in code and seeded, with a known right answer.

Two tasks, each built so that one kind of video model must fail it:

- :func:`moving_square_videos`: a square moves left or right. A left video is a right video with its
  frames reversed, so the two classes hold the same frames and only their *order* tells them apart.
- :func:`matching_colour_videos`: every frame shows a square, in one colour in every frame or in two
  slightly different ones. The label is about *detail shared across frames*, not about order.

Videos are (B, T, 3, R, R) in [0, 1], as X-CLIP takes them. Each task also returns, for every frame, the
patch (row-major index on a grid of ``patch``-pixel patches) that holds the object, to check attention.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .errors import _require

__all__ = ["VideoSet", "matching_colour_videos", "moving_square_videos"]


class VideoSet(NamedTuple):
    """Videos, their labels, and the patch that holds the object in every frame.

    Shapes:
        videos (B, T, 3, R, R), labels (B,), cells (B, T)
    """

    videos: torch.Tensor
    labels: torch.Tensor
    cells: torch.Tensor


def _generator(generator: torch.Generator | None, seed: int) -> torch.Generator:
    return generator if generator is not None else torch.Generator().manual_seed(seed)


def _background(n: int, frames: int, size: int, noise: float, g: torch.Generator) -> torch.Tensor:
    """A dark, slightly noisy background: (n, T, 3, R, R)."""
    return 0.1 + noise * torch.randn(n, frames, 3, size, size, generator=g)


def _cell(row: torch.Tensor, col: torch.Tensor, size: int, patch: int) -> torch.Tensor:
    """Row-major index of the patch that holds pixel (row, col)."""
    return (row // patch) * (size // patch) + col // patch


def moving_square_videos(
    n: int,
    *,
    frames: int = 8,
    size: int = 16,
    side: int = 3,
    patch: int = 4,
    noise: float = 0.03,
    generator: torch.Generator | None = None,
    seed: int = 0,
) -> VideoSet:
    """A coloured square moving one pixel per frame, to the left (label 0) or to the right (label 1).

    Every video is drawn as a rightward one (random row, start column and colour) and, for label 0, its
    frames are reversed: so the set of frames says nothing about the label, only their order does.
    ``cells`` is the patch holding the square's centre in each frame.

    Shapes:
        → videos (n, frames, 3, size, size), labels (n,), cells (n, frames)
    """
    _require(n >= 1 and frames >= 2, f"need n >= 1 videos of frames >= 2, got n={n}, frames={frames}")
    _require(
        side >= 1 and size >= side + frames - 1,
        f"a {side}-pixel square moving {frames - 1} pixels does not fit in a {size}×{size} frame",
    )
    _require(size % patch == 0, f"size {size} is not a multiple of patch {patch}")
    g = _generator(generator, seed)
    videos = _background(n, frames, size, noise, g)
    labels = torch.randint(2, (n,), generator=g)
    rows = torch.randint(size - side + 1, (n,), generator=g)
    starts = torch.randint(size - side - frames + 2, (n,), generator=g)
    colours = 0.5 + 0.5 * torch.rand(n, 3, generator=g)  # bright, any hue
    cols = starts[:, None] + torch.arange(frames)  # (n, T): rightward
    for i in range(n):
        for t in range(frames):
            r, c = rows[i].item(), cols[i, t].item()
            videos[i, t, :, r : r + side, c : c + side] = colours[i, :, None, None]
    cells = _cell(rows[:, None] + side // 2, cols + side // 2, size, patch).expand(n, frames).clone()
    left = labels == 0
    videos[left], cells[left] = videos[left].flip(1), cells[left].flip(1)  # label 0: the frames reversed
    return VideoSet(videos.clamp(0, 1), labels, cells)


def matching_colour_videos(
    n: int,
    *,
    frames: int = 8,
    size: int = 16,
    patch: int = 4,
    shift: float = 0.3,
    noise: float = 0.03,
    generator: torch.Generator | None = None,
    seed: int = 0,
) -> VideoSet:
    """Every frame shows one ``patch``-pixel square filling a random patch. Label 1: the same colour in
    every frame. Label 0: half the frames (chosen at random) show it in a second colour, the first moved by
    ``shift`` in a random direction of RGB: a detail, not a different object.

    Shapes:
        → videos (n, frames, 3, size, size), labels (n,), cells (n, frames)
    """
    _require(n >= 1 and frames >= 2, f"need n >= 1 videos of frames >= 2, got n={n}, frames={frames}")
    _require(size % patch == 0, f"size {size} is not a multiple of patch {patch}")
    _require(shift > 0, f"shift must be positive, got {shift}")
    g = _generator(generator, seed)
    videos = _background(n, frames, size, noise, g)
    labels = torch.randint(2, (n,), generator=g)
    colours = 0.3 + 0.6 * torch.rand(n, 3, generator=g)
    direction = torch.nn.functional.normalize(torch.randn(n, 3, generator=g), dim=1)
    others = (colours + shift * direction).clamp(0, 1)
    second = (torch.rand(n, frames, generator=g).argsort(dim=1) < frames // 2) & (labels == 0)[:, None]
    per_side = size // patch
    cells = torch.randint(per_side * per_side, (n, frames), generator=g)
    for i in range(n):
        for t in range(frames):
            r, c = divmod(cells[i, t].item(), per_side)
            colour = (others if second[i, t] else colours)[i]
            videos[i, t, :, r * patch : (r + 1) * patch, c * patch : (c + 1) * patch] = colour[:, None, None]
    return VideoSet(videos.clamp(0, 1), labels, cells)
