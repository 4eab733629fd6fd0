"""Chapter 5's video classifiers: shapes, the property each architecture is built on, seeding, errors,
and the stored task × architecture matrix."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from attnlab import AttnLabError
from attnlab.data import plurality_colour_videos
from attnlab.tasks.video_models import (
    ARCHITECTURES,
    ORDER,
    WithPrompts,
    accuracy_of,
    build,
    load_matrix,
    order_data,
    train,
    train_prompts,
    vote_setup,
)
from attnlab.training import classification_loss

SMALL = dataclasses.replace(vote_setup(2), steps=2, batch=4, width=8)  # tiny, fast


@pytest.fixture(scope="module")
def vote_videos():
    return plurality_colour_videos(8, seed=0)


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_shapes(name, vote_videos):
    model = build(name, SMALL).eval()
    with torch.no_grad():
        assert model.frame_features(vote_videos.videos).shape == (8, 6, 2)
        assert model.video_features(vote_videos.videos).shape == (8, 2)
        assert model(vote_videos.videos).shape == (8, 4)
    assert (model.mit is not None) == ARCHITECTURES[name][1]


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_frame_features_are_permutation_equivariant(name, vote_videos):
    model, perm = build(name, SMALL, seed=1).eval(), torch.tensor([3, 0, 5, 1, 4, 2])
    with torch.no_grad():
        f = model.frame_features(vote_videos.videos)
        torch.testing.assert_close(model.frame_features(vote_videos.videos[:, perm]), f[:, perm])


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_only_the_cross_frame_encoder_lets_other_frames_move_frame_0(name, vote_videos):
    model, x = build(name, SMALL, seed=2).eval(), vote_videos.videos
    swapped = torch.cat([x[:, :1], x.roll(1, dims=0)[:, 1:]], dim=1)  # frame 0 kept, the rest swapped
    with torch.no_grad():
        moved = (model.frame_features(swapped)[:, 0] - model.frame_features(x)[:, 0]).abs().max()
    assert (moved > 1e-4) == ARCHITECTURES[name][0]


def test_training_is_seeded_and_fits_the_chapter_loop(vote_videos):
    a = train("CFA + mean", SMALL, vote_videos, seed=3)
    b = train("CFA + mean", SMALL, vote_videos, seed=3)
    assert not a.training and all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    acc = accuracy_of(a, vote_videos.videos, vote_videos.labels)
    assert 0.0 <= acc <= 1.0
    loss = classification_loss(vote_videos.videos, vote_videos.labels, batch=4)(a, torch.Generator().manual_seed(0))
    assert loss.dim() == 0


def test_order_data_pairs_every_video_with_its_reversal():
    d = order_data(n_train=4, n_pairs=3)
    assert d.test_x.shape == (6, ORDER.frames, 3, ORDER.size, ORDER.size) and d.test_cells.shape == (6, ORDER.frames)
    assert torch.equal(d.test_x[3:], d.test_x[:3].flip(1)) and torch.equal(d.test_y[3:], 1 - d.test_y[:3])


def test_prompts_keep_the_shapes_and_need_an_xclip_model():
    setup = dataclasses.replace(ORDER, frames=2, size=8)
    videos = torch.rand(3, 2, 3, 8, 8)
    prompted = WithPrompts(build("X-CLIP", setup), over_frames=True)
    assert prompted(videos).shape == (3, 2)
    with pytest.raises(AttnLabError, match="prompts need an X-CLIP classifier"):
        WithPrompts(build("MIT", setup))


def test_train_prompts_leaves_its_base_model_as_it_was():
    setup = dataclasses.replace(ORDER, frames=2, size=8)
    base = build("X-CLIP", setup)
    before = {k: v.clone() for k, v in base.state_dict().items()}
    data = order_data(n_train=8, n_pairs=1).train  # any videos: only the shapes matter here
    data = data._replace(videos=torch.rand(8, 2, 3, 8, 8))
    first = train_prompts(base, data, steps=3)
    second = train_prompts(base, data, steps=3, over_frames=True)
    assert all(torch.equal(v, before[k]) for k, v in base.state_dict().items())  # base untouched
    assert all(p.requires_grad for p in base.parameters())
    assert first.base is not base and second.base is not first.base  # each its own copy
    assert not torch.equal(first.base.text, base.text)  # the copy's class embeddings were trained
    video, text = first.features(torch.rand(3, 2, 3, 8, 8))
    assert video.shape == (3, 32) and text.shape == (3, 2, 32)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: build("CFA", SMALL), "unknown architecture 'CFA'"),
        (lambda: vote_setup(0), "F must be >= 1, got F=0"),
        (lambda: build("MIT", SMALL)(torch.rand(2, 5, 3, 8, 8)), r"T = 6, got \(2, 5, 3, 8, 8\)"),
        (lambda: build("MIT", dataclasses.replace(SMALL, size=10)), "frame size 10 is not a multiple"),
    ],
)
def test_bad_arguments_say_what_was_expected(call, message):
    with pytest.raises(AttnLabError, match=message):
        call()


def test_the_stored_matrix_has_every_cell_from_five_seeds():
    matrix = load_matrix()
    for entry in matrix["tasks"].values():
        assert list(entry["accuracy"]) == list(ARCHITECTURES)
        for cell in entry["accuracy"].values():
            assert len(cell["seeds"]) == 5 and cell["min"] <= cell["median"] <= cell["max"]


def test_ink_patches_finds_the_digits_patches_and_ink_ratio_compares_averages():
    from attnlab.data import moving_digit_videos
    from attnlab.tasks.video_models import ink_patches, ink_ratio

    s = moving_digit_videos(4, seed=0)
    ink = ink_patches(s.videos)  # (4, 6, 16)
    assert ink.shape == (4, 6, 16) and ink.dtype == torch.bool
    assert ink.gather(-1, s.cells[..., None]).all()  # the centre of the ink is an inked patch
    assert ink.any(-1).all() and (~ink).any(-1).all()  # every frame has ink and paper
    weights = ink.float() * 3 + 1  # inked patches 4, paper 1
    assert ink_ratio(weights, ink) == 4.0
    with pytest.raises(AttnLabError, match="one shape"):
        ink_ratio(weights[:, :, :8], ink)


def test_top_on_ink_counts_frames_whose_top_patch_holds_ink():
    from attnlab.tasks.video_models import top_on_ink

    ink = torch.zeros(2, 3, 4, dtype=torch.bool)
    ink[..., 1] = True  # patch 1 holds ink in every frame
    weights = torch.zeros(2, 3, 4)
    weights[..., 1] = 1.0  # a pointer at the ink
    assert top_on_ink(weights, ink) == 1.0
    weights[0, :, 2] = 2.0  # in 3 of the 6 frames, paper wins
    assert top_on_ink(weights, ink) == 0.5
    with pytest.raises(AttnLabError, match="one shape"):
        top_on_ink(weights[..., :2], ink)


def test_the_chapter_states_the_training_setups():
    """Chapter 5's prose quotes the order task's steps and the prompts' steps: they must be the ones trained."""
    import inspect
    import json
    from pathlib import Path

    from attnlab.tasks.video_models import ORDER, train_prompts

    cells = json.loads((Path(__file__).parent.parent / "chapters/05_cross_frame_attention.ipynb").read_text())["cells"]
    text = " ".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown").replace("\n", " ")
    assert f"(Adam, {ORDER.steps} steps of {ORDER.batch} videos)" in text
    prompt_steps = inspect.signature(train_prompts).parameters["steps"].default
    assert f"with the copy's class embeddings, for {prompt_steps} steps" in text
