"""Explorers: interactive attention figures that keep working in the static HTML book.

Each explorer carries its maps in the widget state and draws them in the browser, so choosing a head,
a query, a frame or a precomputed setting needs no kernel; with a kernel, ``compute`` recomputes any
value in Python. :class:`MaskEditor` lets the reader edit a mask and recomputes the weights in
the page. A heatmap made with ``scores=`` carries only the raw scores ``Q Kᵀ``, and the page
computes the weights itself (compute.js) for any temperature, with or without the 1/√d_k scaling.
:class:`SentenceExplorer` runs a small trained reader's head on a sentence the reader types, in the page.
Needs ``anywidget`` (``pip install attnlab[book]``).
"""

from .explorers import HeadGridExplorer, HeatmapExplorer, SentenceExplorer, qk_views
from .frames import FrameExplorer
from .masks import MaskEditor

__all__ = ["FrameExplorer", "HeadGridExplorer", "HeatmapExplorer", "MaskEditor", "SentenceExplorer", "qk_views"]
