"""How long an explorer takes, in a Jupyter kernel, to answer a reader who asks for a new value.

The front end sends ``{"type": "compute", "value": x}``; the explorer's message handler calls its
``compute`` function, turns the maps into the synced state (rounded JSON lists) and sets it, which sends
the new state over the kernel's comm. The time from the message arriving to the handler returning is
the Python side of a redraw. It is measured inside a real kernel (started by nbclient) so that the
comm, and the serialisation of the state it sends, are the real ones.

The kernel runs one torch thread, as the chapters set it. Each repetition uses a fresh explorer, since
every recompute adds a setting and the state grows; the time after ``GROWN`` recomputes on one explorer
is recorded beside it.
"""

from __future__ import annotations

import json

import nbformat
from nbclient import NotebookClient

GROWN = 20

# Heatmap: one head over 32 tokens. Grid: 12 heads over 50 tokens (ViT-B/32's 7×7 patches and a class
# token). compute(value) is a temperature, as in chapter 1: three views of q/τ against k.
FULL = {"heatmap_tokens": 32, "grid_heads": 12, "grid_tokens": 50, "width": 64, "reps": 15}
QUICK = {"heatmap_tokens": 4, "grid_heads": 2, "grid_tokens": 4, "width": 8, "reps": 2}

_CELL = """
import json, statistics, time
import torch
from attnlab.widgets import HeadGridExplorer, HeatmapExplorer, qk_views
torch.set_num_threads({threads})
g = torch.Generator().manual_seed(0)

def maker(cls, heads, tokens):
    q, k = torch.randn(heads, tokens, {width}, generator=g), torch.randn(heads, tokens, {width}, generator=g)
    compute = lambda t: qk_views(q / t, k)  # (H, L, S) each
    labels = [f"t{{i}}" for i in range(tokens)]
    return lambda: cls(None, labels, settings={{"τ = 1": compute(1.0)}}, setting_label="τ", compute=compute)

def handle(explorer, value):
    time.sleep(0.1)  # let the kernel finish sending what came before (a reader does not click that fast)
    before = explorer.data["settings"]
    start = time.perf_counter()
    explorer._on_msg(explorer, {{"type": "compute", "value": value}}, [])
    seconds = time.perf_counter() - start
    after = explorer.data["settings"]
    assert after[-1] not in before and after[-1] == after[explorer.setting], "the computed setting is not shown"
    return seconds

result = {{}}
for name, make in [("heatmap", maker(HeatmapExplorer, 1, {heatmap_tokens})),
                   ("grid", maker(HeadGridExplorer, {grid_heads}, {grid_tokens}))]:
    handle(make(), 0.5)  # warm-up
    fresh = [handle(make(), 0.5 + i / 100) for i in range({reps})]
    grown = make()
    for i in range({grown}):
        handle(grown, 2 + i / 100)
    result[name] = {{"fresh_ms": [s * 1e3 for s in fresh], "grown_ms": handle(grown, 9.0) * 1e3}}
print(json.dumps(result))
"""


def explorer_rows(config: dict, threads: int) -> list[dict]:
    """Median redraw latency of a one-head heatmap and a head grid, measured in a kernel."""
    source = _CELL.format(threads=threads, grown=GROWN, **config)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    NotebookClient(nb, timeout=600, kernel_name="python3").execute()
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs if o.get("output_type") == "stream")
    result = json.loads(text.strip().splitlines()[-1])
    shapes = {
        "heatmap": (1, config["heatmap_tokens"]),
        "grid": (config["grid_heads"], config["grid_tokens"]),
    }
    rows = []
    for name, r in result.items():
        fresh = sorted(r["fresh_ms"])
        heads, tokens = shapes[name]
        rows.append(
            {
                "explorer": name,
                "heads": heads,
                "tokens": tokens,
                "views": 3,
                "median_ms": fresh[len(fresh) // 2],
                "max_ms": fresh[-1],
                "reps": len(fresh),
                f"after_{GROWN}_recomputes_ms": r["grown_ms"],
            }
        )
    return rows
