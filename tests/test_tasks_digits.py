"""Chapter 4b's real-handwriting task: shapes, the ink per patch, rank agreement, occlusion and maps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch.testing import assert_close

from attnlab import AttnLabError, attention_rollout
from attnlab.data import Digits, split_digits
from attnlab.tasks import digits
from attnlab.tasks.plus_images import Setup


@pytest.fixture(scope="module")
def small():
    _, test = split_digits()
    torch.manual_seed(0)
    return digits.make_digit_vit().eval(), test.images[:12], test.labels[:12]


def test_as_rgb_repeats_the_grey_channel():
    images = torch.rand(5, 8, 8)
    rgb = digits.as_rgb(images)
    assert rgb.shape == (5, 3, 8, 8)
    assert all(torch.equal(rgb[:, c], images) for c in range(3))
    with pytest.raises(AttnLabError, match=r"\(N, 8, 8\), got \(5, 1, 8, 8\)"):
        digits.as_rgb(images[:, None])


def test_patch_ink_sums_each_two_by_two_patch_row_by_row():
    images = torch.zeros(1, 8, 8)
    images[0, 0, 0] = 1.0  # patch 0
    images[0, 7, 6:8] = 0.5  # patch 15: two half-inked pixels
    images[0, 2:4, 4:6] = 1.0  # patch 1·4 + 2 = 6, full
    ink = digits.patch_ink(images)
    expected = torch.zeros(1, 16)
    expected[0, 0], expected[0, 15], expected[0, 6] = 1.0, 1.0, 4.0
    assert_close(ink, expected)
    with pytest.raises(AttnLabError, match="digits must be"):
        digits.patch_ink(torch.zeros(2, 4, 4))


def test_rank_agreement_is_spearman_with_mean_ranks_for_ties():
    a = torch.tensor([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 1.0, 2.0]])
    b = torch.tensor([[10.0, 20.0, 30.0, 40.0], [4.0, 3.0, 2.0, 1.0], [5.0, 6.0, 7.0, 8.0]])
    r = digits.rank_agreement(a, b)
    assert_close(r[:2], torch.tensor([1.0, -1.0]))
    # ties: ranks (0.5, 0.5, 2, 3) against (0, 1, 2, 3); Pearson of the ranks by hand
    ra, rb = torch.tensor([0.5, 0.5, 2.0, 3.0]), torch.tensor([0.0, 1.0, 2.0, 3.0])
    ra, rb = ra - ra.mean(), rb - rb.mean()
    assert_close(r[2], (ra @ rb / (ra.norm() * rb.norm())).float())
    with pytest.raises(AttnLabError, match="one shape"):
        digits.rank_agreement(a, b[:, :3])


def test_occlusion_of_a_blank_patch_is_exactly_zero(small):
    vit, images, labels = small
    worth = digits.occlusion(vit, digits.as_rgb(images), labels)
    assert worth.shape == (12, 16)
    blank = digits.patch_ink(images) == 0  # blanking paper changes nothing
    assert blank.any() and (worth[blank] == 0).all()
    assert (worth[~blank] != 0).any()
    with pytest.raises(AttnLabError, match="labels"):
        digits.occlusion(vit, digits.as_rgb(images), labels[:3])


def test_occlusion_puts_the_given_blank_in_the_patch(small):
    vit, images, labels = small
    x = digits.as_rgb(images)
    paper = torch.zeros(1, 3, 8, 8)
    assert torch.equal(digits.occlusion(vit, x, labels, blank=paper), digits.occlusion(vit, x, labels))
    assert (digits.occlusion(vit, x, labels, blank=x) == 0).all()  # a patch replaced by itself: worth nothing
    # one patch by hand: patch 5 (row 1, column 1) of image 0 set to a grey 0.3
    grey = torch.full((1, 3, 8, 8), 0.3)
    by_hand = x[:1].clone()
    by_hand[..., 2:4, 2:4] = 0.3
    with torch.no_grad():
        probs = vit(torch.cat([x[:1], by_hand])).softmax(-1)[:, labels[0]]
    assert_close(digits.occlusion(vit, x, labels, blank=grey)[0, 5], probs[0] - probs[1])
    with pytest.raises(AttnLabError, match=r"blank must be \(N or 1, 3, 8, 8\) with N = 12, got \(3, 3, 8, 8\)"):
        digits.occlusion(vit, x, labels, blank=x[:3])


def test_class_token_maps_read_both_blocks(small):
    vit, images, _ = small
    maps = digits.class_token_maps(vit, digits.as_rgb(images))
    assert len(maps["layers"]) == 2 and maps["layers"][0].shape == (12, 2, 17, 17)
    assert_close(maps["raw"], maps["layers"][-1].mean(1)[:, 0, 1:])
    assert_close(maps["rollout"], attention_rollout(maps["layers"])[:, 0, 1:])
    assert (maps["raw"].sum(-1) < 1).all()  # the class token's own column is left out


def test_training_is_seeded():
    data = Digits(*(t[:64] for t in split_digits()[0]))
    quick = Setup(phases=((3, 3e-3),), batch=16)
    a, b = (digits.train_digit_vit(seed=1, data=data, setup=quick) for _ in range(2))
    c = digits.train_digit_vit(seed=2, data=data, setup=quick)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a.proj, c.proj)
    assert not a.training


def test_the_page_states_the_training_setup():
    """Chapter 4b's prose quotes the steps, learning rates and batch: they must be the ones trained with."""
    page = Path(__file__).parent.parent / "chapters/04b_real_handwriting.ipynb"
    cells = json.loads(page.read_text())["cells"]
    text = " ".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown").replace("\n", " ")
    (steps, lr), (settle, settle_lr) = digits.DIGIT_SETUP.phases
    assert (lr, settle_lr) == (3e-3, 3e-4)
    quoted = f"{steps} steps at $3 \\cdot 10^{{-3}}$, then {settle} at $3 \\cdot 10^{{-4}}$, on batches of 64."
    assert digits.DIGIT_SETUP.batch == 64 and quoted in text
