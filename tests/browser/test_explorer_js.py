"""The explorers' front end, in Chromium, with no widget manager and no kernel.

A stand-in for the anywidget model (get/set/on/off/save_changes/send) carries the state that the
Python explorer builds; the test clicks and chooses as a reader would and checks what is drawn.
The built book's pages are tested with the real widget manager in test_offline_pages.py.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from .browser import chromium_page

pytest.importorskip("anywidget")
from attnlab.widgets import FrameExplorer, HeadGridExplorer, HeatmapExplorer, qk_views
from attnlab.widgets._base import esm

WIDGETS = Path(__file__).resolve().parents[2] / "attnlab" / "widgets"
ESM = esm().encode()  # explorer.js with compute.js inlined: the module the book ships
CSS = (WIDGETS / "explorer.css").read_text()

HARNESS = """
<html><head><style>%(css)s</style></head><body><div id="root"></div><script type="module">
const state = %(state)s;
const handlers = {};
const sent = [];
window.model = {
  get: (k) => state[k],
  set: (k, v) => { state[k] = v; (handlers["change:" + k] || []).forEach((f) => f()); },
  save_changes: () => {},
  on: (e, f) => { (handlers[e] = handlers[e] || []).push(f); },
  off: (e, f) => { handlers[e] = (handlers[e] || []).filter((g) => g !== f); },
  send: (m) => {
    sent.push(m);  // a live kernel answers hello; a static page never does
    const answer = {type: "live", label: "temperature"};
    if (%(live)s && m.type === "hello") (handlers["msg:custom"] || []).forEach((f) => f(answer));
  },
};
window.sent = sent;
const mod = await import("data:text/javascript;base64,%(esm)s");
mod.default.render({ model: window.model, el: document.getElementById("root") });
window.ready = true;
</script></body></html>
"""


def open_explorer(page, widget, live=False):
    names = ("kind", "data", "setting", "view", "layer", "head", "query", "temperature", "scaled")
    names += ("cells", "causal", "padding", "mask")  # the mask editor's
    state = json.dumps({n: getattr(widget, n) for n in names if widget.has_trait(n)})
    html = HARNESS % {
        "css": CSS,
        "state": state,
        "esm": base64.b64encode(ESM).decode(),
        "live": "true" if live else "false",
    }
    page.set_content(html)
    page.wait_for_function("window.ready === true")
    return page.locator("#root")


def fills(page, selector="#root rect[data-row]"):
    return page.eval_on_selector_all(selector, "rs => rs.map(r => r.getAttribute('fill'))")


WORDS = ["the", "cat", "sat", "on", "the", "mat"]


@pytest.fixture(scope="module")
def page():
    with chromium_page() as p:
        yield p


def heatmap_explorer():
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(6, 8, generator=g), torch.randn(6, 8, generator=g)
    settings = {f"τ={t}": qk_views(q / t, k) for t in (0.5, 1.0, 2.0)}
    return HeatmapExplorer(
        None, WORDS, settings=settings, setting_label="temperature", compute=lambda t: qk_views(q / t, k)
    )


def test_heatmap_draws_every_cell_and_a_query_row(page):
    root = open_explorer(page, heatmap_explorer())
    assert root.locator("rect[data-row]").count() == 36
    assert all(f and f.startswith("#") for f in fills(page))
    assert root.locator(".attnlab-bar").count() == 0
    root.locator("rect[data-row='2'][data-col='0']").click()
    assert page.evaluate("window.model.get('query')") == 2
    assert root.locator(".attnlab-query").get_attribute("visibility") == "visible"
    assert root.locator(".attnlab-bar").count() == 6
    assert "sat" in root.locator(".attnlab-hint").inner_text()


def test_the_map_chooses_its_query_from_the_keyboard(page):
    root = open_explorer(page, heatmap_explorer())
    query = "window.model.get('query')"
    page.keyboard.press("Tab")  # the first control, then on to the map
    svg = root.locator("svg.attnlab-map[tabindex='0']")
    assert svg.count() == 1 and "arrows" in svg.locator("desc").text_content()
    svg.focus()
    assert svg.evaluate("s => s.style.outline") != ""  # a visible focus
    page.keyboard.press("ArrowDown")
    assert page.evaluate(query) == 0 and root.locator(".attnlab-bar").count() == 6
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert page.evaluate(query) == 2
    page.keyboard.press("ArrowUp")
    assert page.evaluate(query) == 1
    page.keyboard.press("End")
    assert page.evaluate(query) == 5
    page.keyboard.press("ArrowDown")  # the last row stays
    assert page.evaluate(query) == 5
    page.keyboard.press("Escape")
    assert page.evaluate(query) == -1 and root.locator(".attnlab-bar").count() == 0
    svg.blur()
    assert svg.evaluate("s => s.style.outline") == ""


def test_heatmap_view_and_setting_redraw_in_the_browser(page):
    root = open_explorer(page, heatmap_explorer())
    before = fills(page)
    root.locator("select[aria-label='show']").select_option(label="raw scores")
    raw = fills(page)
    assert raw != before
    root.locator("select[aria-label='temperature']").select_option(label="τ=2.0")
    assert fills(page) == raw  # raw scores do not depend on the temperature
    root.locator("select[aria-label='show']").select_option(label="weights")
    assert fills(page) != before  # a higher temperature flattens the weights
    assert page.evaluate("window.model.get('setting')") == 2


def test_live_input_appears_only_when_a_kernel_answers(page):
    root = open_explorer(page, heatmap_explorer(), live=False)
    assert root.locator(".attnlab-live").is_hidden()
    assert page.evaluate("window.sent") == [{"type": "hello"}]
    root = open_explorer(page, heatmap_explorer(), live=True)
    assert root.locator(".attnlab-live").is_visible()
    root.locator(".attnlab-live input").fill("3")
    root.locator(".attnlab-live input").dispatch_event("change")
    assert page.evaluate("window.sent")[-1] == {"type": "compute", "value": 3}


def test_head_grid_draws_every_head_and_follows_the_layer_and_the_chosen_head(page):
    maps = torch.softmax(torch.randn(2, 4, 6, 6, generator=torch.Generator().manual_seed(1)), -1)
    root = open_explorer(page, HeadGridExplorer(maps, WORDS))
    assert root.locator(".attnlab-grid .attnlab-panel").count() == 4
    assert root.locator(".attnlab-chosen").get_attribute("data-head") == "0"
    detail = "#root .attnlab-detail rect[data-row]"
    before, detail_before = fills(page), fills(page, detail)
    root.locator("select[aria-label='layer']").select_option("1")
    assert fills(page) != before
    root.locator(".attnlab-grid .attnlab-panel").nth(3).locator("rect[data-row='4'][data-col='1']").click()
    assert page.evaluate("[window.model.get('head'), window.model.get('query')]") == [3, 4]
    assert root.locator(".attnlab-chosen").get_attribute("data-head") == "3"
    assert fills(page, detail) != detail_before  # the large map now shows head 3
    assert root.locator(".attnlab-query[visibility='visible']").count() == 5  # four panels and the large map
    assert root.locator(".attnlab-bar").count() == 6
    root.locator("select[aria-label='head']").select_option("2")
    assert root.locator(".attnlab-chosen").get_attribute("data-head") == "2"


def test_masked_entries_are_drawn_grey(page):
    weights = torch.tensor([[1.0, float("-inf")], [0.3, 0.7]])
    open_explorer(page, HeatmapExplorer({"scaled scores": weights}, ["a", "b"]))
    assert fills(page)[1] == "#bbbbbb"


def test_frame_explorer_selects_a_frame_and_shows_its_patches(page):
    g = torch.Generator().manual_seed(2)
    frames = torch.rand(8, 16, 16, 3, generator=g)
    explorer = FrameExplorer(
        frames,
        torch.softmax(torch.randn(2, 8, 8, generator=g), -1),
        torch.softmax(torch.randn(2, 8, 16, generator=g), -1),
        grid=(4, 4),
    )
    root = open_explorer(page, explorer)
    assert root.locator("canvas").count() == 8
    assert root.locator(".attnlab-selected").count() == 0
    root.locator(".attnlab-frame").nth(5).click()
    assert root.locator(".attnlab-selected").get_attribute("data-frame") == "5"
    colours = (
        root.locator(".attnlab-frame")
        .nth(5)
        .locator(".attnlab-overlay div")
        .evaluate_all("ds => ds.map(d => d.style.background)")
    )
    assert len(colours) == 16 and all(c not in ("", "transparent") for c in colours)
    before = fills(page)
    root.locator("select[aria-label='head']").select_option("1")
    assert fills(page) != before


def test_hovering_a_cell_names_the_pair_and_its_value(page):
    root = open_explorer(page, HeatmapExplorer(torch.tensor([[0.25, 0.75], [1.0, 0.0]]), ["a", "b"]))
    cell = root.locator("rect[data-row='0'][data-col='1']")
    cell.hover()
    assert cell.locator("title").text_content() == "a → b: 0.750"


def overlay_colours(root, frame: int) -> list[str]:
    cells = root.locator(".attnlab-frame").nth(frame).locator(".attnlab-overlay div")
    return cells.evaluate_all("ds => ds.map(d => d.style.background)")


def thumbnail_pixels(page) -> list[int]:
    return page.evaluate(
        "[...document.querySelectorAll('#root canvas')].map(c => c.getContext('2d').getImageData(0, 0, 1, 1).data[0])"
    )


def test_frame_explorer_switches_video_layer_and_patch_source(page):
    g = torch.Generator().manual_seed(4)
    frames = torch.rand(3, 4, 6, 6, 3, generator=g)
    fmaps = torch.softmax(torch.randn(3, 2, 2, 4, 4, generator=g), -1)
    sources = {name: torch.softmax(torch.randn(3, 2, 2, 4, 4, generator=g), -1) for name in ("class", "message")}
    explorer = FrameExplorer(frames, fmaps, sources, grid=(2, 2), video_labels=["a", "b", "c"], compute=lambda s: {})
    root = open_explorer(page, explorer, live=True)
    assert root.locator(".attnlab-live").is_visible()  # a kernel: a new video can be generated
    labels = root.locator("select").evaluate_all("ss => ss.map(s => s.getAttribute('aria-label'))")
    assert labels == ["video", "layer", "head", "patches seen from"]
    root.locator(".attnlab-frame").nth(2).click()
    seen = {"start": (fills(page), overlay_colours(root, 2), thumbnail_pixels(page))}
    for label, option in (("video", "2"), ("layer", "1"), ("head", "1"), ("patches seen from", "1")):
        root.locator(f"select[aria-label='{label}']").select_option(option)
        seen[label] = (fills(page), overlay_colours(root, 2), thumbnail_pixels(page))
    assert seen["video"][2] != seen["start"][2]  # new thumbnails
    assert seen["video"][0] != seen["start"][0] and seen["layer"][0] != seen["video"][0]
    assert seen["head"][0] != seen["layer"][0]
    assert seen["patches seen from"][0] == seen["head"][0]  # same frame map, other token's view of the patches
    assert seen["patches seen from"][1] != seen["head"][1]
    assert root.get_attribute("data-drawn") == "2/1/1/1/2"
    assert not root.get_attribute("data-error")


# ----------------------------------------------------------------------------------------------------
# Scores mode: the state carries Q Kᵀ once and the page computes the views (compute.js)


def drawn(page) -> np.ndarray:
    """The values of the large map as drawn, at full precision."""
    return np.array(page.eval_on_selector("#root .attnlab-detail svg", "s => Array.from(s.attnlabValues)"))


def assert_drawn_equals_pytorch(page, explorer, layer=0, head=0):
    """What the page draws equals attnlab's computation from the same stored scores, to 1e-6."""
    names = "['temperature', 'scaled', 'view', 'setting']"
    state = page.evaluate(f"{names}.map((n) => window.model.get(n))")
    temperature, scaled, view, setting = state
    expected = explorer.views(setting=setting, temperature=temperature, scaled=scaled)[view][layer, head]
    got = drawn(page)
    np.testing.assert_allclose(got, expected.reshape(-1).numpy(), rtol=0, atol=1e-6, err_msg=f"{state}")
    return got


def scores_explorer(seed=0, L=6, E=8, **kwargs):
    g = torch.Generator().manual_seed(seed)
    q, k = torch.randn(L, E, generator=g) * 2, torch.randn(L, E, generator=g) * 2
    return HeatmapExplorer(scores=q @ k.T, x_labels=WORDS[:L], d_k=E, **kwargs)


def slider(root):
    return root.locator("input[type='range'][aria-label='temperature']")


def test_scores_mode_draws_pytorchs_weights_and_shows_the_temperature(page):
    explorer = scores_explorer()
    root = open_explorer(page, explorer)
    assert root.locator("rect[data-row]").count() == 36
    assert slider(root).count() == 1 and root.locator("select[aria-label='temperature']").count() == 0
    assert root.locator(".attnlab-temperature output").inner_text() == "τ = 1"
    assert slider(root).get_attribute("aria-valuetext") == "τ = 1"
    assert root.locator(".attnlab-temperature").inner_text().startswith("temperature")  # a visible label
    weights = assert_drawn_equals_pytorch(page, explorer)
    assert np.allclose(weights.reshape(6, 6).sum(1), 1)
    assert not root.get_attribute("data-error")


def test_the_temperature_slider_works_from_the_keyboard(page):
    explorer = scores_explorer(1)
    root = open_explorer(page, explorer)
    first = drawn(page)
    slider(root).focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("window.model.get('temperature')") == pytest.approx(2 ** (1 / 20))
    assert not np.allclose(drawn(page), first)
    assert_drawn_equals_pytorch(page, explorer)
    page.keyboard.press("Home")
    assert page.evaluate("window.model.get('temperature')") == 1 / 16
    assert root.locator(".attnlab-temperature output").inner_text() == "τ = 0.0625"
    sharp = assert_drawn_equals_pytorch(page, explorer)
    page.keyboard.press("End")
    assert page.evaluate("window.model.get('temperature')") == 16
    flat = assert_drawn_equals_pytorch(page, explorer)
    assert sharp.reshape(6, 6).max(1).min() > flat.reshape(6, 6).max(1).max()  # low τ sharpens every row
    assert slider(root).get_attribute("aria-valuetext") == "τ = 16"


def test_dragging_the_slider_recomputes(page):
    explorer = scores_explorer(2)
    root = open_explorer(page, explorer)
    box = slider(root).bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)  # the thumb sits in the middle: τ = 1
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.8, y, steps=5)
    page.mouse.up()
    temperature = page.evaluate("window.model.get('temperature')")
    assert 2 < temperature < 16
    assert root.locator(".attnlab-temperature output").inner_text() == f"τ = {float(f'{temperature:.3g}'):g}"
    assert_drawn_equals_pytorch(page, explorer)


def test_scaling_and_views_switch_in_the_page(page):
    explorer = scores_explorer(3, temperature=0.5)
    root = open_explorer(page, explorer)
    assert root.locator(".attnlab-temperature output").inner_text() == "τ = 0.5"
    scaled = assert_drawn_equals_pytorch(page, explorer)
    box = root.get_by_label("scale by 1/√d_k (d_k = 8)")
    assert box.is_checked()
    box.click()
    assert page.evaluate("window.model.get('scaled')") is False
    unscaled = assert_drawn_equals_pytorch(page, explorer)
    assert unscaled.reshape(6, 6).max(1).mean() > scaled.reshape(6, 6).max(1).mean()  # √8 times the logits
    root.locator("select[aria-label='show']").select_option(label="scaled scores")
    assert_drawn_equals_pytorch(page, explorer)
    root.locator("select[aria-label='show']").select_option(label="raw scores")
    raw = assert_drawn_equals_pytorch(page, explorer)
    slider(root).focus()
    page.keyboard.press("End")
    box.click()
    assert np.array_equal(drawn(page), raw)  # raw scores depend on neither
    assert root.get_attribute("data-drawn").endswith("/16/scaled")


def test_scores_mode_masks_as_attnlab_does(page):
    mask = torch.ones(6, 6, dtype=torch.bool).tril()
    mask[2] = False  # a query that may attend to nothing
    explorer = scores_explorer(4, mask=mask)
    root = open_explorer(page, explorer)
    weights = assert_drawn_equals_pytorch(page, explorer).reshape(6, 6)
    assert (weights[2] == 0).all() and (weights[~mask.numpy()] == 0).all()
    root.locator("select[aria-label='show']").select_option(label="scaled scores")
    assert fills(page, "#root .attnlab-detail rect[data-row]").count("#bbbbbb") == int((~mask).sum())
    root.locator("rect[data-row='2'][data-col='0']").click()
    assert root.locator(".attnlab-bar-value").all_inner_texts() == ["–"] * 6


def test_scores_mode_grid_computes_every_head_and_setting(page):
    g = torch.Generator().manual_seed(5)
    scores = {name: torch.randn(2, 3, 5, 5, generator=g) * 3 for name in ("untrained", "trained")}
    explorer = HeadGridExplorer(scores=scores, x_labels=WORDS[:5], d_k=4, setting_label="training")
    root = open_explorer(page, explorer)
    assert root.locator(".attnlab-grid .attnlab-panel").count() == 3
    root.locator("select[aria-label='training']").select_option(label="trained")
    root.locator("select[aria-label='layer']").select_option("1")
    root.locator(".attnlab-grid .attnlab-panel").nth(2).click()
    slider(root).focus()
    page.keyboard.press("ArrowLeft")
    assert page.evaluate("[window.model.get('setting'), window.model.get('layer'), window.model.get('head')]") == [
        1,
        1,
        2,
    ]
    assert_drawn_equals_pytorch(page, explorer, layer=1, head=2)


def test_scores_mode_keeps_the_kernel_path(page):
    explorer = scores_explorer(6, compute=lambda seed: scores_explorer(int(seed)).views()["raw scores"])
    root = open_explorer(page, explorer, live=True)
    assert root.locator(".attnlab-live").is_visible()
    root.locator(".attnlab-live input").fill("7")
    root.locator(".attnlab-live input").dispatch_event("change")
    assert page.evaluate("window.sent")[-1] == {"type": "compute", "value": 7}
