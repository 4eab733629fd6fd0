"""The mask editor: the reader masks query–key pairs and the page recomputes the weights.

The state carries the raw scores ``Q Kᵀ`` once. The reader clicks cells (or moves with the arrow keys
and presses Space), toggles the causal mask and sets how many keys are real (the rest are padding);
compute.js recomputes the weights in the page with attnlab's rules, a query with nothing visible
getting all-zero weights, and shows the same mask in ``nn.MultiheadAttention``'s and Hugging Face's
conventions. :meth:`MaskEditor.weights` is the Python twin, computed by :func:`attnlab.attention_weights`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import traitlets

from ..errors import _require, _shape
from ..functional import attention_weights
from ..masks import bool_to_additive, causal_mask, combine_masks, padding_mask, to_mha_mask
from ._base import Maps, _as_array, _check_labels, _Explorer

__all__ = ["MaskEditor"]

DECIMALS = 6  # the scores travel to 6 decimals: the page's weights stay within ~1e-6 of attnlab's


class MaskEditor(_Explorer):
    """An L × S grid of query–key pairs to mask or unmask, with the weights recomputed in the page.

    The mask applied is the reader's own ``cells`` (True = may attend), and the causal mask when
    ``causal``, and the padding mask of the first ``padding`` keys (attnlab's ``combine_masks`` of the
    three); ``mask`` holds it, flat, and follows every edit, in the page and in Python. A second panel
    shows it as ``nn.MultiheadAttention``'s ``attn_mask`` (True = blocked, and the additive -inf float
    mask) and as Hugging Face's per-key ``attention_mask`` (1 = keep) when one exists.

    Shapes:
        scores (L, S), finite; mask (L, S) bool, True = may attend (the initial cells);
        x_labels S strings (keys), y_labels L strings (queries, default x_labels).
    """

    cells = traitlets.List(traitlets.Bool()).tag(sync=True)  # the reader's cells, flat (L·S), True = may attend
    causal = traitlets.Bool(False).tag(sync=True)
    padding = traitlets.Int(0).tag(sync=True)  # the number of real keys: keys padding.. are padding
    mask = traitlets.List(traitlets.Bool()).tag(sync=True)  # the mask applied, flat (L·S), True = may attend

    def __init__(
        self,
        scores: Maps,
        d_k: int,
        x_labels: Sequence[str] | None = None,
        y_labels: Sequence[str] | None = None,
        *,
        mask: Maps | None = None,
        causal: bool = False,
        padding: int | None = None,
        title: str = "",
        alt: str = "",
    ) -> None:
        array = _as_array(scores, "scores")
        _require(array.ndim == 2, f"scores must be (L, S), got shape {_shape(array.shape)}")
        _require(
            bool(np.isfinite(array).all()), "scores must be finite; give masked pairs as mask= (True = may attend)"
        )
        _require(
            isinstance(d_k, int) and not isinstance(d_k, bool) and d_k >= 1,
            f"d_k, the width of the queries and keys, must be a positive int, got {d_k!r}",
        )
        L, S = array.shape
        if mask is None:
            cells = [True] * (L * S)
        else:
            mask = torch.as_tensor(mask)
            _require(mask.dtype == torch.bool, f"mask must be bool (True = may attend), got dtype {mask.dtype}")
            _require(tuple(mask.shape) == (L, S), f"mask must be (L, S) = {_shape((L, S))}, got {_shape(mask)}")
            cells = [bool(m) for m in mask.reshape(-1).tolist()]
        x_labels = _check_labels(x_labels, S, "key")
        y_labels = _check_labels(y_labels if y_labels is not None else (x_labels if L == S else None), L, "query")
        data = {
            "mode": "mask",
            "shape": [1, 1, L, S],
            "scores": [float(v) + 0.0 for v in np.round(array.reshape(-1), DECIMALS).tolist()],
            "d_k": d_k,
            "x_labels": x_labels,
            "y_labels": y_labels,
            "title": title,
            "alt": alt or title or "mask editor: rows are queries, columns are keys; a cell toggles its pair",
        }
        padding = S if padding is None else padding
        super().__init__(data, kind="mask", cells=cells, causal=bool(causal), padding=padding)
        self._update_mask()

    @traitlets.validate("cells")
    def _valid_cells(self, proposal: dict) -> list[bool]:
        _, _, L, S = self.data["shape"]
        value = proposal["value"]
        _require(len(value) == L * S, f"cells must hold L·S = {L * S} entries, got {len(value)}")
        return value

    @traitlets.validate("padding")
    def _valid_padding(self, proposal: dict) -> int:
        S, value = self.data["shape"][-1], proposal["value"]
        _require(0 <= value <= S, f"padding (the number of real keys) must be in 0..{S}, got {value}")
        return value

    @traitlets.observe("cells", "causal", "padding")
    def _update_mask(self, _change: Any = None) -> None:
        self.mask = self.allowed().reshape(-1).tolist()

    def allowed(self) -> torch.Tensor:
        """The mask applied, in attnlab's convention (True = may attend): cells, causal and padding.

        Shapes:
            returns (L, S) bool.
        """
        _, _, L, S = self.data["shape"]
        parts = [torch.tensor(self.cells, dtype=torch.bool).reshape(L, S), padding_mask([self.padding], S)]
        if self.causal:
            parts.append(causal_mask(L, S))
        return combine_masks(*parts).reshape(L, S)

    def weights(self, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The Python twin of the page: attnlab's weights from the stored scores, under ``mask``
        (default: the editor's own, :meth:`allowed`). A query with nothing visible gets zeros.

        The scores act as queries against identity keys (``Q Kᵀ`` = the scores), scaled by 1/√d_k.

        Shapes:
            mask (L, S) bool, True = may attend → returns (L, S) float64.
        """
        _, _, L, S = self.data["shape"]
        mask = self.allowed() if mask is None else torch.as_tensor(mask)
        _require(mask.dtype == torch.bool, f"mask must be bool (True = may attend), got dtype {mask.dtype}")
        _require(tuple(mask.shape) == (L, S), f"mask must be (L, S) = {_shape((L, S))}, got {_shape(mask)}")
        raw = torch.tensor(self.data["scores"], dtype=torch.float64).reshape(L, S)
        eye = torch.eye(S, dtype=torch.float64)
        return attention_weights(raw, eye, mask, scale=1 / math.sqrt(self.data["d_k"]))

    def conventions(self) -> dict[str, torch.Tensor | None]:
        """The editor's mask as the other libraries take it, as the second panel shows it.

        ``"attn_mask"``: ``nn.MultiheadAttention``'s boolean mask (True = blocked); ``"additive"``: the
        float mask (0 keeps a pair, -inf removes it); ``"attention_mask"``: Hugging Face's per-key 0/1
        mask (1 = keep), or None when the rows differ and no per-key mask expresses it.

        Shapes:
            "attn_mask" and "additive" (L, S); "attention_mask" (1, S) int64, or None.
        """
        allowed = self.allowed()
        per_key = bool((allowed == allowed[:1]).all())
        return {
            "attn_mask": to_mha_mask(allowed),
            "additive": bool_to_additive(allowed, torch.float64),
            "attention_mask": allowed[:1].long() if per_key else None,
        }
