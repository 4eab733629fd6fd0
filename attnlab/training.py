"""One seeded training loop for every small model in the book.

Every chapter trains its models the same way: Adam on batches drawn from a seeded generator, for a fixed
number of steps. :func:`fit` is that loop, so the chapters, the benchmarks and the seed report
(`benchmarks/seeds.py`) train a model with exactly the same code.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .errors import AttnLabError

__all__ = ["fit", "sample"]

Loss = Callable[[nn.Module, torch.Generator], torch.Tensor]


def fit(
    model: nn.Module,
    loss: Loss,
    steps: int,
    *,
    lr: float = 1e-2,
    seed: int = 0,
    history: list[float] | None = None,
) -> nn.Module:
    """Train ``model`` with Adam for ``steps`` steps and return it in eval mode.

    ``loss(model, g)`` draws its batch with the generator ``g`` (seeded with ``seed``) and returns the
    scalar loss. Only parameters with ``requires_grad`` are optimised. When ``history`` is a list, the
    loss of every step is appended to it.
    """
    if steps < 0:
        raise AttnLabError(f"steps must be >= 0, got {steps}")
    if lr <= 0:
        raise AttnLabError(f"lr must be > 0, got {lr}")
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    for _ in range(steps):
        value = loss(model, g)
        if value.dim() != 0:
            raise AttnLabError(f"loss must return a scalar, got shape {tuple(value.shape)}")
        opt.zero_grad()
        value.backward()
        opt.step()
        if history is not None:
            history.append(value.item())
    return model.eval()


def sample(n: int, batch: int, g: torch.Generator) -> torch.Tensor:
    """``batch`` random indices into a data set of ``n`` items, drawn with ``g``. Shapes: (batch,)."""
    if n <= 0 or batch <= 0:
        raise AttnLabError(f"need n > 0 and batch > 0, got n={n}, batch={batch}")
    return torch.randint(n, (batch,), generator=g)
