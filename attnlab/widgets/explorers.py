"""The heatmap explorers every chapter reuses: one map at a time, or a grid of heads."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch

from ..errors import _require, _shape
from ..functional import attention_logits, attention_weights
from ._base import Maps, _as_4d, _check_labels, _Explorer, _to_json

__all__ = ["HeadGridExplorer", "HeatmapExplorer", "qk_views"]

VIEWS = ("weights", "scaled scores", "raw scores")
# Computed settings an explorer keeps besides its precomputed ones: each recompute re-sends the whole
# state, so an unbounded list made a 12-head grid's redraw grow from 64 ms to 650 ms after 20 values.
MAX_COMPUTED = 4


def qk_views(q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor | None = None, *, scale: float | None = None) -> dict:
    """The three things an attention map can show, from queries and keys: raw scores ``Q Kᵀ``,
    scaled (and masked) scores, and the weights after softmax.

    Shapes:
        q (..., L, E), k (..., S, E) → each view (..., L, S)
    """
    return {
        "weights": attention_weights(q, k, mask, scale=scale),
        "scaled scores": attention_logits(q, k, mask, scale=scale),
        "raw scores": attention_logits(q, k, scale=1.0),
    }


def _setting(maps: Maps | Mapping[str, Maps], what: str) -> dict[str, np.ndarray]:
    """One setting: a map (the weights) or a dict from view name to map → {view: (layers, H, L, S)}."""
    views = dict(maps) if isinstance(maps, Mapping) else {"weights": maps}
    unknown = set(views) - set(VIEWS)
    _require(not unknown, f"unknown view(s) {sorted(unknown)} in {what}; expected some of {list(VIEWS)}")
    arrays = {name: _as_4d(views[name], f"{what}[{name!r}]") for name in VIEWS if name in views}
    shapes = {a.shape for a in arrays.values()}
    _require(len(shapes) == 1, f"the views of {what} differ in shape: {[_shape(s) for s in shapes]}")
    return arrays


class HeatmapExplorer(_Explorer):
    """One attention map at a time, rows = queries, columns = keys.

    Pick a query (click its row) to read its weights as bars; switch weights / scaled scores / raw
    scores; choose a layer, a head and one of the precomputed ``settings``. All of that redraws in the
    browser, also in the static book. Give ``compute`` (value → maps) and, with a kernel, the explorer
    also takes any value and recomputes it in Python.

    Shapes:
        maps (L, S), (H, L, S) or (layers, H, L, S), or a dict from view to such maps;
        x_labels S strings (keys), y_labels L strings (queries, default x_labels).
    """

    def __init__(
        self,
        maps: Maps | Mapping[str, Maps] | None,
        x_labels: Sequence[str] | None = None,
        y_labels: Sequence[str] | None = None,
        *,
        settings: Mapping[str, Maps | Mapping[str, Maps]] | None = None,
        setting_label: str = "setting",
        compute: Callable[[float], Maps | Mapping[str, Maps]] | None = None,
        title: str = "",
        alt: str = "",
        kind: str = "heatmap",
        **state,
    ) -> None:
        _require((maps is None) != (settings is None), "give either maps (one setting) or settings (several), not both")
        named = {"": maps} if settings is None else dict(settings)
        _require(len(named) > 0, "settings is empty: give at least one")
        arrays = {name: _setting(m, f"settings[{name!r}]" if name else "maps") for name, m in named.items()}
        first = next(iter(arrays.values()))
        views = list(first)
        shape = next(iter(first.values())).shape
        for name, a in arrays.items():
            _require(
                list(a) == views and next(iter(a.values())).shape == shape,
                f"every setting needs the same views and shape: {name!r} has {list(a)} "
                f"{_shape(next(iter(a.values())).shape)}, expected {views} {_shape(shape)}",
            )
        _, _, L, S = shape
        x_labels = _check_labels(x_labels, S, "key")
        y_labels = _check_labels(y_labels if y_labels is not None else (x_labels if L == S else None), L, "query")
        data = {
            "shape": list(shape),
            "views": views,
            "settings": [name or "default" for name in arrays],
            "setting_label": setting_label,
            "maps": [[_to_json(a[v]) for v in views] for a in arrays.values()],
            "x_labels": x_labels,
            "y_labels": y_labels,
            "title": title,
            "alt": alt or title or "attention map: rows are queries, columns are keys",
        }
        super().__init__(data, kind=kind, view=views[0], **state)
        self._compute, self._compute_label = compute, setting_label
        self._given = len(data["settings"])  # precomputed settings stay; computed ones beyond the cap go

    def recompute(self, value: float) -> None:
        """Compute a new setting in Python (needs ``compute``), add it, and show it."""
        _require(self._compute is not None, "this explorer has no compute function to call")
        arrays = _setting(self._compute(value), f"compute({value:g})")
        _require(
            list(arrays) == self.data["views"] and list(next(iter(arrays.values())).shape) == self.data["shape"],
            f"compute({value:g}) returned views {list(arrays)} of another shape than the explorer's",
        )
        data = dict(self.data)
        settings, maps = list(data["settings"]), list(data["maps"])
        if len(settings) - self._given >= MAX_COMPUTED:  # forget the oldest computed setting
            del settings[self._given], maps[self._given]
        data["settings"] = [*settings, f"{self._compute_label}={value:g}"]
        data["maps"] = [*maps, [_to_json(arrays[v]) for v in data["views"]]]
        self.data = data
        self.setting = len(data["settings"]) - 1


class HeadGridExplorer(HeatmapExplorer):
    """Every head of one layer side by side; choose the layer and highlight a query in all of them.

    Shapes:
        maps (H, L, S) or (layers, H, L, S), or a dict from view to such maps.
    """

    def __init__(self, maps: Maps | Mapping[str, Maps] | None, x_labels=None, y_labels=None, **kwargs) -> None:
        super().__init__(maps, x_labels, y_labels, kind="grid", **kwargs)
