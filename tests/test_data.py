"""The chapter-5 video generators: shapes, seeding, and the property each task is built on."""

from __future__ import annotations

import pytest
import torch

from attnlab import AttnLabError
from attnlab.data import PALETTE, moving_square_videos, plurality_colour_videos


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
    assert a.shown is None and all(torch.equal(x, y) for x, y in zip(a[:3], b[:3], strict=True))
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


def frame_colours(s) -> torch.Tensor:
    """Every frame's colour read back from its pixels: the palette entry nearest its brightest pixel."""
    flat = s.videos.flatten(3)  # (B, T, 3, R·R)
    brightest = flat.sum(dim=2).argmax(dim=-1)  # (B, T)
    rgb = flat.gather(3, brightest[:, :, None, None].expand(-1, -1, 3, 1))[..., 0]  # (B, T, 3)
    return (rgb[:, :, None] - PALETTE[None, None]).square().sum(-1).argmin(-1)


def test_plurality_colour_shapes_seed_and_pixels():
    s = plurality_colour_videos(50, seed=0)
    assert s.videos.shape == (50, 6, 3, 8, 8) and s.labels.shape == (50,)
    assert s.cells.shape == s.shown.shape == (50, 6)
    assert s.videos.min() >= 0 and s.videos.max() <= 1
    assert torch.equal(frame_colours(s), s.shown)  # `shown` is the colour actually drawn
    again = plurality_colour_videos(50, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(x, y) for x, y in zip(s, again, strict=True))


@pytest.mark.parametrize(("frames", "colours"), [(6, 4), (8, 3), (5, 6), (2, 2)])
def test_plurality_colour_label_wins_outright(frames, colours):
    s = plurality_colour_videos(300, frames=frames, colours=colours, seed=1)
    counts = torch.nn.functional.one_hot(s.shown, colours).sum(dim=1)  # (B, colours)
    top = counts.topk(min(2, colours), dim=1).values
    assert torch.equal(counts.argmax(dim=1), s.labels)
    assert (top[:, 0] > top[:, 1]).all()
    assert s.shown.max() < colours and set(s.labels.tolist()) == set(range(colours))
    # No frame alone gives the label away: every colour is shown in frames of videos it did not win.
    assert all(((s.shown == k) & (s.labels[:, None] != k)).any() for k in range(colours)) or frames == 2


def test_plurality_colour_cells_hold_the_square():
    s = plurality_colour_videos(40, size=16, seed=2)
    patches = s.videos.unfold(3, 4, 4).unfold(4, 4, 4)  # (B, T, 3, 4, 4, 4, 4)
    brightness = patches.mean(dim=(2, 5, 6)).flatten(2)  # (B, T, P)
    assert torch.equal(brightness.argmax(dim=-1), s.cells)  # it holds at least 4 of the square's 9 pixels


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: moving_square_videos(0), r"need n >= 1 videos of frames >= 2, got n=0, frames=8"),
        (lambda: moving_square_videos(2, size=8), r"a 3-pixel square moving 7 pixels does not fit in a 8×8 frame"),
        (lambda: moving_square_videos(2, size=18), r"size 18 is not a multiple of patch 4"),
        (lambda: plurality_colour_videos(2, frames=1), r"need n >= 1 videos of frames >= 2, got n=2, frames=1"),
        (lambda: plurality_colour_videos(2, colours=7), r"colours must be between 2 and 6, got colours=7"),
        (lambda: plurality_colour_videos(2, side=9), r"a 9-pixel square does not fit in a 8×8 frame"),
    ],
)
def test_bad_arguments_say_what_was_expected(call, message):
    with pytest.raises(AttnLabError, match=message):
        call()


# ---- real data that ships with attnlab ------------------------------------------------------------


def test_load_digits_reads_the_uci_test_set():
    from attnlab.data import load_digits

    digits = load_digits()
    assert digits.images.shape == (1797, 8, 8) and digits.images.dtype == torch.float32
    assert digits.labels.shape == (1797,) and set(digits.labels.tolist()) == set(range(10))
    assert digits.images.min() == 0 and digits.images.max() == 1  # 0..16 ink counts, over 16
    assert torch.equal(digits.labels[:10], torch.arange(10))  # the file starts 0, 1, …, 9
    # the first image is a zero: ink around an empty middle
    zero = digits.images[0]
    assert zero[3:5, 3:5].max() < 0.2 and zero[1:7, 1:7].sum() > 10
    assert torch.equal(digits.labels.bincount(), torch.tensor([178, 182, 177, 183, 181, 182, 181, 179, 174, 180]))


def test_split_digits_is_seeded_disjoint_and_complete():
    from attnlab.data import load_digits, split_digits

    train, test = split_digits(test=297, seed=0)
    assert train.images.shape == (1500, 8, 8) and test.images.shape == (297, 8, 8)
    again, _ = split_digits(test=297, seed=0)
    other, _ = split_digits(test=297, seed=1)
    assert torch.equal(train.images, again.images) and not torch.equal(train.images, other.images)
    everything = torch.cat([train.images, test.images]).flatten(1)
    assert everything.unique(dim=0).shape[0] == load_digits().images.flatten(1).unique(dim=0).shape[0]
    with pytest.raises(AttnLabError, match="between 1 and 1796"):
        split_digits(test=0)


def test_load_photo_is_the_credited_astronaut():
    from importlib import resources

    from attnlab.data import load_photo

    photo = load_photo()
    assert photo.shape == (3, 96, 96) and photo.dtype == torch.float32
    assert photo.min() >= 0 and photo.max() <= 1 and photo.std() > 0.1
    assets = resources.files("attnlab").joinpath("assets")
    credits = assets.joinpath("CREDITS.md").read_text()
    shipped = [f.name for f in assets.iterdir() if f.name != "CREDITS.md" and not f.name.startswith(".")]
    assert sorted(shipped) == ["astronaut.png", "digits.csv.gz"]
    for name in shipped:
        assert f"`{name}`" in credits  # every shipped file is credited
    assert "CC BY 4.0" in credits and "public domain" in credits


def test_moving_digit_videos_move_a_real_digit_and_reverse_for_left():
    from attnlab.data import moving_digit_videos

    s = moving_digit_videos(30, seed=0)
    assert s.videos.shape == (30, 6, 3, 16, 16) and s.cells.shape == (30, 6)
    assert s.videos.min() >= 0 and s.videos.max() <= 1
    bright = s.videos.min(dim=2).values > 0.5  # (B, T, R, R): ink above any background
    assert torch.equal(s.videos[:, :, 0][bright], s.videos[:, :, 1][bright])  # white ink
    again = moving_digit_videos(30, generator=torch.Generator().manual_seed(0))
    assert torch.equal(s.videos, again.videos) and torch.equal(s.labels, again.labels)
    assert set(s.labels.tolist()) == {0, 1}
    # the same ink, one pixel further each frame: right for label 1, left for label 0
    right = s.videos.clone()
    right[s.labels == 0] = right[s.labels == 0].flip(1)
    ink = right.min(dim=2).values > 0.5  # (B, T, R, R)
    assert torch.equal(ink[:, 1:, :, 1:], ink[:, :-1, :, :-1])
    assert ink.any(dim=(2, 3)).all()  # every frame shows the digit
    # the cells follow the digit, never by more than one patch a frame
    assert (s.cells.diff(dim=1).abs() <= 1).all()


def test_moving_digit_test_videos_use_held_out_digits_and_bad_input_is_named():
    from attnlab.data import moving_digit_videos

    train = moving_digit_videos(5, seed=0, split="train")
    test = moving_digit_videos(5, seed=0, split="test")
    assert not torch.equal(train.videos, test.videos)
    with pytest.raises(AttnLabError, match="split must be 'train' or 'test', got 'val'"):
        moving_digit_videos(2, split="val")
    with pytest.raises(AttnLabError, match=r"an 8-pixel digit moving 5 pixels does not fit in a 12×12 frame"):
        moving_digit_videos(2, size=12)
