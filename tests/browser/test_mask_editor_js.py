"""Chapter 3's mask editor in Chromium, with no kernel: clicks, keys, causal, padding, and the conventions.

The page recomputes the weights (compute.js) from the scores carried once in the state; every check
compares them with attnlab's, computed by the editor's Python twin, to 1e-6.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from .browser import chromium_page
from .test_explorer_js import open_explorer

pytest.importorskip("anywidget")
from attnlab import attention_weights
from attnlab.widgets import MaskEditor

WORDS = ["a", "cat", "sat", "on", "the", "mat"]
L = len(WORDS)


@pytest.fixture(scope="module")
def page():
    with chromium_page() as p:
        yield p


def qk(seed: int = 0, E: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(L, E, generator=g, dtype=torch.float64), torch.randn(L, E, generator=g, dtype=torch.float64)


def editor(seed: int = 0, **kwargs) -> MaskEditor:
    q, k = qk(seed)
    return MaskEditor(q @ k.T, 8, WORDS, **kwargs)


def page_state(page) -> dict:
    return page.evaluate(
        "Object.fromEntries(['cells', 'causal', 'padding', 'mask'].map((n) => [n, window.model.get(n)]))"
    )


def drawn(page) -> np.ndarray:
    return np.array(page.eval_on_selector("#root table.attnlab-mask-grid", "t => Array.from(t.attnlabValues)"))


def assert_drawn_equals_attnlab(page, widget: MaskEditor) -> np.ndarray:
    """The page's mask is the Python editor's for the same edits, and its weights are attnlab's to 1e-6."""
    state = page_state(page)
    widget.cells, widget.causal, widget.padding = state["cells"], state["causal"], state["padding"]
    assert state["mask"] == widget.mask, "the mask synced from the page differs from Python's"
    got = drawn(page)
    np.testing.assert_allclose(got, widget.weights().reshape(-1).numpy(), rtol=0, atol=1e-6)
    return got.reshape(L, L)


def cell(root, i: int, j: int):
    return root.locator(f"button[data-row='{i}'][data-col='{j}']")


def conventions(page) -> dict:
    return page.eval_on_selector("#root .attnlab-conventions", "p => p.attnlabConventions")


def test_opens_with_every_pair_visible_and_attnlabs_weights(page):
    widget = editor()
    root = open_explorer(page, widget)
    assert root.locator("button.attnlab-cell").count() == L * L
    weights = assert_drawn_equals_attnlab(page, widget)
    q, k = qk()
    np.testing.assert_allclose(weights, attention_weights(q, k).numpy(), rtol=0, atol=1e-6)  # the true q, k
    assert root.locator(".attnlab-hf").inner_text() == "attention_mask = [[1, 1, 1, 1, 1, 1]]"
    assert root.locator(".attnlab-mha").inner_text().count("True") == 0
    assert root.locator(".attnlab-empty").inner_text() == ""
    assert not root.get_attribute("data-error")


def test_a_click_masks_and_unmasks_a_pair(page):
    widget = editor(1)
    root = open_explorer(page, widget)
    cell(root, 2, 3).click()
    assert page_state(page)["cells"][2 * L + 3] is False
    weights = assert_drawn_equals_attnlab(page, widget)
    assert weights[2, 3] == 0 and np.isclose(weights[2].sum(), 1)
    assert cell(root, 2, 3).inner_text() == "×" and cell(root, 2, 3).get_attribute("aria-pressed") == "true"
    assert "masked" in root.locator(".attnlab-status").inner_text()
    assert "No per-key attention_mask" in root.locator(".attnlab-hf").inner_text()  # one row differs
    assert conventions(page)["attention_mask"] is None
    cell(root, 2, 3).click()
    assert page_state(page)["cells"][2 * L + 3] is True
    assert_drawn_equals_attnlab(page, widget)


def test_the_keyboard_reaches_moves_and_toggles_with_visible_focus(page):
    widget = editor(2)
    root = open_explorer(page, widget)
    root.locator("button.attnlab-reset").focus()
    page.keyboard.press("Tab")  # from the last control into the grid, on its first cell
    focused = "[document.activeElement.dataset.row, document.activeElement.dataset.col]"
    assert page.evaluate(focused) == ["0", "0"]
    assert page.evaluate("document.activeElement.style.outline") != ""  # a visible focus ring
    for key in ("ArrowRight", "ArrowRight", "ArrowDown", "ArrowLeft", "ArrowUp", "ArrowUp"):
        page.keyboard.press(key)
    assert page.evaluate(focused) == ["0", "1"]  # moved, and clamped at the top edge
    page.keyboard.press("Space")
    assert page_state(page)["cells"][1] is False
    assert_drawn_equals_attnlab(page, widget)
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    assert page.evaluate(focused) == ["0", "5"] and page_state(page)["cells"][5] is False
    page.keyboard.press("Enter")
    assert page_state(page)["cells"][5] is True
    assert_drawn_equals_attnlab(page, widget)
    assert root.locator("button.attnlab-cell[tabindex='0']").count() == 1  # one tab stop for the grid


def test_causal_and_padding_recompute_and_show_the_conventions(page):
    widget = editor(3)
    root = open_explorer(page, widget)
    root.get_by_label("causal (query i sees keys 0..i)").check()
    weights = assert_drawn_equals_attnlab(page, widget)
    assert (np.triu(weights, 1) == 0).all()
    assert "A Hugging Face decoder adds the causal part itself" in root.locator(".attnlab-hf").inner_text()
    assert "[[1, 1, 1, 1, 1, 1]]" in root.locator(".attnlab-hf").inner_text()
    root.locator(".attnlab-padding input").fill("4")
    assert page_state(page)["padding"] == 4
    weights = assert_drawn_equals_attnlab(page, widget)
    assert (weights[:, 4:] == 0).all()
    assert "[[1, 1, 1, 1, 0, 0]]" in root.locator(".attnlab-hf").inner_text()
    expected = widget.conventions()
    got = conventions(page)
    assert got["attn_mask"] == expected["attn_mask"].reshape(-1).tolist()
    assert [-np.inf if v is None else v for v in got["additive"]] == expected["additive"].reshape(-1).tolist()
    mha_lines = root.locator(".attnlab-mha").inner_text().splitlines()
    assert mha_lines[0] == "[[False,  True,  True,  True,  True,  True],"  # True = blocked
    assert root.locator(".attnlab-additive").inner_text().splitlines()[-1] == " [  0.,   0.,   0.,   0., -inf, -inf]]"
    root.get_by_label("causal (query i sees keys 0..i)").uncheck()
    assert root.locator(".attnlab-hf").inner_text() == "attention_mask = [[1, 1, 1, 1, 0, 0]]"
    assert conventions(page)["attention_mask"] == [1, 1, 1, 1, 0, 0]
    assert_drawn_equals_attnlab(page, widget)


def test_a_row_with_nothing_visible_gets_zeros_and_says_so(page):
    widget = editor(4)
    root = open_explorer(page, widget)
    for j in range(L):
        cell(root, 1, j).click()
    weights = assert_drawn_equals_attnlab(page, widget)
    assert (weights[1] == 0).all() and np.allclose(np.delete(weights, 1, 0).sum(1), 1)
    message = root.locator(".attnlab-empty").inner_text()
    assert message.startswith("Query “cat” may attend to no key") and "all-zero weights" in message
    root.locator(".attnlab-padding input").fill("0")
    assert (assert_drawn_equals_attnlab(page, widget) == 0).all()
    assert root.locator(".attnlab-empty").inner_text().startswith("Queries “a”, “cat”, “sat”, “on”, “the”, “mat”")
    cell(root, 1, 0).click()  # unmasked by the reader, still a padding key
    assert "still masked: a padding key" in root.locator(".attnlab-status").inner_text()
    root.locator("button.attnlab-reset").click()
    root.locator(".attnlab-padding input").fill("6")
    assert root.locator(".attnlab-empty").inner_text() == ""
    assert_drawn_equals_attnlab(page, widget)


@pytest.mark.parametrize("seed", range(3))
def test_stored_cases_equal_attnlab(page, seed):
    """Random cells, causal on or off, a padding length: the drawn weights are attnlab's on the true q, k."""
    g = torch.Generator().manual_seed(100 + seed)
    cells = torch.rand(L, L, generator=g) < 0.7
    cells[seed] = False  # a row that sees nothing
    causal, padding = bool(seed % 2), 6 - seed
    widget = editor(seed, mask=cells, causal=causal, padding=padding)
    root = open_explorer(page, widget)
    weights = assert_drawn_equals_attnlab(page, widget)
    q, k = qk(seed)
    allowed = cells & (torch.arange(L) < padding)
    if causal:
        allowed &= torch.ones(L, L, dtype=torch.bool).tril()
    np.testing.assert_allclose(weights, attention_weights(q, k, allowed).numpy(), rtol=0, atol=1e-6)
    assert f"“{WORDS[seed]}”" in root.locator(".attnlab-empty").inner_text()


def test_a_12_by_12_editor_scrolls_inside_itself_at_390_px(page):
    g = torch.Generator().manual_seed(5)
    q, k = torch.randn(2, 12, 4, generator=g, dtype=torch.float64)
    labels = [f"{i}:{c}" for i, c in enumerate("abcdefghabcd")]
    page.set_viewport_size({"width": 390, "height": 800})
    try:
        open_explorer(page, MaskEditor(q @ k.T, 4, labels, causal=True, padding=8))
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    finally:
        page.set_viewport_size({"width": 1280, "height": 720})


AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def test_the_editor_passes_axes_wcag_rules(page):
    """axe-core's WCAG 2 A/AA rules on the editor alone (the harness page itself has no title or lang)."""
    if not AXE_JS.is_file():
        pytest.skip("axe-core is not installed (npm ci)")
    cells = torch.ones(L, L, dtype=torch.bool)
    cells[2] = False
    root = open_explorer(page, editor(6, mask=cells, causal=True, padding=5))
    cell(root, 4, 1).click()
    page.add_script_tag(path=str(AXE_JS))
    found = page.evaluate(
        """async () => {
             const options = {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}};
             const result = await axe.run("#root", options);
             return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
           }"""
    )
    assert found == []
