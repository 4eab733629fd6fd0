"""One look for every figure in the book: the colour map, the limits and the labelling.

The explorers in :mod:`attnlab.widgets` use the same colour map (viridis: it reads in grey and for
colour-blind readers) and the same limits: weights from 0 to the map's largest weight, scores from
their minimum to their maximum.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["CMAP", "attention_heatmap", "cmap_hex", "color_limits"]

CMAP = "viridis"


def cmap_hex(n: int = 64) -> list[str]:
    """The book's colour map as ``n`` hex colours, low to high (what the explorers draw with)."""
    from matplotlib import colormaps

    cmap = colormaps[CMAP].resampled(n)
    return ["#{:02x}{:02x}{:02x}".format(*(round(255 * c) for c in cmap(i)[:3])) for i in range(n)]


def color_limits(values: np.ndarray, view: str = "weights") -> tuple[float, float]:
    """(low, high) for the colour scale: weights start at 0, scores span their finite range."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    if view == "weights":
        return 0.0, max(float(finite.max()), 1e-9)
    return float(finite.min()), float(finite.max())


def attention_heatmap(
    weights: torch.Tensor | np.ndarray,
    x_labels: Sequence[str] | None = None,
    y_labels: Sequence[str] | None = None,
    *,
    ax=None,
    title: str | None = None,
    view: str = "weights",
    colorbar: bool = True,
):
    """Draw one (L, S) map: rows are queries, columns keys, masked (-inf) entries grey.

    Shapes:
        weights (L, S); x_labels S strings, y_labels L strings.
    """
    import matplotlib.pyplot as plt

    values = weights.detach().cpu().double().numpy() if isinstance(weights, torch.Tensor) else np.asarray(weights)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.45 * values.shape[1] + 1.8, 0.4 * values.shape[0] + 1.2))
    lo, hi = color_limits(values, view)
    cmap = plt.get_cmap(CMAP).with_extremes(bad="#bbbbbb")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=lo, vmax=hi)
    for axis, labels, set_ticks in ((1, x_labels, ax.set_xticks), (0, y_labels, ax.set_yticks)):
        if labels is not None:
            set_ticks(range(values.shape[axis]), labels)
    ax.tick_params(axis="x", labelrotation=60)
    ax.set_xlabel("key")
    ax.set_ylabel("query")
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return ax
