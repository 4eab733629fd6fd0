"""Images where one object decides the label: the colour of the plus among six shapes (chapter 4).

Each image is 32 × 32 pixels, dark, with six small shapes in red, green or blue, each inside one cell of
an 8 × 8 grid of 4 × 4-pixel cells (jittered by a pixel; no two shapes are neighbours). In three images
out of four one shape is a plus, and the label is its colour; otherwise the label is 3, *none*. The other
shapes get their colours at random, so they say nothing about the label: a model must find the plus. The
right place to look is known (the plus's cell), so a chapter can check where a model's mask or attention
went.

Two models learn it, both trained with :func:`attnlab.training.fit`: :class:`AttentionNet`, a small
Residual Attention Network classifier (stem, one :class:`~attnlab.ResidualAttentionModule`, pooling, a
linear layer), and a one-block :class:`~attnlab.VisionTransformer` whose 4 × 4 patches are the grid cells.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import _require, _shape
from ..models.clip import VisionTransformer
from ..models.ran import ResidualAttentionModule
from ..training import classification_loss, fit

__all__ = [
    "CELL",
    "COLOURS",
    "DISTRACTORS",
    "GRID",
    "LABELS",
    "PLUS",
    "RAN_SETUP",
    "VIT_SETUP",
    "AttentionNet",
    "PlusImages",
    "R",
    "Setup",
    "accuracy",
    "accuracy_with",
    "cell_region",
    "make_images",
    "make_vit",
    "plus_and_distractors",
    "shape",
    "train_ran",
    "train_vit",
]

R, CELL, GRID = 32, 4, 8  # image size, cell size, cells per side (the ViT's patches)
COLOURS = torch.tensor([[0.95, 0.25, 0.2], [0.25, 0.85, 0.3], [0.3, 0.45, 1.0]])  # RGB of red, green, blue
LABELS = ("red", "green", "blue", "none")


def shape(*rows: str) -> torch.Tensor:
    """A 3 × 3 pixel shape drawn in text, ``#`` for on. Shapes: → (3, 3) bool."""
    _require(
        len(rows) == 3 and all(len(row) == 3 for row in rows),
        f"a shape is 3 rows of 3 characters, got {list(rows)}",
    )
    return torch.tensor([[c == "#" for c in row] for row in rows])  # (3, 3)


PLUS = shape(".#.", "###", ".#.")  # the target
DISTRACTORS = (
    shape("###", "#.#", "###"),  # ring
    shape("###", "###", "###"),  # block
    shape("...", "###", "..."),  # bar
    shape(".#.", ".#.", ".#."),  # bar
    shape("###", "#..", "#.."),  # corner
    shape("#.#", ".#.", "#.#"),  # diagonal cross
)


class PlusImages(NamedTuple):
    """Images, their labels, each shape's grid cell (the plus, if any, first) and each shape's colour.

    Shapes:
        images (n, 3, 32, 32) in [0, 1], labels (n,) in 0..3, cells (n, S) in 0..63, colours (n, S) in 0..2
    """

    images: torch.Tensor
    labels: torch.Tensor
    cells: torch.Tensor
    colours: torch.Tensor

    @property
    def has_plus(self) -> torch.Tensor:
        """Which images hold a plus (label < 3). Shapes: (n,) bool."""
        return self.labels < 3


def make_images(
    n: int,
    g: torch.Generator | None = None,
    *,
    n_shapes: int = 6,
    p_none: float = 0.25,
    seed: int = 0,
) -> PlusImages:
    """``n`` images of ``n_shapes`` shapes; the label is the plus's colour, or 3 when there is no plus.

    Drawn with ``g``, or with a generator seeded with ``seed`` when ``g`` is None.

    Shapes:
        → images (n, 3, 32, 32), labels (n,), cells (n, n_shapes), colours (n, n_shapes)
    """
    _require(n >= 1, f"need n >= 1 images, got n={n}")
    _require(1 <= n_shapes <= 16, f"n_shapes must be in 1..16 (no two shapes neighbours), got {n_shapes}")
    _require(0 <= p_none <= 1, f"p_none must be in [0, 1], got {p_none}")
    g = g if g is not None else torch.Generator().manual_seed(seed)
    images = 0.12 + 0.04 * torch.randn(n, 3, R, R, generator=g)  # a dark, slightly noisy background
    colours = torch.randint(3, (n, n_shapes), generator=g)  # independent colours; the plus's is the label
    kinds = torch.randint(len(DISTRACTORS), (n, n_shapes), generator=g)
    has_plus = torch.rand(n, generator=g) >= p_none
    kinds = torch.where(has_plus[:, None] & (torch.arange(n_shapes) == 0), 0, kinds + 1)  # 0: the plus
    cells, corners = [], []  # each shape's grid cell, and its top-left pixel (y, x)
    for _ in range(n):  # plain Python lists: indexing small tensors here would cost seconds
        free = [[True] * (GRID + 2) for _ in range(GRID + 2)]  # with a border, so neighbours are easy
        placed = 0
        for cell in torch.randperm(GRID * GRID, generator=g).tolist():
            r, c = divmod(cell, GRID)
            if placed < n_shapes and free[r + 1][c + 1]:
                for row in free[r : r + 3]:
                    row[c : c + 3] = [False] * 3  # the 8 neighbouring cells stay empty
                dy, dx = torch.randint(2, (2,), generator=g).tolist()  # jitter by a pixel, inside the cell
                cells.append(cell)
                corners.append((r * CELL + dy, c * CELL + dx))
                placed += 1
        _require(placed == n_shapes, f"could not place {n_shapes} shapes apart on the {GRID}×{GRID} grid")
    # Paint all shapes at once (they never overlap): each on pixel, offset from its shape's corner,
    # takes the shape's colour in the 3 channels.
    shape_id, dy, dx = torch.stack([PLUS, *DISTRACTORS])[kinds.flatten()].nonzero(as_tuple=True)
    corner = torch.tensor(corners)[shape_id]  # (pixels, 2)
    y, x = (corner[:, 0] + dy)[:, None], (corner[:, 1] + dx)[:, None]
    image = (shape_id // n_shapes)[:, None]
    images[image, torch.arange(3), y, x] = COLOURS[colours.flatten()[shape_id]]  # (pixels, 3)
    cells = torch.tensor(cells).view(n, n_shapes)
    labels = torch.where(has_plus, colours[:, 0], 3)
    return PlusImages(images.clamp(0, 1), labels, cells, colours)


class AttentionNet(nn.Module):
    """Stem (feature extraction), one residual attention module, global average pooling, a linear classifier.

    Shapes:
        x (N, 3, 32, 32) → logits (N, classes), mask (N, C, 16, 16) in [0, 1]
    """

    def __init__(self, channels: int = 16, classes: int = 4) -> None:
        super().__init__()
        self.stem = nn.Sequential(  # (N, 3, 32, 32) -> (N, C, 16, 16)
            nn.Conv2d(3, channels, 3, stride=2, padding=1), nn.BatchNorm2d(channels), nn.ReLU()
        )
        self.attention = ResidualAttentionModule(channels)  # mask, weighting and fusion inside
        self.head = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU())
        self.classify = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, mask = self.attention(self.stem(x), return_mask=True)  # (N, C, 16, 16) each
        return self.classify(self.head(out).mean(dim=(2, 3))), mask  # logits (N, 4), mask


class Setup(NamedTuple):
    """How a model is trained: one :func:`~attnlab.training.fit` per phase, on batches of ``batch`` images.

    ``phases`` holds (steps, learning rate) pairs. A few hundred steps at a high rate find the solution
    quickly; a short phase at a tenth of it then settles the weights (and batch normalisation's running
    statistics), so the final model no longer jumps between nearby solutions from one step to the next.
    """

    phases: tuple[tuple[int, float], ...]
    batch: int = 64

    @property
    def steps(self) -> int:
        """All the training steps, over every phase."""
        return sum(steps for steps, _ in self.phases)


# At 3e-3 for 600 steps (an older setup), 1 seed in 5 ended below 90 %. At 1e-2, on batches of 64, seeds
# 0-4 reach 87-100 % by step 250 and 96-100 % by step 300, but between checks 50 steps apart the accuracy
# still jumps by several points: 100 steps at 1e-3 then settle every seed at >= 99.8 %. Batches of 32 or 16
# cost less per step but do not make it (400 or 500 steps at 1e-2, then 100 at 1e-3): with either, 1 seed in
# 5 stayed below 90 %, and claims about the mask failed for 1 or 2 seeds.
# Cut for chapter 4's time budget to 200 steps at 1e-2 (was 300) and 50 at 1e-3 (was 100): every claim
# still holds for seeds 0-4 (the seed report: native and default kernels); accuracy has the thinnest margin,
# 94.2-100 %. Seeds 5-9 show what the seed report's five do not: with 250 or 300 steps at 1e-2
# (and 100 at 1e-3), seed 6 stays near 80 % (a plateau), and one more seed misses a mask claim
# (departure_wins for seed 8 with 250, falls for seed 9 with 300).
RAN_SETUP = Setup(phases=((200, 1e-2), (50, 1e-3)))
# On batches of 64 at 3e-3, 1 seed in 5 sat on a plateau near 79 % until somewhere between steps 600
# and 900. On batches of 32 (half the cost per step) seeds 0-4 all passed 99 % by step 500, though the
# accuracy still dips by a point or more now and then at this rate; 100 steps at 3e-4 settle it. The
# plateau is rarer, not gone: of seeds 0-9, seed 7 sat near 82 % through 2000 steps, its heads finding
# green and blue pluses but not red ones. (100 warm-up steps at 1e-3 before 3e-3 or 5e-3 moved the plateau
# to seed 2; 5e-3 without them left seeds 7 and 9 below 90 % at step 700.)
# 500 steps (was 600, cut for chapter 4's time budget): every claim holds for seeds 0-9 except seed 7, the
# plateau above (64.6 %); the others end at 99.2-100 %.
VIT_SETUP = Setup(phases=((500, 3e-3), (100, 3e-4)), batch=32)


def make_vit() -> VisionTransformer:
    """The chapter's one-block ViT: 4 × 4 patches (the grid cells), width 32, 2 heads, 4 classes.

    Shapes:
        x (N, 3, 32, 32) → logits (N, 4); its class token attends over 1 + 64 tokens
    """
    return VisionTransformer(input_resolution=R, patch_size=CELL, width=32, layers=1, heads=2, output_dim=4)


def _logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = model(x)
    return out[0] if isinstance(out, tuple) else out  # AttentionNet also returns its mask


def _train(model: nn.Module, data: PlusImages, setup: Setup, seed: int) -> nn.Module:
    _require(
        len(setup.phases) >= 1 and setup.batch >= 1,
        f"a setup needs at least one phase and batch >= 1, got {setup}",
    )
    loss = classification_loss(data.images, data.labels, setup.batch, _logits)
    for phase, (steps, lr) in enumerate(setup.phases):
        fit(model, loss, steps, lr=lr, seed=seed + 1000 * phase)  # each phase its own batch order
    return model.eval()


def train_ran(data: PlusImages, seed: int = 0, setup: Setup = RAN_SETUP) -> AttentionNet:
    """An :class:`AttentionNet` initialised with ``torch.manual_seed(seed)`` and trained on ``data``.

    ``seed`` also orders the training batches (``fit``'s generator). Returns the model in eval mode.

    Shapes:
        data.images (n, 3, 32, 32), data.labels (n,)
    """
    torch.manual_seed(seed)
    return _train(AttentionNet(), data, setup, seed)


def train_vit(data: PlusImages, seed: int = 0, setup: Setup = VIT_SETUP) -> VisionTransformer:
    """:func:`make_vit`, initialised with ``torch.manual_seed(seed)``, trained on ``data``; in eval mode.

    Shapes:
        data.images (n, 3, 32, 32), data.labels (n,)
    """
    torch.manual_seed(seed)
    return _train(make_vit(), data, setup, seed)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The share of rows whose largest logit is the label. Shapes: logits (N, K), labels (N,)."""
    _require(
        logits.dim() == 2 and labels.shape == logits.shape[:1],
        f"logits must be (N, K) and labels (N,), got {_shape(logits)} and {_shape(labels)}",
    )
    return (logits.argmax(-1) == labels).float().mean().item()


def cell_region(cells: torch.Tensor, size: int) -> torch.Tensor:
    """True inside each image's given grid cell, on a ``size`` × ``size`` map (a multiple of 8).

    Shapes:
        cells (N,) in 0..63 → (N, size, size) bool
    """
    _require(size % GRID == 0 and size > 0, f"size must be a positive multiple of {GRID}, got {size}")
    k = size // GRID
    one_cell = F.one_hot(cells, GRID * GRID).view(-1, GRID, GRID).bool()  # (N, 8, 8)
    return one_cell.repeat_interleave(k, dim=1).repeat_interleave(k, dim=2)  # (N, size, size)


def plus_and_distractors(maps: torch.Tensor, data: PlusImages) -> tuple[torch.Tensor, torch.Tensor]:
    """A map's mean inside the plus's cell, and over the distractors' cells, for the images with a plus.

    Shapes:
        maps (N, h, w) with h = w a multiple of 8 → at_plus (M,), at_distractors (M,); M images with a plus
    """
    _require(
        maps.dim() == 3 and maps.shape[0] == len(data.labels) and maps.shape[1] == maps.shape[2],
        f"maps must be (N, h, h) with N = {len(data.labels)}, got {_shape(maps)}",
    )
    regions = [cell_region(data.cells[:, j], maps.shape[-1]) for j in range(data.cells.shape[1])]
    means = torch.stack([(maps * r).sum(dim=(1, 2)) / r.sum(dim=(1, 2)) for r in regions], dim=1)  # (N, S)
    return means[data.has_plus, 0], means[data.has_plus, 1:].mean(dim=1)


def accuracy_with(net: AttentionNet, data: PlusImages, replace: Callable[[torch.Tensor], torch.Tensor]) -> float:
    """Test accuracy of ``net`` with its mask M replaced by ``replace(M)`` inside ``(1 + M) · T``.

    Shapes:
        replace: mask (N, C, 16, 16) → (N, C, 16, 16)
    """
    with torch.no_grad():
        m = net.attention
        x = m.pre(net.stem(data.images))
        trunk, mask = m.trunk(x), m.soft_mask(x)
        out = m.post((1 + replace(mask)) * trunk)
        logits = net.classify(net.head(out).mean(dim=(2, 3)))
    return accuracy(logits, data.labels)
