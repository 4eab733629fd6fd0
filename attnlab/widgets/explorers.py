"""The heatmap explorers every chapter reuses: one map at a time, or a grid of heads.

Two modes. With ``maps`` or ``settings`` the state carries every view of every setting, precomputed.
With ``scores`` it carries only the raw scores ``Q Kᵀ``, once, and the front end (compute.js) computes
the views for any temperature, with or without the 1/√d_k scaling, in the static book as well.
:class:`SentenceExplorer` carries a small model's head instead (embeddings and q/k projections) and the
page runs it on any sentence the reader types.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
import traitlets

from ..errors import _require, _shape
from ..functional import attention_logits, attention_weights
from ._base import Maps, _as_4d, _check_labels, _Explorer, _to_json

__all__ = ["HeadGridExplorer", "HeatmapExplorer", "SentenceExplorer", "qk_views"]

VIEWS = ("weights", "scaled scores", "raw scores")
# Computed settings an explorer keeps besides its precomputed ones: each recompute re-sends the whole
# state, so an unbounded list made a 12-head grid's redraw grow from 64 ms to 650 ms after 20 values.
MAX_COMPUTED = 4
# The temperature slider's range in scores mode: τ from 1/16 (nearly one-hot rows) to 16 (nearly uniform).
TEMPERATURE_RANGE = (1 / 16, 16.0)


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


def _scores(scores: Maps, what: str) -> np.ndarray:
    """Raw scores ``Q Kᵀ`` → (layers, H, L, S); they must be finite (masked pairs go in ``mask``)."""
    array = _as_4d(scores, what)
    _require(bool(np.isfinite(array).all()), f"{what} must be finite; give masked pairs as mask= (True = may attend)")
    return array


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
    scores; choose a layer, a head and a setting. All of that redraws in the browser, also in the
    static book. Two ways to give the maps:

    * ``maps`` (one setting) or ``settings`` (several): every view precomputed, one copy per setting;
    * ``scores``: the raw scores ``Q Kᵀ`` (or a dict of them, one per setting) and ``d_k``. The state
      carries them once; the browser computes the scaled scores and the weights for any
      ``temperature`` (a slider over ``temperature_range``), with or without the 1/√d_k scaling
      (``scaled``), masked by an optional boolean ``mask`` (True = may attend), with attnlab's rules:
      a query with nothing visible gets zero weights. :meth:`views` computes the same in PyTorch.

    Give ``compute`` (value → maps, or value → scores in scores mode) and, with a kernel, the explorer
    also takes any value and recomputes it in Python, as a new setting.

    Shapes:
        maps (L, S), (H, L, S) or (layers, H, L, S), or a dict from view to such maps;
        scores (L, S), (H, L, S) or (layers, H, L, S); mask (L, S), shared by every layer and head;
        x_labels S strings (keys), y_labels L strings (queries, default x_labels).
    """

    temperature = traitlets.Float(1.0).tag(sync=True)  # scores mode: divides the logits
    scaled = traitlets.Bool(True).tag(sync=True)  # scores mode: multiply the scores by 1/√d_k

    def __init__(
        self,
        maps: Maps | Mapping[str, Maps] | None = None,
        x_labels: Sequence[str] | None = None,
        y_labels: Sequence[str] | None = None,
        *,
        settings: Mapping[str, Maps | Mapping[str, Maps]] | None = None,
        setting_label: str = "setting",
        compute: Callable[[float], Maps | Mapping[str, Maps]] | None = None,
        scores: Maps | Mapping[str, Maps] | None = None,
        d_k: int | None = None,
        mask: Maps | None = None,
        temperature_range: tuple[float, float] = TEMPERATURE_RANGE,
        title: str = "",
        alt: str = "",
        kind: str = "heatmap",
        **state,
    ) -> None:
        given = [name for name, v in (("maps", maps), ("settings", settings), ("scores", scores)) if v is not None]
        _require(
            len(given) == 1,
            "give one of maps (one setting), settings (several) or scores (the browser computes the views), "
            f"got {' and '.join(given) if given else 'none'}",
        )
        if scores is not None:
            data = self._scores_data(scores, d_k, mask, temperature_range, setting_label)
        else:
            _require(d_k is None and mask is None, "d_k and mask go with scores=, not with maps or settings")
            data = self._maps_data(maps, settings, setting_label)
        _, _, L, S = data["shape"]
        x_labels = _check_labels(x_labels, S, "key")
        y_labels = _check_labels(y_labels if y_labels is not None else (x_labels if L == S else None), L, "query")
        data.update(
            x_labels=x_labels,
            y_labels=y_labels,
            title=title,
            alt=alt or title or "attention map: rows are queries, columns are keys",
        )
        super().__init__(data, kind=kind, view=data["views"][0], **state)
        self._compute, self._compute_label = compute, setting_label
        self._given = len(data["settings"])  # precomputed settings stay; computed ones beyond the cap go

    @staticmethod
    def _maps_data(maps, settings, setting_label: str) -> dict:
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
        return {
            "shape": list(shape),
            "views": views,
            "settings": [name or "default" for name in arrays],
            "setting_label": setting_label,
            "maps": [[_to_json(a[v]) for v in views] for a in arrays.values()],
        }

    @staticmethod
    def _scores_data(scores, d_k, mask, temperature_range, setting_label: str) -> dict:
        named = dict(scores) if isinstance(scores, Mapping) else {"": scores}
        _require(len(named) > 0, "scores is empty: give at least one setting")
        arrays = {name: _scores(s, f"scores[{name!r}]" if name else "scores") for name, s in named.items()}
        shape = next(iter(arrays.values())).shape
        for name, a in arrays.items():
            _require(
                a.shape == shape,
                f"every setting's scores need one shape: {name!r} is {_shape(a.shape)}, expected {_shape(shape)}",
            )
        _require(
            isinstance(d_k, int) and not isinstance(d_k, bool) and d_k >= 1,
            f"scores= needs d_k, the width of the queries and keys (a positive int), got {d_k!r}",
        )
        lo, hi = (float(t) for t in temperature_range)
        _require(
            0 < lo < hi and math.isfinite(hi), f"temperature_range must be 0 < low < high, got {temperature_range}"
        )
        _, _, L, S = shape
        if mask is not None:
            mask = torch.as_tensor(mask)
            _require(mask.dtype == torch.bool, f"mask must be bool (True = may attend), got dtype {mask.dtype}")
            _require(tuple(mask.shape) == (L, S), f"mask must be (L, S) = {_shape((L, S))}, got {_shape(mask)}")
        return {
            "mode": "scores",
            "shape": list(shape),
            "views": list(VIEWS),
            "settings": [name or "default" for name in arrays],
            "setting_label": setting_label,
            "scores": [_to_json(a) for a in arrays.values()],
            "d_k": d_k,
            "mask": None if mask is None else [int(m) for m in mask.reshape(-1).tolist()],
            "temperature_range": [lo, hi],
        }

    @traitlets.validate("temperature")
    def _valid_temperature(self, proposal: dict) -> float:
        value = proposal["value"]
        _require(math.isfinite(value) and value > 0, f"temperature must be a positive number, got {value}")
        return value

    def views(
        self, *, setting: int | None = None, temperature: float | None = None, scaled: bool | None = None
    ) -> dict[str, torch.Tensor]:
        """Scores mode: what the browser draws, computed by attnlab from the stored (rounded) scores.

        Defaults to the explorer's current setting, temperature and scaling. The scores act as queries
        against identity keys (``Q Kᵀ`` = the scores), so the weights come from
        :func:`attnlab.attention_weights` itself, masks and zero rows included.

        Shapes:
            returns {view: (layers, H, L, S)} in float64.
        """
        _require(self.data.get("mode") == "scores", "views() needs an explorer made with scores=")
        setting = self.setting if setting is None else setting
        temperature = self.temperature if temperature is None else temperature
        scaled = self.scaled if scaled is None else scaled
        _require(temperature > 0, f"temperature must be a positive number, got {temperature}")
        shape, S = self.data["shape"], self.data["shape"][-1]
        raw = torch.tensor(self.data["scores"][setting], dtype=torch.float64).reshape(shape)
        mask = self.data["mask"]
        mask = None if mask is None else torch.tensor(mask, dtype=torch.bool).reshape(shape[-2:])
        factor = (1 / math.sqrt(self.data["d_k"]) if scaled else 1.0) / temperature
        eye = torch.eye(S, dtype=torch.float64)
        return {
            "weights": attention_weights(raw, eye, mask, scale=factor),
            "scaled scores": attention_logits(raw, eye, mask, scale=factor),
            "raw scores": raw,
        }

    def recompute(self, value: float) -> None:
        """Compute a new setting in Python (needs ``compute``), add it, and show it."""
        _require(self._compute is not None, "this explorer has no compute function to call")
        data = dict(self.data)
        if data.get("mode") == "scores":
            array = _scores(self._compute(value), f"compute({value:g})")
            _require(
                list(array.shape) == data["shape"],
                f"compute({value:g}) returned scores of shape {_shape(array.shape)}, expected {_shape(data['shape'])}",
            )
            key, entry = "scores", _to_json(array)
        else:
            arrays = _setting(self._compute(value), f"compute({value:g})")
            _require(
                list(arrays) == data["views"] and list(next(iter(arrays.values())).shape) == data["shape"],
                f"compute({value:g}) returned views {list(arrays)} of another shape than the explorer's",
            )
            key, entry = "maps", [_to_json(arrays[v]) for v in data["views"]]
        settings, stored = list(data["settings"]), list(data[key])
        if len(settings) - self._given >= MAX_COMPUTED:  # forget the oldest computed setting
            del settings[self._given], stored[self._given]
        data["settings"] = [*settings, f"{self._compute_label}={value:g}"]
        data[key] = [*stored, entry]
        self.data = data
        self.setting = len(data["settings"]) - 1


class HeadGridExplorer(HeatmapExplorer):
    """Every head of one layer side by side; choose the layer and highlight a query in all of them.

    Shapes:
        maps (H, L, S) or (layers, H, L, S), or a dict from view to such maps.
    """

    def __init__(self, maps: Maps | Mapping[str, Maps] | None = None, x_labels=None, y_labels=None, **kwargs) -> None:
        super().__init__(maps, x_labels, y_labels, kind="grid", **kwargs)


_READER_KEYS = ("vocab", "max_len", "d", "head_dim", "tok", "pos", "w_q", "b_q", "w_k", "b_k")


class SentenceExplorer(_Explorer):
    """The reader types a sentence; the page runs a small model's attention head on it and draws the map.

    ``reader`` holds the head's weights as :func:`attnlab.tasks.grammar.head_weights` returns them (token
    and position embeddings, the query and key projections and their biases). compute.js's
    ``sentenceMap`` embeds the typed words, projects them and takes the scaled softmax, in the static
    book as well; words outside the vocabulary, and words beyond ``max_len``, are marked and skipped.
    :meth:`weights` is the Python twin, from the same stored weights.

    Shapes:
        reader: tok (V, d), pos (max_len, d), w_q and w_k (head_dim, d), b_q and b_k (head_dim,);
        weights() → (L, L), L = the words kept (≤ max_len).
    """

    sentence = traitlets.Unicode("").tag(sync=True)  # what the reader typed

    def __init__(self, reader: Mapping, sentence: str = "", *, title: str = "", alt: str = "") -> None:
        missing = [k for k in _READER_KEYS if k not in reader]
        _require(not missing, f"reader is missing {missing}; build it with grammar.head_weights(model)")
        d, head_dim, max_len = reader["d"], reader["head_dim"], reader["max_len"]
        expected = {
            "tok": (len(reader["vocab"]), d),
            "pos": (max_len, d),
            "w_q": (head_dim, d),
            "w_k": (head_dim, d),
            "b_q": (head_dim,),
            "b_k": (head_dim,),
        }
        for key, shape in expected.items():
            got = np.shape(reader[key])
            _require(got == shape, f"reader[{key!r}] has shape {_shape(got)}, expected {_shape(shape)}")
        data = {key: reader[key] for key in _READER_KEYS}
        data.update(
            title=title,
            alt=alt
            or title
            or "attention map of the typed sentence: rows are the words asking, columns the words looked at",
        )
        super().__init__({"reader": data, "title": title, "alt": data["alt"]}, kind="sentence", sentence=sentence)

    def words(self, sentence: str | None = None) -> tuple[list[str], list[tuple[str, str]]]:
        """The words of ``sentence`` (default: the typed one) the page reads, and those it skips, with why."""
        from ..tasks.grammar import read_words

        reader = self.data["reader"]
        return read_words(self.sentence if sentence is None else sentence, reader["vocab"], reader["max_len"])

    def weights(self, sentence: str | None = None) -> torch.Tensor | None:
        """What the page draws for ``sentence`` (default: the typed one), from the stored weights, in
        float64; None when no word is kept (the page then shows a message).

        Shapes:
            returns (L, L), L = the words kept.
        """
        kept, _ = self.words(sentence)
        if not kept:
            return None
        r = self.data["reader"]
        t = {k: torch.tensor(r[k], dtype=torch.float64) for k in ("tok", "pos", "w_q", "b_q", "w_k", "b_k")}
        ids = torch.tensor([r["vocab"].index(w) for w in kept])
        x = t["tok"][ids] + t["pos"][: len(kept)]  # (L, d)
        q, k = x @ t["w_q"].T + t["b_q"], x @ t["w_k"].T + t["b_k"]  # (L, head_dim) each
        return attention_weights(q, k, scale=1 / math.sqrt(r["head_dim"]))  # (L, L)
