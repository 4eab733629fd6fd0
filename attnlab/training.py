"""One seeded training loop for every small model in the book.

Every chapter trains its models the same way: Adam on batches drawn from a seeded generator, for a fixed
number of steps. :func:`fit` is that loop, so the chapters, the benchmarks and the seed report
(`benchmarks/seeds.py`) train a model with exactly the same code.

In a Jupyter notebook :func:`fit` shows a progress bar (an ipywidgets bar and the latest loss), updated
about 50 times a run; the book's static pages show it in its final state. Anywhere else (scripts, tests,
the benchmarks) it shows nothing. ``ATTNLAB_PROGRESS=0`` turns the bar off in notebooks too.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch
from torch import nn

from .errors import AttnLabError

__all__ = ["classification_loss", "fit", "sample"]

Loss = Callable[[nn.Module, torch.Generator], torch.Tensor]


def fit(
    model: nn.Module,
    loss: Loss,
    steps: int,
    *,
    lr: float = 1e-2,
    seed: int = 0,
    history: list[float] | None = None,
    progress: bool | None = None,
    label: str = "training",
) -> nn.Module:
    """Train ``model`` with Adam for ``steps`` steps and return it in eval mode.

    ``loss(model, g)`` draws its batch with the generator ``g`` (seeded with ``seed``) and returns the
    scalar loss. Only parameters with ``requires_grad`` are optimised. When ``history`` is a list, the
    loss of every step is appended to it. ``progress``: show a progress bar named ``label`` (None: only
    in a Jupyter notebook, and not with ``ATTNLAB_PROGRESS=0``); zero steps show none.
    """
    if steps < 0:
        raise AttnLabError(f"steps must be >= 0, got {steps}")
    if lr <= 0:
        raise AttnLabError(f"lr must be > 0, got {lr}")
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    show = steps > 0 and (_in_notebook() if progress is None else progress)
    bar = _ProgressBar(steps, label) if show else None
    model.train()
    for step in range(1, steps + 1):
        value = loss(model, g)
        if value.dim() != 0:
            raise AttnLabError(f"loss must return a scalar, got shape {tuple(value.shape)}")
        opt.zero_grad()
        value.backward()
        opt.step()
        if history is not None:
            history.append(value.item())
        if bar is not None:
            bar.update(step, value)
    return model.eval()


def classification_loss(
    inputs: torch.Tensor,
    labels: torch.Tensor,
    batch: int = 64,
    logits: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None,
) -> Loss:
    """A :func:`fit` loss: cross-entropy on ``batch`` examples of a labelled data set, drawn with ``g``.

    ``logits(model, x)`` reads the model's logits (default: ``model(x)``).

    Shapes:
        inputs (n, ...), labels (n,)
    """
    if inputs.shape[:1] != labels.shape or labels.dim() != 1:
        raise AttnLabError(f"need inputs (n, ...) and labels (n,), got {tuple(inputs.shape)} and {tuple(labels.shape)}")
    read = logits if logits is not None else (lambda model, x: model(x))

    def loss(model: nn.Module, g: torch.Generator) -> torch.Tensor:
        idx = sample(len(labels), batch, g)  # (batch,)
        return nn.functional.cross_entropy(read(model, inputs[idx]), labels[idx])

    return loss


def _in_notebook() -> bool:
    """True in a Jupyter kernel (not in scripts, tests or a terminal IPython), unless ATTNLAB_PROGRESS=0."""
    if os.environ.get("ATTNLAB_PROGRESS", "1") == "0":
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class _ProgressBar:
    """An ipywidgets bar with the step count and the latest loss; nothing where ipywidgets is missing."""

    def __init__(self, steps: int, label: str) -> None:
        self.steps, self.every, self.box = steps, max(1, steps // 50), None
        try:
            import ipywidgets
            from IPython.display import display
        except ImportError:
            return
        self.bar = ipywidgets.IntProgress(value=0, min=0, max=max(steps, 1), description=label)
        self.text = ipywidgets.Label(value=f"0 / {steps} steps")
        self.box = ipywidgets.HBox([self.bar, self.text])
        display(self.box)

    def update(self, step: int, loss: torch.Tensor) -> None:
        if self.box is None or (step % self.every and step != self.steps):
            return
        self.bar.value = step
        self.text.value = f"{step} / {self.steps} steps, loss {loss.item():.3g}"


def sample(n: int, batch: int, g: torch.Generator) -> torch.Tensor:
    """``batch`` random indices into a data set of ``n`` items, drawn with ``g``. Shapes: (batch,)."""
    if n <= 0 or batch <= 0:
        raise AttnLabError(f"need n > 0 and batch > 0, got n={n}, batch={batch}")
    return torch.randint(n, (batch,), generator=g)
