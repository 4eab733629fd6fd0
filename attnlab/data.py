"""Synthetic videos for the video chapter, generated in code and seeded, with a known right answer.

Two tasks, each built so that one kind of video model must fail it:

- :func:`moving_square_videos`: a square moves left or right. A left video is a right video with its
  frames reversed, so the two classes hold the same frames and only their *order* tells them apart.
- :func:`plurality_colour_videos`: every frame shows a square in one of a few colours; the label is the
  colour shown in the most frames. No frame alone knows the answer: it is a vote across frames.

Videos are (B, T, 3, R, R) in [0, 1], as X-CLIP takes them. Each task also returns, for every frame, the
patch (row-major index on a grid of ``patch``-pixel patches) that holds the object, to check attention.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .errors import _require

__all__ = ["PALETTE", "PALETTE_NAMES", "VideoSet", "moving_square_videos", "plurality_colour_videos"]


class VideoSet(NamedTuple):
    """Videos, their labels, the patch that holds the object in every frame and, where frames show one of
    a few colours, each frame's colour index (``None`` otherwise).

    Shapes:
        videos (B, T, 3, R, R), labels (B,), cells (B, T), shown (B, T) or None
    """

    videos: torch.Tensor
    labels: torch.Tensor
    cells: torch.Tensor
    shown: torch.Tensor | None = None


def _generator(generator: torch.Generator | None, seed: int) -> torch.Generator:
    return generator if generator is not None else torch.Generator().manual_seed(seed)


def _background(n: int, frames: int, size: int, noise: float, g: torch.Generator) -> torch.Tensor:
    """A dark, slightly noisy background: (n, T, 3, R, R)."""
    return 0.1 + noise * torch.randn(n, frames, 3, size, size, generator=g)


def _cell(row: torch.Tensor, col: torch.Tensor, size: int, patch: int) -> torch.Tensor:
    """Row-major index of the patch that holds pixel (row, col)."""
    return (row // patch) * (size // patch) + col // patch


def _draw_squares(videos: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, side: int, rgb: torch.Tensor) -> None:
    """Paint, in place, a ``side``-pixel square with top-left (rows, cols) (n, T) in colours rgb (n, T, 3)."""
    pixels = torch.arange(videos.shape[-1])  # (R,)
    inside_rows = (pixels >= rows[..., None]) & (pixels < rows[..., None] + side)  # (n, T, R)
    inside_cols = (pixels >= cols[..., None]) & (pixels < cols[..., None] + side)  # (n, T, R)
    square = inside_rows[..., :, None] & inside_cols[..., None, :]  # (n, T, R, R)
    videos.copy_(torch.where(square[:, :, None], rgb[..., None, None], videos))


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
    _draw_squares(videos, rows[:, None].expand(n, frames), cols, side, colours[:, None].expand(n, frames, 3))
    cells = _cell(rows[:, None] + side // 2, cols + side // 2, size, patch).expand(n, frames).clone()
    left = labels == 0
    videos[left], cells[left] = videos[left].flip(1), cells[left].flip(1)  # label 0: the frames reversed
    return VideoSet(videos.clamp(0, 1), labels, cells)


PALETTE = torch.tensor(
    [[1.0, 0.2, 0.2], [1.0, 1.0, 0.2], [0.2, 1.0, 0.2], [0.3, 0.3, 1.0], [1.0, 0.2, 1.0], [0.2, 1.0, 1.0]]
)
"""The colours of :func:`plurality_colour_videos`, RGB in [0, 1], named in :data:`PALETTE_NAMES`."""
PALETTE_NAMES = ("red", "yellow", "green", "blue", "magenta", "cyan")


def plurality_colour_videos(
    n: int,
    *,
    frames: int = 6,
    size: int = 8,
    side: int = 3,
    colours: int = 4,
    patch: int = 4,
    noise: float = 0.03,
    generator: torch.Generator | None = None,
    seed: int = 0,
) -> VideoSet:
    """Every frame shows one ``side``-pixel square, somewhere, in one of ``colours`` palette colours; the
    label is the colour shown in the most frames (strictly more than any other colour).

    Each frame alone says nothing certain about the label: the answer is a vote across frames. ``shown``
    holds every frame's colour index and ``cells`` the patch holding the square's centre.

    Shapes:
        → videos (n, frames, 3, size, size), labels (n,), cells (n, frames), shown (n, frames)
    """
    _require(n >= 1 and frames >= 2, f"need n >= 1 videos of frames >= 2, got n={n}, frames={frames}")
    _require(2 <= colours <= len(PALETTE), f"colours must be between 2 and {len(PALETTE)}, got colours={colours}")
    _require(1 <= side <= size, f"a {side}-pixel square does not fit in a {size}×{size} frame")
    _require(size % patch == 0, f"size {size} is not a multiple of patch {patch}")
    g = _generator(generator, seed)
    videos = _background(n, frames, size, noise, g)
    labels = torch.randint(colours, (n,), generator=g)
    shown = torch.empty(n, frames, dtype=torch.long)
    for i in range(n):
        while True:  # the winner's count m, then the other frames' colours; redraw until m wins outright
            # (m = frames // 2 + 1 always can, so this ends)
            m = int(torch.randint(2, frames // 2 + 2, (1,), generator=g))
            rest = (labels[i] + 1 + torch.randint(colours - 1, (frames - m,), generator=g)) % colours
            if int(torch.bincount(rest, minlength=colours).max()) < m:
                break
        shown[i] = torch.cat([labels[i].repeat(m), rest])[torch.randperm(frames, generator=g)]
    corner = torch.randint(size - side + 1, (n, frames, 2), generator=g)
    _draw_squares(videos, corner[..., 0], corner[..., 1], side, PALETTE[shown])
    cells = _cell(corner[..., 0] + side // 2, corner[..., 1] + side // 2, size, patch)
    return VideoSet(videos.clamp(0, 1), labels, cells, shown)
