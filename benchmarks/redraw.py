"""How long the page takes to recompute and redraw an explorer, in Chromium, with no kernel.

The static book computes some maps in the browser (``attnlab/widgets/compute.js``): the intro's
explorer runs the trained head on the sentence the reader types, and chapter 1's heatmap recomputes
its weights for every temperature on the slider. Here each explorer is rendered in headless Chromium
with a stand-in for the widget model (as the browser tests do), and one edit is timed from the input
event to the end of the page's layout: the event handler computes the map and rebuilds the SVG, then
reading the map's bounding box forces the browser to lay it out. Painting is left out (it happens after
the handler returns, on the next frame).

Rows: the median, 90th percentile and largest time over ``reps`` edits, after a few edits to warm up.
Without Chromium or playwright the section is empty and says why.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import torch

FULL, QUICK = 60, 5  # edits timed per explorer
SENTENCES = (
    "the big dog that ran chased a small cat",
    "a red fox that hid never pushed the quiet mouse",
    "the old child often liked a happy bird",
    "the big red dog that slept often found a small old cat that hid",
)

_HARNESS = """
<html><head><style>%(css)s</style></head><body><div id="root"></div><script type="module">
const state = %(state)s;
const handlers = {};
window.model = {
  get: (k) => state[k],
  set: (k, v) => { state[k] = v; (handlers["change:" + k] || []).forEach((f) => f()); },
  save_changes: () => {}, send: () => {},
  on: (e, f) => { (handlers[e] = handlers[e] || []).push(f); },
  off: (e, f) => { handlers[e] = (handlers[e] || []).filter((g) => g !== f); },
};
const mod = await import("data:text/javascript;base64,%(esm)s");
mod.default.render({ model: window.model, el: document.getElementById("root") });
window.ready = true;
</script></body></html>
"""

# Set the input's value, fire its input event, force layout; values cycle through `values`.
_TIME = """([selector, values, reps, warm]) => {
  const input = document.querySelector(selector);
  const times = [];
  for (let i = 0; i < reps + warm; i++) {
    const t0 = performance.now();
    input.value = values[i % values.length];
    input.dispatchEvent(new Event("input", { bubbles: true }));
    document.querySelector("#root svg").getBoundingClientRect();
    if (i >= warm) times.push(performance.now() - t0);
  }
  return times;
}"""


def _widgets() -> dict[str, tuple[object, str, list[str]]]:
    """The explorers timed: (widget, selector of the input the reader edits, values it takes)."""
    from attnlab.tasks import grammar
    from attnlab.widgets import HeatmapExplorer, SentenceExplorer

    torch.manual_seed(0)
    reader = grammar.Reader()  # the page runs whatever weights it carries: untrained ones cost the same
    sentence = SentenceExplorer(grammar.head_weights(reader), SENTENCES[0], title="redraw")
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(12, 32, generator=g), torch.randn(12, 32, generator=g)  # chapter 1's size
    heat = HeatmapExplorer(scores=q @ k.T, x_labels=[f"t{i}" for i in range(12)], d_k=32, title="redraw")
    ticks = [str(v) for v in range(-80, 81, 7)]  # slider positions (20 per doubling of τ)
    return {
        "intro: typed sentence": (sentence, "#root input[type=text]", list(SENTENCES)),
        "chapter 1: temperature slider": (heat, "#root input[type=range]", ticks),
    }


def redraw_rows(reps: int = FULL, warm: int = 5) -> list[dict]:
    """Per explorer: median, p90 and max milliseconds from an edit to the laid-out map, in Chromium."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return [{"explorer": "(none)", "error": "the playwright package is not installed"}]
    if chromium is None:
        return [{"explorer": "(none)", "error": "no Chromium on PATH"}]
    from attnlab.widgets._base import esm

    css = (Path(__file__).resolve().parent.parent / "attnlab" / "widgets" / "explorer.css").read_text()
    module = base64.b64encode(esm().encode()).decode()
    rows = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            for name, (widget, selector, values) in _widgets().items():
                names = ("kind", "data", "setting", "view", "query", "temperature", "scaled", "sentence")
                state = json.dumps({n: getattr(widget, n) for n in names if widget.has_trait(n)})
                page = browser.new_page()
                page.set_content(_HARNESS % {"css": css, "state": state, "esm": module})
                page.wait_for_function("window.ready === true")
                times = sorted(page.evaluate(_TIME, [selector, values, reps, warm]))
                page.close()
                rows.append(
                    {
                        "explorer": name,
                        "median_ms": times[len(times) // 2],
                        "p90_ms": times[min(len(times) - 1, int(0.9 * len(times)))],
                        "max_ms": times[-1],
                        "reps": reps,
                    }
                )
        finally:
            browser.close()
    return rows
