"""The video explorer: frames as thumbnails, the T×T map between frames, and where a frame's token looks
among its own frame's patches. Several videos, layers, heads and patch sources are all precomputed, so
every choice redraws in the browser; with a kernel, ``compute`` adds a freshly generated video.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import _require, _shape
from ._base import Maps, _as_array, _Explorer, _to_json
from .explorers import MAX_COMPUTED

__all__ = ["FrameExplorer"]


def _frames(frames: Maps) -> np.ndarray:
    """(T, h, w, 3) or (V, T, h, w, 3), in [0, 1] or 0..255 → (V, T, h, w, 3) uint8."""
    images = _as_array(frames, "frames")
    images = images[None] if images.ndim == 4 else images
    _require(
        images.ndim == 5 and images.shape[-1] == 3,
        f"frames must be (T, h, w, 3) or (videos, T, h, w, 3), got shape {_shape(images.shape)}",
    )
    if images.max() <= 1.0:
        images = images * 255.0
    return np.clip(np.round(images), 0, 255).astype(np.uint8)


def _lift(maps: Maps, what: str, V: int, last: tuple[int, int], names: str) -> np.ndarray:
    """(…, A, Bx) maps with optional (videos, layers, heads) in front → (V, layers, H, A, Bx)."""
    array = _as_array(maps, what)
    _require(
        2 <= array.ndim <= 5 and array.shape[-2:] == last,
        f"{what} must be {names} with optional (videos, layers, heads) in front, "
        f"ending in {_shape(last)}; got shape {_shape(array.shape)}",
    )
    array = array.reshape((1,) * (5 - array.ndim) + array.shape)
    if array.shape[0] == 1 and V > 1:
        array = np.broadcast_to(array, (V, *array.shape[1:]))
    _require(array.shape[0] == V, f"{what} has maps for {array.shape[0]} videos, but there are {V} videos")
    return array


class FrameExplorer(_Explorer):
    """Video frames beside a T×T map between frames; click a frame (or a row) to make it the query and see
    where its token looks among that frame's patches.

    Choose the video (``setting``), layer, head and, when several are given, whose view of the patches
    to show (``view``: e.g. the class token or the message token). ``compute(seed)`` (kernel only) returns
    ``dict(frames=…, frame_maps=…, patch_maps=…)`` for one new video, which is appended and shown.

    Shapes:
        frames (T, h, w, 3) or (V, T, h, w, 3) in [0, 1] or 0..255;
        frame_maps (T, T), (H, T, T), (layers, H, T, T) or (V, layers, H, T, T);
        patch_maps None, or maps ending in (T, P) with the same optional leading dimensions, or a dict
        from source name to such maps; P = grid[0] · grid[1].
    """

    def __init__(
        self,
        frames: Maps,
        frame_maps: Maps,
        patch_maps: Maps | Mapping[str, Maps] | None = None,
        *,
        grid: tuple[int, int] | None = None,
        video_labels: Sequence[str] | None = None,
        title: str = "",
        map_title: str = "frame → frame",
        alt: str = "",
        compute: Callable[[int], Mapping[str, Any]] | None = None,
        compute_label: str = "seed",
        **state: Any,
    ) -> None:
        _require(patch_maps is None or grid is not None, "patch_maps need grid=(rows, cols) of patches per frame")
        self._grid = tuple(grid) if grid is not None else (1, 1)
        videos = self._video(frames, frame_maps, patch_maps)
        V = len(videos["frames"])
        labels = [f"video {v}" for v in range(V)] if video_labels is None else [str(s) for s in video_labels]
        _require(len(labels) == V, f"{len(labels)} video labels for {V} videos: expected one label per video")
        data = {
            **videos,
            "videos": labels,
            "grid": list(self._grid),
            "title": title,
            "map_title": map_title,
            "alt": alt or title or "attention between frames: rows are query frames, columns key frames",
        }
        sources = data["sources"]
        super().__init__(data, kind="frames", view=sources[0] if sources else "weights", **state)
        self._compute, self._compute_label = compute, compute_label
        self._given = V  # precomputed videos stay; generated ones beyond MAX_COMPUTED go, oldest first

    def _video(self, frames: Maps, frame_maps: Maps, patch_maps: Maps | Mapping[str, Maps] | None) -> dict:
        """Check one or more videos' frames and maps against each other and turn them into widget data."""
        images = _frames(frames)
        V, T = images.shape[:2]
        fmaps = _lift(frame_maps, "frame_maps", V, (T, T), "(T, T)")
        named = {} if patch_maps is None else dict(patch_maps) if isinstance(patch_maps, Mapping) else {"": patch_maps}
        P = self._grid[0] * self._grid[1]
        pmaps = {name: _lift(m, f"patch_maps[{name!r}]" if name else "patch_maps", V, (T, P), f"(T, {P})")
                 for name, m in named.items()}  # fmt: skip
        for name, m in pmaps.items():
            _require(
                m.shape[1:3] == fmaps.shape[1:3],
                f"patch_maps{f'[{name!r}]' if name else ''} has (layers, heads) {_shape(m.shape[1:3])} but "
                f"frame_maps has {_shape(fmaps.shape[1:3])}: they must match",
            )
        return {
            "frames": [[f.reshape(-1).tolist() for f in video] for video in images],
            "size": list(images.shape[2:4]),
            "shape": [V, fmaps.shape[1], fmaps.shape[2], T],  # videos, layers, heads, frames
            "frame_maps": [_to_json(m) for m in fmaps],
            "sources": [name or "token" for name in pmaps],
            "patch_maps": [[_to_json(v) for v in m] for m in pmaps.values()],
        }

    def recompute(self, value: float) -> None:
        """Generate one more video in Python (needs ``compute``), append it, and show it."""
        _require(self._compute is not None, "this explorer has no compute function to call")
        seed = int(value)
        made = self._compute(seed)
        _require(
            isinstance(made, Mapping) and {"frames", "frame_maps"} <= set(made),
            "compute must return a dict with frames, frame_maps and (optionally) patch_maps",
        )
        new = self._video(made["frames"], made["frame_maps"], made.get("patch_maps"))
        data = dict(self.data)
        _require(
            new["shape"][1:] == data["shape"][1:] and new["size"] == data["size"] and new["sources"] == data["sources"],
            f"compute({seed}) made a video of another shape than the explorer's",
        )
        first = 1 if data["shape"][0] - self._given >= MAX_COMPUTED else 0  # forget the oldest generated one
        kept = [i for i in range(data["shape"][0]) if not (first and i == self._given)]
        for key in ("frames", "frame_maps"):
            data[key] = [*(data[key][i] for i in kept), *new[key]]
        data["patch_maps"] = [
            [*(old[i] for i in kept), *add] for old, add in zip(data["patch_maps"], new["patch_maps"], strict=True)
        ]
        data["videos"] = [*(data["videos"][i] for i in kept), f"{self._compute_label}={seed}"]
        data["shape"] = [len(kept) + 1, *data["shape"][1:]]
        self.data = data
        self.setting = data["shape"][0] - 1
