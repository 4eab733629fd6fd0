"""What every explorer shares: the front end, the synced state, and turning tensors into it.

The explorer's data travel in the widget state (JSON), so the browser redraws from them with no
kernel. Values are rounded to 4 decimals (small pages, identical output run after run); masked
entries (-inf logits) travel as null and are drawn grey.

The front end is one ES module (anywidget's ``_esm``): ``explorer.js`` draws, ``compute.js`` computes
(softmax, masks), and :func:`esm` inlines the second into the first, so that the static book's pages,
offline, need nothing else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import torch
import traitlets

from ..errors import AttnLabError, _require, _shape
from ..plotting import cmap_hex

_HERE = Path(__file__).parent

Maps = torch.Tensor | np.ndarray | Sequence

# explorer.js imports compute.js on one line of this form; esm() puts compute.js in its place.
_COMPUTE_IMPORT = re.compile(r'^import \{[^}]*\} from "\./compute\.js";\n', re.MULTILINE)


def esm() -> str:
    """The explorers' front end as one self-contained ES module: compute.js, then explorer.js.

    explorer.js's ``import {...} from "./compute.js"`` line is dropped, since compute.js's functions are
    then defined in the same module (and exported by it too).
    """
    compute = (_HERE / "compute.js").read_text(encoding="utf-8")
    explorer = (_HERE / "explorer.js").read_text(encoding="utf-8")
    explorer, count = _COMPUTE_IMPORT.subn("", explorer)
    if count != 1:
        raise AttnLabError(f"explorer.js must import compute.js on exactly one line, found {count}")
    return f"{compute}\n{explorer}"


def _as_array(maps: Maps, what: str) -> np.ndarray:
    if isinstance(maps, torch.Tensor):
        maps = maps.detach().to("cpu", torch.float64).numpy()
    try:
        array = np.asarray(maps, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise AttnLabError(f"{what} must be numbers (a tensor or an array), got {type(maps).__name__}") from err
    _require(not np.isnan(array).any(), f"{what} contains NaN; masked entries should be -inf or 0")
    return array


def _as_4d(maps: Maps, what: str) -> np.ndarray:
    """(L, S), (H, L, S) or (layers, H, L, S) → (layers, H, L, S)."""
    array = _as_array(maps, what)
    _require(
        2 <= array.ndim <= 4,
        f"{what} must be (L, S), (H, L, S) or (layers, H, L, S), got shape {_shape(array.shape)}",
    )
    return array.reshape((1,) * (4 - array.ndim) + array.shape)


def _to_json(values: np.ndarray) -> list[float | None]:
    """Flatten, round to 4 decimals, and send -inf (masked) as null."""
    flat = np.round(values.reshape(-1), 4)
    return [None if math.isinf(v) else float(v) + 0.0 for v in flat.tolist()]  # + 0.0: no "-0.0"


def _check_labels(labels: Sequence[str] | None, n: int, what: str) -> list[str]:
    if labels is None:
        return [str(i) for i in range(n)]
    labels = [str(s) for s in labels]
    _require(len(labels) == n, f"{len(labels)} {what} labels for {n} {what}s: expected one label per {what}")
    return labels


class _Explorer(anywidget.AnyWidget):
    """The synced state shared by every explorer; subclasses fill ``data``."""

    _esm = esm()
    _css = _HERE / "explorer.css"
    kind = traitlets.Unicode("heatmap").tag(sync=True)
    data = traitlets.Dict().tag(sync=True)
    setting = traitlets.Int(0).tag(sync=True)
    view = traitlets.Unicode("weights").tag(sync=True)
    layer = traitlets.Int(0).tag(sync=True)
    head = traitlets.Int(0).tag(sync=True)
    query = traitlets.Int(-1).tag(sync=True)  # -1: no query highlighted

    def __init__(self, data: dict[str, Any], **state: Any) -> None:
        data.setdefault("cmap", cmap_hex())
        super().__init__(data=data, **state)
        self._compute: Callable[[float], Any] | None = None
        self._compute_label = "value"
        self.on_msg(self._on_msg)

    @traitlets.validate("layer", "head", "setting")
    def _valid_index(self, proposal: dict) -> int:
        name, value = proposal["trait"].name, proposal["value"]
        count = self._count(name)
        _require(0 <= value < count, f"{name} {value} is out of range: this explorer has {count} (0..{count - 1})")
        return value

    @traitlets.validate("query")
    def _valid_query(self, proposal: dict) -> int:
        value, rows = proposal["value"], self._count("query")
        _require(-1 <= value < rows, f"query {value} is out of range: expected -1 (none) or 0..{rows - 1}")
        return value

    def _count(self, name: str) -> int:
        data = self.data
        if self.kind == "frames":  # videos: (V, layers, H, T)
            return dict(zip(("setting", "layer", "head", "query"), data["shape"], strict=True))[name]
        if "shape" in data:  # heatmaps: (layers, H, L, S)
            return {"layer": data["shape"][0], "head": data["shape"][1], "query": data["shape"][2]}.get(
                name, len(data.get("settings", [])) or 1
            )
        return {"head": data.get("heads", 1), "query": len(data.get("frames", []))}.get(name, 1)

    def _on_msg(self, _widget: Any, content: Mapping[str, Any], _buffers: Any) -> None:
        """The front end says hello (so a kernel is live) or asks for a value to be computed."""
        kind = content.get("type") if isinstance(content, Mapping) else None
        if kind == "hello" and self._compute is not None:
            self.send({"type": "live", "label": self._compute_label})
        elif kind == "compute" and self._compute is not None:
            try:
                self.recompute(float(content.get("value")))
            except Exception as err:  # a bad value must never break the explorer
                self.send({"type": "error", "message": f"{type(err).__name__}: {err}"})
