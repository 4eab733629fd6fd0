"""The intro's typed sentence, in Chromium with no kernel: the page runs the model's head on it.

The reader types into the sentence explorer (attnlab.widgets.explorers.SentenceExplorer); the page
runs the forward pass in compute.js from the weights in the state (grammar.head_weights), and the
drawn weights must equal PyTorch's grammar.where_words_look to 1e-5. Unknown words and words beyond
MAX_LEN are marked and skipped; an empty sentence shows a message; nothing ever breaks the explorer.
"""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import torch

from .browser import chromium_page

pytest.importorskip("anywidget")
from attnlab.tasks import grammar
from attnlab.widgets.explorers import SentenceExplorer

from .test_explorer_js import CSS, ESM, HARNESS

FIRST = "the big dog that ran chased a small cat"


@pytest.fixture(scope="module")
def page():
    with chromium_page() as p:
        yield p


@pytest.fixture(scope="module")
def model():
    """A Reader whose q/k projections are scaled up: sharp rows, a hard case for 1e-5 (training would only
    take time: the page runs whatever weights it is given)."""
    torch.manual_seed(0)
    model = grammar.Reader()
    with torch.no_grad():
        model.attn.in_proj_weight.mul_(3)
    return model


def open_explorer(page, widget):
    """The stand-in model of test_explorer_js.py, with the sentence explorer's state."""
    state = json.dumps({n: getattr(widget, n) for n in ("kind", "data", "setting", "query", "sentence")})
    html = HARNESS % {"css": CSS, "state": state, "esm": base64.b64encode(ESM).decode(), "live": "false"}
    page.set_content(html)
    page.wait_for_function("window.ready === true")
    return page.locator("#root")


def explorer(model, sentence=FIRST):
    return SentenceExplorer(grammar.head_weights(model), sentence, title="Where the words of your sentence look")


def type_sentence(root, text):
    box = root.get_by_label("your sentence")
    box.fill(text)  # fires an input event, as typing does
    return box


def drawn(page):
    return np.array(page.eval_on_selector("#root .attnlab-sentence svg", "s => Array.from(s.attnlabValues)"))


def assert_drawn_equals_pytorch(page, model, kept):
    ids = torch.tensor([[grammar.VOCAB.index(w) for w in kept]])
    expected = grammar.where_words_look(model, ids)[0]  # (L, L), float32 PyTorch
    got = drawn(page)
    assert got.shape == (len(kept) ** 2,)
    np.testing.assert_allclose(got, expected.reshape(-1).numpy(), rtol=0, atol=1e-5, err_msg=" ".join(kept))


def row_labels(root):
    return root.locator(".attnlab-sentence text[text-anchor='end']").evaluate_all("ts => ts.map(t => t.textContent)")


def test_the_first_sentence_is_drawn_as_pytorch_computes_it(page, model):
    root = open_explorer(page, explorer(model))
    assert root.get_by_label("your sentence").input_value() == FIRST
    assert root.locator(".attnlab-sentence rect[data-row]").count() == 81
    assert row_labels(root) == FIRST.split()
    assert_drawn_equals_pytorch(page, model, FIRST.split())
    assert "cat" in root.locator(".attnlab-vocab").inner_text()
    assert not root.get_attribute("data-error")


@pytest.mark.parametrize(
    "text",
    [
        "a red fox that hid never pushed the quiet mouse",
        "The old child, then, liked a happy bird.",  # capitals and punctuation
        "cat saw the the",  # known words in any order
        "the big red dog that slept often found a small old cat that hid",  # 14 words, MAX_LEN
    ],
)
def test_typed_sentences_redraw_with_pytorchs_weights(page, model, text):
    root = open_explorer(page, explorer(model))
    type_sentence(root, text)
    kept, skipped = grammar.read_words(text)
    assert not skipped and page.evaluate("window.model.get('sentence')") == text
    assert row_labels(root) == kept
    assert_drawn_equals_pytorch(page, model, kept)
    assert root.locator(".attnlab-skipped").count() == 0
    assert not root.get_attribute("data-error")


def test_unknown_words_are_marked_and_skipped(page, model):
    root = open_explorer(page, explorer(model))
    text = "the zebra chased a dog · quickly"
    type_sentence(root, text)
    kept, _ = grammar.read_words(text)
    assert kept == ["the", "chased", "a", "dog"]
    assert root.locator(".attnlab-skipped").all_inner_texts() == ["zebra", "·", "quickly"]
    assert "not in the vocabulary" in root.locator(".attnlab-words").inner_text()
    assert row_labels(root) == kept
    assert_drawn_equals_pytorch(page, model, kept)
    assert not root.get_attribute("data-error")


def test_words_beyond_max_len_are_marked_and_skipped(page, model):
    root = open_explorer(page, explorer(model))
    words = ["the", "big", "dog", "that", "ran", "often", "chased", "a", "small", "red", "cat", "that"]
    text = " ".join([*words, "hid", "then", "the", "dog"])  # 16 known words
    type_sentence(root, text)
    kept, skipped = grammar.read_words(text)
    assert len(kept) == grammar.MAX_LEN and [w for w, _ in skipped] == ["the", "dog"]
    assert root.locator(".attnlab-skipped").all_inner_texts() == ["the", "dog"]
    assert f"beyond {grammar.MAX_LEN} words" in root.locator(".attnlab-words").inner_text()
    assert root.locator(".attnlab-sentence rect[data-row]").count() == grammar.MAX_LEN**2
    assert_drawn_equals_pytorch(page, model, kept)


def test_an_empty_sentence_shows_a_message_and_typing_again_redraws(page, model):
    root = open_explorer(page, explorer(model))
    for text in ("", "   ", "zebra giraffe"):
        type_sentence(root, text)
        assert root.locator(".attnlab-sentence rect[data-row]").count() == 0
        assert "Type a sentence" in root.locator(".attnlab-empty").inner_text()
        assert not root.get_attribute("data-error")
    type_sentence(root, "a cat saw the dog")
    assert root.locator(".attnlab-empty").count() == 0
    assert_drawn_equals_pytorch(page, model, grammar.read_words("a cat saw the dog")[0])


def test_a_row_of_the_typed_sentence_shows_its_weights(page, model):
    root = open_explorer(page, explorer(model))
    type_sentence(root, "a cat saw the dog")
    root.locator(".attnlab-sentence rect[data-row='2'][data-col='0']").click()
    assert root.locator(".attnlab-bar").count() == 5
    assert "saw" in root.locator(".attnlab-row .attnlab-hint").inner_text()
    values = [float(v) for v in root.locator(".attnlab-bar-value").all_inner_texts()]
    assert values == pytest.approx(drawn(page).reshape(5, 5)[2], abs=0.005)
    type_sentence(root, "a cat saw the dog that ran")  # a longer sentence keeps the chosen row
    assert root.locator(".attnlab-bar").count() == 7
