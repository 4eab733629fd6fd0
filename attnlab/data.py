"""The book's data: real images that ship with attnlab, and synthetic videos with a known right answer.

Real data, offline and credited (``attnlab/assets/CREDITS.md``):

- :func:`load_digits`: 1,797 handwritten digits of 8 × 8 pixels, the test set of the UCI optical
  recognition of handwritten digits data (Alpaydin and Kaynak, 1998; CC BY 4.0), written by 13 people.
- :func:`load_photo`: a public-domain NASA photograph (the astronaut Eileen Collins), 96 × 96 pixels.

Video tasks with a known right answer, each built so that one kind of video model must fail it:

- :func:`moving_square_videos`: a square moves left or right. A left video is a right video with its
  frames reversed, so the two classes hold the same frames and only their *order* tells them apart.
- :func:`moving_digit_videos`: the same, with a real handwritten digit in place of the square.
- :func:`plurality_colour_videos`: every frame shows a square in one of a few colours; the label is the
  colour shown in the most frames. No frame alone knows the answer: it is a vote across frames.

Videos are (B, T, 3, R, R) in [0, 1], as X-CLIP takes them. Each task also returns, for every frame, the
patch (row-major index on a grid of ``patch``-pixel patches) that holds the object, to check attention.
"""

from __future__ import annotations

import gzip
from importlib import resources
from typing import NamedTuple

import torch

from .errors import _require

__all__ = [
    "PALETTE",
    "PALETTE_NAMES",
    "Digits",
    "VideoSet",
    "load_digits",
    "load_photo",
    "moving_digit_videos",
    "moving_square_videos",
    "plurality_colour_videos",
    "split_digits",
]

DIGIT_COUNT, DIGIT_SIZE = 1797, 8  # the UCI test set that ships with attnlab: 1,797 images of 8 × 8


class Digits(NamedTuple):
    """Handwritten digits and their labels.

    Shapes:
        images (n, 8, 8) float in [0, 1] (ink is 1), labels (n,) int64 in 0..9
    """

    images: torch.Tensor
    labels: torch.Tensor


def _asset(name: str) -> bytes:
    return resources.files("attnlab").joinpath("assets", name).read_bytes()


def load_digits() -> Digits:
    """All 1,797 handwritten digits that ship with attnlab, in the file's order.

    Each pixel of the UCI data counts the ink in a 4 × 4 block of a 32 × 32 bitmap, 0 to 16; here it is
    divided by 16, so 0 is paper and 1 is a block full of ink. Nothing is downloaded.

    Shapes:
        returns images (1797, 8, 8) float32 in [0, 1], labels (1797,) int64
    """
    rows = gzip.decompress(_asset("digits.csv.gz")).decode().split()
    values = torch.tensor([[int(v) for v in row.split(",")] for row in rows])  # (1797, 65)
    _require(
        values.shape == (DIGIT_COUNT, DIGIT_SIZE**2 + 1),
        f"the digits file should hold {DIGIT_COUNT} rows of 65 numbers, got {tuple(values.shape)}",
    )
    images = values[:, :-1].reshape(-1, DIGIT_SIZE, DIGIT_SIZE).float() / 16
    return Digits(images, values[:, -1].long())


def split_digits(test: int = 297, seed: int = 0) -> tuple[Digits, Digits]:
    """The digits shuffled with ``seed`` and split into a training set and ``test`` held-out images.

    The file does not say who wrote which digit, so the two sets share writers: the test measures new
    images, not new handwriting.

    Shapes:
        returns train images (1797 - test, 8, 8), test images (test, 8, 8), with their labels
    """
    _require(0 < test < DIGIT_COUNT, f"test must be between 1 and {DIGIT_COUNT - 1} images, got {test}")
    digits = load_digits()
    order = torch.randperm(DIGIT_COUNT, generator=torch.Generator().manual_seed(seed))
    held, kept = order[:test], order[test:]
    return Digits(digits.images[kept], digits.labels[kept]), Digits(digits.images[held], digits.labels[held])


def load_photo() -> torch.Tensor:
    """A public-domain NASA photograph of the astronaut Eileen Collins, downscaled to 96 × 96 pixels.

    Needs Pillow (it comes with matplotlib, part of ``attnlab[book]``).

    Shapes:
        returns (3, 96, 96) float32 in [0, 1]
    """
    try:
        from PIL import Image
    except ImportError as err:  # pragma: no cover - Pillow comes with matplotlib
        raise ImportError("load_photo needs Pillow: pip install pillow (or attnlab[book])") from err
    import io

    import numpy as np

    with Image.open(io.BytesIO(_asset("astronaut.png"))) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.float32) / 255  # (96, 96, 3)
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1).contiguous()  # (3, 96, 96)


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


def _check_motion(n: int, frames: int, size: int, patch: int, side: int, what: str) -> None:
    """The checks every moving-object video set shares: at least one video of two frames, an object of
    ``side`` pixels that fits its path of ``frames - 1`` pixels, and frames made of whole patches."""
    _require(n >= 1 and frames >= 2, f"need n >= 1 videos of frames >= 2, got n={n}, frames={frames}")
    _require(
        side >= 1 and size >= side + frames - 1,
        f"{what} moving {frames - 1} pixels does not fit in a {size}×{size} frame",
    )
    _require(size % patch == 0, f"size {size} is not a multiple of patch {patch}")


def _reverse_left(videos: torch.Tensor, labels: torch.Tensor, cells: torch.Tensor) -> VideoSet:
    """Videos drawn moving right; those labelled 0 (left) get their frames, and cells, reversed."""
    left = labels == 0
    videos[left], cells[left] = videos[left].flip(1), cells[left].flip(1)
    return VideoSet(videos.clamp(0, 1), labels, cells)


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
    _check_motion(n, frames, size, patch, side, f"a {side}-pixel square")
    g = _generator(generator, seed)
    videos = _background(n, frames, size, noise, g)
    labels = torch.randint(2, (n,), generator=g)
    rows = torch.randint(size - side + 1, (n,), generator=g)
    starts = torch.randint(size - side - frames + 2, (n,), generator=g)
    colours = 0.5 + 0.5 * torch.rand(n, 3, generator=g)  # bright, any hue
    cols = starts[:, None] + torch.arange(frames)  # (n, T): rightward
    _draw_squares(videos, rows[:, None].expand(n, frames), cols, side, colours[:, None].expand(n, frames, 3))
    cells = _cell(rows[:, None] + side // 2, cols + side // 2, size, patch).expand(n, frames).clone()
    return _reverse_left(videos, labels, cells)


def moving_digit_videos(
    n: int,
    *,
    frames: int = 6,
    size: int = 16,
    patch: int = 4,
    noise: float = 0.03,
    split: str = "train",
    generator: torch.Generator | None = None,
    seed: int = 0,
) -> VideoSet:
    """A real handwritten digit moving one pixel per frame, to the left (label 0) or to the right (label 1).

    Made as Moving MNIST is made (Srivastava et al., 2015): real handwriting, synthetic motion. Each video
    takes one 8 × 8 digit of :func:`split_digits` (``split`` "train" or "test", so test videos show
    digits no training video showed), at a random row and start column, as white ink on the same dark,
    slightly noisy background as :func:`moving_square_videos`. As there, every video is drawn moving right
    and, for label 0, its frames are reversed: the frames say nothing about the label, only their order.
    ``cells`` is the patch holding the centre of the digit's ink in each frame.

    Shapes:
        → videos (n, frames, 3, size, size), labels (n,), cells (n, frames)
    """
    _check_motion(n, frames, size, patch, DIGIT_SIZE, f"an {DIGIT_SIZE}-pixel digit")
    _require(split in ("train", "test"), f"split must be 'train' or 'test', got {split!r}")
    g = _generator(generator, seed)
    train, test = split_digits()
    pool = (train if split == "train" else test).images  # (m, 8, 8)
    sprites = pool[torch.randint(len(pool), (n,), generator=g)]  # (n, 8, 8)
    videos = _background(n, frames, size, noise, g)
    labels = torch.randint(2, (n,), generator=g)
    rows = torch.randint(size - DIGIT_SIZE + 1, (n,), generator=g)
    starts = torch.randint(size - DIGIT_SIZE - frames + 2, (n,), generator=g)
    cols = starts[:, None] + torch.arange(frames)  # (n, T): rightward
    ink = torch.zeros(n, frames, size, size)
    which = torch.arange(n)[:, None].expand(n, frames)  # (n, T)
    when = torch.arange(frames).expand(n, frames)  # (n, T)
    for dr in range(DIGIT_SIZE):  # copy the sprite pixel by pixel, every video and frame at once
        for dc in range(DIGIT_SIZE):
            ink[which, when, rows[:, None] + dr, cols + dc] = sprites[:, dr, dc][:, None]
    videos = torch.maximum(videos, ink[:, :, None])  # white ink over the background
    # the centre of the ink: in the sprite, then in every frame
    weight = sprites.sum(dim=(1, 2)).clamp_min(1e-6)  # (n,)
    grid = torch.arange(DIGIT_SIZE, dtype=torch.float32)
    centre_r = ((sprites.sum(2) * grid).sum(1) / weight).round().long()  # (n,)
    centre_c = ((sprites.sum(1) * grid).sum(1) / weight).round().long()  # (n,)
    centre_rows = (rows + centre_r)[:, None].expand(n, frames)  # (n, T)
    cells = _cell(centre_rows, cols + centre_c[:, None], size, patch).clone()
    return _reverse_left(videos, labels, cells)


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
