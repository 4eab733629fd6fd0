"""The chapter-5 video generators: shapes, seeding, and the property each task is built on."""

from __future__ import annotations

import pytest
import torch

from attnlab import AttnLabError
from attnlab.data import matching_colour_videos, moving_square_videos


def square_columns(videos: torch.Tensor) -> torch.Tensor:
    """The leftmost bright column in every frame: (B, T)."""
    bright = videos.mean(dim=2) > 0.4  # (B, T, R, R)
    cols = torch.arange(videos.shape[-1]).expand_as(bright)
    return torch.where(bright, cols, videos.shape[-1]).amin(dim=(2, 3))


def test_moving_square_shapes_range_and_seed():
    a = moving_square_videos(6, seed=3)
    assert a.videos.shape == (6, 8, 3, 16, 16) and a.labels.shape == (6,) and a.cells.shape == (6, 8)
    assert a.videos.min() >= 0 and a.videos.max() <= 1
    b = moving_square_videos(6, generator=torch.Generator().manual_seed(3))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not torch.equal(a.videos, moving_square_videos(6, seed=4).videos)


def test_moving_square_moves_one_pixel_per_frame_in_the_labelled_direction():
    s = moving_square_videos(40, seed=0)
    steps = square_columns(s.videos).diff(dim=1)  # (B, T - 1)
    direction = torch.where(s.labels == 1, 1, -1)[:, None]
    assert torch.equal(steps, direction.expand_as(steps))
    assert 0 < s.labels.float().mean() < 1


def test_moving_square_classes_are_each_others_reversal():
    s = moving_square_videos(400, seed=1)
    right, left = s.videos[s.labels == 1], s.videos[s.labels == 0]
    # Drawn the same way, then reversed: the frames' statistics match, the order is all that differs.
    assert abs(right.mean() - left.mean()) < 0.01
    assert torch.allclose(right.mean(dim=(0, 1)), left.mean(dim=(0, 1)), atol=0.05)


def test_moving_square_cells_hold_the_square():
    s = moving_square_videos(20, seed=2)
    patches = s.videos.unfold(3, 4, 4).unfold(4, 4, 4)  # (B, T, 3, 4, 4, 4, 4)
    brightness = patches.mean(dim=(2, 5, 6)).flatten(2)  # (B, T, P)
    centre = brightness.gather(-1, s.cells[..., None])[..., 0]
    assert (centre > brightness.median(dim=-1).values + 0.1).all()


def test_matching_colour_labels():
    s = matching_colour_videos(60, seed=0)
    assert s.videos.shape == (60, 8, 3, 16, 16) and s.cells.shape == (60, 8)
    patches = s.videos.unfold(3, 4, 4).unfold(4, 4, 4).flatten(3, 4)  # (B, T, 3, P, 4, 4)
    idx = s.cells[:, :, None, None, None, None].expand(-1, -1, 3, 1, 4, 4)
    colour = patches.gather(3, idx).mean(dim=(3, 4, 5))  # (B, T, 3)
    spread = (colour - colour.mean(dim=1, keepdim=True)).abs().amax(dim=(1, 2))  # (B,)
    assert (spread[s.labels == 1] < 0.05).all() and (spread[s.labels == 0] > 0.05).all()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: moving_square_videos(0), r"need n >= 1 videos of frames >= 2, got n=0, frames=8"),
        (lambda: moving_square_videos(2, size=8), r"a 3-pixel square moving 7 pixels does not fit in a 8×8 frame"),
        (lambda: moving_square_videos(2, size=18), r"size 18 is not a multiple of patch 4"),
        (lambda: matching_colour_videos(2, frames=1), r"need n >= 1 videos of frames >= 2, got n=2, frames=1"),
        (lambda: matching_colour_videos(2, shift=0.0), r"shift must be positive, got 0.0"),
    ],
)
def test_bad_arguments_say_what_was_expected(call, message):
    with pytest.raises(AttnLabError, match=message):
        call()
