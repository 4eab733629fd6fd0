"""Chapter 4's task: the plus-among-shapes images, the two models and the analysis the chapter asserts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from attnlab import AttnLabError
from attnlab.tasks import plus_images as task
from attnlab.tasks.plus_images import (
    CELL,
    COLOURS,
    DISTRACTORS,
    GRID,
    PLUS,
    RAN_SETUP,
    VIT_SETUP,
    AttentionNet,
    PlusImages,
    R,
    Setup,
    accuracy,
    accuracy_with,
    cell_region,
    make_images,
    make_vit,
    plus_and_distractors,
    shape,
    train_ran,
    train_vit,
)


@pytest.fixture(scope="module")
def data() -> PlusImages:
    return make_images(40, seed=3)


def test_shapes_ranges_and_seed(data):
    images, labels, cells, colours = data
    assert images.shape == (40, 3, R, R) and labels.shape == (40,)
    assert cells.shape == colours.shape == (40, 6)
    assert images.min() >= 0 and images.max() <= 1
    assert set(labels.tolist()) <= {0, 1, 2, 3} and (cells < GRID * GRID).all()
    again = make_images(40, torch.Generator().manual_seed(3))
    assert all(torch.equal(a, b) for a, b in zip(data, again, strict=True))
    assert not torch.equal(make_images(40, seed=4).images, images)


def test_label_is_the_plus_colour_and_the_plus_is_drawn_in_its_cell(data):
    images, labels, cells, colours = data
    assert torch.equal(data.has_plus, labels < 3)
    assert torch.equal(labels[data.has_plus], colours[data.has_plus, 0])
    for i in torch.nonzero(data.has_plus)[:, 0].tolist():
        r, c = divmod(int(cells[i, 0]), GRID)
        block = images[i, :, r * CELL : (r + 1) * CELL, c * CELL : (c + 1) * CELL]  # (3, 4, 4)
        on = (block - COLOURS[labels[i]][:, None, None]).abs().amax(dim=0) < 1e-6  # (4, 4)
        assert on.sum() == PLUS.sum()  # exactly the plus's five pixels, in the label's colour
        assert any(torch.equal(on[dy : dy + 3, dx : dx + 3], PLUS) for dy in (0, 1) for dx in (0, 1))


def test_every_shape_is_drawn_in_its_cell_and_nothing_else_is(data):
    images, labels, cells, colours = data
    for i in range(len(labels)):
        painted = torch.zeros(R, R, dtype=torch.bool)
        for j in range(cells.shape[1]):
            r, c = divmod(int(cells[i, j]), GRID)
            block = images[i, :, r * CELL : (r + 1) * CELL, c * CELL : (c + 1) * CELL]  # (3, 4, 4)
            on = (block - COLOURS[colours[i, j]][:, None, None]).abs().amax(dim=0) < 1e-6  # (4, 4)
            expected = (PLUS,) if j == 0 and labels[i] < 3 else DISTRACTORS  # only shape 0 may be the plus
            assert any(
                on.sum() == s.sum() and torch.equal(on[dy : dy + 3, dx : dx + 3], s)
                for s in expected
                for dy in (0, 1)
                for dx in (0, 1)
            )
            painted[r * CELL : (r + 1) * CELL, c * CELL : (c + 1) * CELL] |= on
        background = images[i][:, ~painted]  # (3, pixels): the noisy dark background, 0.12 ± 0.04
        assert background.max() < 0.4


def test_the_draws_are_pinned():
    # The chapter's numbers rest on these draws: a faster make_images must draw the same images.
    d = make_images(3, seed=0)
    assert d.cells.tolist() == [[23, 10, 32, 29, 63, 5], [1, 13, 56, 30, 50, 55], [28, 38, 1, 3, 53, 15]]
    assert d.labels.tolist() == [3, 3, 0]
    assert d.colours.tolist() == [[1, 0, 0, 2, 2, 1], [0, 1, 0, 1, 2, 2], [0, 1, 1, 1, 2, 2]]
    inked = d.images.amax(dim=1) > 0.6  # (3, 32, 32): the shapes' pixels; the background stays below 0.4
    assert int(inked.sum()) == 102
    assert hashlib.sha256(inked.numpy().tobytes()).hexdigest()[:16] == "7b8aac1001a891b0"


def test_no_two_shapes_are_neighbours(data):
    for row in data.cells.tolist():
        rc = [divmod(c, GRID) for c in row]
        for a in range(len(rc)):
            for b in range(a):
                assert max(abs(rc[a][0] - rc[b][0]), abs(rc[a][1] - rc[b][1])) >= 2


def test_models_take_the_images():
    images = make_images(3, seed=0).images
    torch.manual_seed(0)
    logits, mask = AttentionNet()(images)
    assert logits.shape == (3, 4) and mask.shape == (3, 16, 16, 16)
    assert make_vit()(images).shape == (3, 4)


def test_training_is_deterministic_for_a_seed_and_returns_eval_models(data):
    tiny = Setup(phases=((2, 1e-3), (1, 1e-4)), batch=8)
    a, b = train_ran(data, seed=1, setup=tiny), train_ran(data, seed=1, setup=tiny)
    assert not a.training
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    c, d = train_vit(data, seed=1, setup=tiny), train_vit(data, seed=2, setup=tiny)
    assert not torch.equal(c.proj, d.proj)


def test_cell_region_marks_one_cell():
    region = cell_region(torch.tensor([0, 9, 63]), 16)  # (3, 16, 16), 2 × 2 per cell
    assert region.shape == (3, 16, 16) and (region.sum(dim=(1, 2)) == 4).all()
    assert region[1, 2:4, 2:4].all() and region[2, 14:, 14:].all()


def test_plus_and_distractors_means(data):
    maps = cell_region(data.cells[:, 0], 16).float() * 3 + 1  # 4 at the plus's cell, 1 elsewhere
    at_plus, at_distractors = plus_and_distractors(maps, data)
    n = int(data.has_plus.sum())
    assert at_plus.shape == at_distractors.shape == (n,)
    assert torch.equal(at_plus, torch.full((n,), 4.0)) and torch.equal(at_distractors, torch.ones(n))


def test_accuracy_with_the_mask_as_it_is_is_the_model_accuracy(data):
    torch.manual_seed(0)
    net = AttentionNet().eval()
    with torch.no_grad():
        logits, _ = net(data.images)
    assert accuracy_with(net, data, lambda m: m) == accuracy(logits, data.labels)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: make_images(0), r"need n >= 1 images, got n=0"),
        (lambda: make_images(2, n_shapes=17), r"n_shapes must be in 1\.\.16"),
        (lambda: make_images(2, p_none=1.5), r"p_none must be in \[0, 1\], got 1\.5"),
        (lambda: shape("##", "###", "###"), r"a shape is 3 rows of 3 characters"),
        (lambda: train_ran(make_images(2), setup=Setup(phases=())), r"a setup needs at least one phase"),
        (lambda: cell_region(torch.tensor([1]), 12), r"size must be a positive multiple of 8, got 12"),
        (lambda: accuracy(torch.zeros(4), torch.zeros(4)), r"logits must be \(N, K\) and labels \(N,\)"),
        (
            lambda: plus_and_distractors(torch.zeros(3, 16, 16), make_images(2)),
            r"maps must be \(N, h, h\) with N = 2, got \(3, 16, 16\)",
        ),
    ],
)
def test_bad_arguments_say_what_was_expected(call, message):
    with pytest.raises(AttnLabError, match=message):
        call()


def test_module_surface():
    assert set(task.__all__) <= set(dir(task))


def test_the_chapter_states_the_training_setups():
    """Chapter 4's prose quotes the batches, steps and learning rates: they must be the ones trained with."""
    cells = json.loads((Path(__file__).parent.parent / "chapters/04_residual_attention.ipynb").read_text())["cells"]
    text = " ".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown").replace("\n", " ")
    (ran_steps, ran_lr), (ran_settle, ran_settle_lr) = RAN_SETUP.phases
    assert (ran_lr, ran_settle_lr) == (1e-2, 1e-3)
    assert f"batches of {RAN_SETUP.batch} training images" in text
    assert f"for {ran_steps} steps at a learning rate of $10^{{-2}}$, then {ran_settle} steps at $10^{{-3}}$" in text
    (vit_steps, vit_lr), (vit_settle, vit_settle_lr) = VIT_SETUP.phases
    assert (vit_lr, vit_settle_lr) == (3e-3, 3e-4)
    assert f"on batches of {VIT_SETUP.batch} images: {vit_steps} steps at $3 \\cdot 10^{{-3}}$" in text
    assert f"then {vit_settle} at $3 \\cdot 10^{{-4}}$" in text
