"""compute.js, the explorers' attention arithmetic, against attnlab: in Node and in headless Chromium.

attnlab (float64) produces the cases: random scores of several shapes, temperatures, scaling on and off,
masks with fully masked rows, and the mask conventions of nn.MultiheadAttention and Hugging Face. The
same cases run on compute.js and on the widget's bundled module (what the book ships), in Node when
it is installed (it is not needed) and in Chromium, and must agree with attnlab to 1e-6.
To test a function added to compute.js, add its cases to ``cases()``: ``{"fn", "args", "expected"}``,
or ``"throws"`` (part of the error message) instead of ``"expected"``.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import attnlab
from attnlab.masks import combine_masks, from_mha_mask, to_mha_mask

from .browser.browser import chromium_page

pytest.importorskip("anywidget")
from attnlab.widgets._base import esm

COMPUTE = Path(__file__).resolve().parents[1] / "attnlab" / "widgets" / "compute.js"
MODULES = {"compute.js": COMPUTE.read_text(encoding="utf-8"), "bundle": esm()}
TOL = 1e-6

# Runs every case on module C; shared by Node and Chromium. -Infinity travels as a string in JSON.
RUNNER = """
const revive = (k, v) => (v === "-Infinity" ? -Infinity : v === "Infinity" ? Infinity : v);
const replace = (k, v) =>
  ArrayBuffer.isView(v) ? Array.from(v) : v === -Infinity ? "-Infinity" : v === Infinity ? "Infinity" : v;
function runCases(C, text) {
  const out = JSON.parse(text, revive).map((c) => {
    try {
      return { value: C[c.fn](...c.args) };
    } catch (err) {
      return { error: String(err) };
    }
  });
  return JSON.stringify(out, replace);
}
"""

NODE_MAIN = """
import { readFileSync } from "node:fs";
const input = JSON.parse(readFileSync(0, "utf8"));
const C = await import("data:text/javascript;base64," + input.module);
process.stdout.write(runCases(C, input.cases));
"""


def _plain(x):
    """Tensors, arrays and floats → JSON-ready values; ±inf as strings."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        x = x.to(torch.float64) if x.is_floating_point() else x
        return _plain(x.reshape(-1).tolist())
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, float) and math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def _decode(x):
    if isinstance(x, dict):
        return {k: _decode(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_decode(v) for v in x]
    return {"-Infinity": -math.inf, "Infinity": math.inf}.get(x, x) if isinstance(x, str) else x


def masks(L: int, S: int, g: torch.Generator) -> dict[str, torch.Tensor | None]:
    """No mask, a causal one, and a random one whose first row sees nothing and whose last row sees all."""
    rand = torch.rand(L, S, generator=g) < 0.5
    rand[0] = False
    rand[-1] = True
    return {"none": None, "causal": attnlab.causal_mask(L, S), "random": rand}


def view_cases() -> list[dict]:
    """attentionViews against attnlab.attention_weights / attention_logits on random q, k."""
    g = torch.Generator().manual_seed(0)
    cases = []
    # (blocks, L, S, E): one map, square, rectangular, and 2 layers × 3 heads of maps
    for blocks, L, S, E in [((), 1, 1, 1), ((), 4, 4, 8), ((), 3, 7, 5), ((2, 3), 6, 6, 16)]:
        q = torch.randn(*blocks, L, E, generator=g, dtype=torch.float64) * 2
        k = torch.randn(*blocks, S, E, generator=g, dtype=torch.float64) * 2
        scores = q @ k.transpose(-2, -1)
        for (name, mask), temperature, scaled in itertools.product(
            masks(L, S, g).items(), (0.25, 1.0, 2.5), (True, False)
        ):
            factor = (1 / math.sqrt(E) if scaled else 1.0) / temperature
            opts = {"rows": L, "cols": S, "dk": E, "scaled": scaled, "temperature": temperature}
            opts["mask"] = None if mask is None else mask.reshape(-1).tolist()
            expected = {
                "weights": attnlab.attention_weights(q, k, mask, scale=factor),
                "scaled scores": attnlab.attention_logits(q, k, mask, scale=factor),
                "raw scores": scores,
            }
            case = {"fn": "attentionViews", "args": [scores, opts], "expected": expected}
            cases.append({**case, "id": f"views {tuple(scores.shape)} mask={name} τ={temperature} scaled={scaled}"})
    return cases


def softmax_cases() -> list[dict]:
    g = torch.Generator().manual_seed(1)
    cases = []
    for rows, cols, temperature in [(1, 1, 1.0), (3, 5, 1.0), (3, 5, 0.25), (4, 4, 3.0)]:
        logits = torch.randn(2, rows, cols, generator=g, dtype=torch.float64)
        expected = torch.softmax(logits / temperature, -1)
        cases.append({"fn": "softmaxRows", "args": [logits, rows, cols, temperature], "expected": expected})
    huge = torch.tensor([[1000.0, 999.0, -1000.0], [-800.0, -801.0, -802.0]], dtype=torch.float64)  # stability
    cases.append({"fn": "softmaxRows", "args": [huge, 2, 3], "expected": torch.softmax(huge, -1)})
    blind = torch.tensor([[-math.inf, -math.inf], [0.5, -math.inf]], dtype=torch.float64)
    cases.append({"fn": "softmaxRows", "args": [blind, 2, 2], "expected": torch.tensor([[0.0, 0.0], [1.0, 0.0]])})
    return cases


def mask_cases() -> list[dict]:
    g = torch.Generator().manual_seed(2)
    mask = masks(4, 5, g)["random"]
    flat = mask.reshape(-1).tolist()
    mha = to_mha_mask(mask)
    additive = attnlab.bool_to_additive(mask, torch.float64)
    scores = torch.randn(2, 4, 5, generator=g, dtype=torch.float64)
    eye = torch.eye(5, dtype=torch.float64)
    cases = [
        {"fn": "toMhaMask", "args": [flat], "expected": mha},
        {"fn": "fromMhaMask", "args": [mha.reshape(-1).tolist()], "expected": from_mha_mask(mha)},
        {"fn": "toHfMask", "args": [flat], "expected": mask.to(torch.int64)},  # HF: 1 = keep, 0 = masked
        {"fn": "fromHfMask", "args": [mask.to(torch.int64)], "expected": mask},
        {"fn": "boolToAdditive", "args": [flat], "expected": additive},
        {"fn": "additiveToBool", "args": [additive], "expected": attnlab.additive_to_bool(additive)},
        {
            "fn": "applyMask",
            "args": [scores, flat, 4, 5],
            "expected": attnlab.attention_logits(scores, eye, mask, scale=1.0),
        },
        {
            "fn": "addMask",
            "args": [scores, additive, 4, 5],
            "expected": attnlab.attention_logits(scores, eye, additive, scale=1.0),
        },
        {"fn": "causalMask", "args": [4, 6], "expected": attnlab.causal_mask(4, 6)},
        {"fn": "causalMask", "args": [3], "expected": attnlab.causal_mask(3)},
        {"fn": "paddingMask", "args": [3, 6, 4], "expected": attnlab.padding_mask([4], 6).expand(3, 6)},
        {"fn": "paddingMask", "args": [2, 3, 0], "expected": attnlab.padding_mask([0], 3).expand(2, 3)},
        {
            "fn": "combineMasks",
            "args": [attnlab.causal_mask(4, 5), flat],
            "expected": combine_masks(attnlab.causal_mask(4, 5), mask),
        },
        {"fn": "logitScale", "args": [8, {"scaled": True, "temperature": 0.5}], "expected": 2 / math.sqrt(8)},
        {"fn": "logitScale", "args": [8, {"scaled": False, "temperature": 4}], "expected": 0.25},
        {"fn": "block", "args": [scores, 1, 4, 5], "expected": scores[1]},
    ]
    return cases


def product_cases() -> list[dict]:
    """linear (nn.Linear's x Wᵀ + b) and scoresQK (Q Kᵀ), the pieces of a small forward pass."""
    g = torch.Generator().manual_seed(3)
    layer = torch.nn.Linear(5, 3, dtype=torch.float64)
    x = torch.randn(4, 5, generator=g, dtype=torch.float64)
    q, k = torch.randn(4, 6, generator=g, dtype=torch.float64), torch.randn(7, 6, generator=g, dtype=torch.float64)
    with torch.no_grad():
        return [
            {"fn": "linear", "args": [x, layer.weight, layer.bias, 4, 5, 3], "expected": layer(x)},
            {"fn": "linear", "args": [x, layer.weight, None, 4, 5, 3], "expected": x @ layer.weight.T},
            {"fn": "scoresQK", "args": [q, k, 4, 7, 6], "expected": q @ k.T},
        ]


def error_cases() -> list[dict]:
    return [
        {"fn": "softmaxRows", "args": [[1, 2], 1, 2, 0], "throws": "temperature must be a positive number, got 0"},
        {"fn": "softmaxRows", "args": [[1, 2, 3], 2, 2], "throws": "logits has 3 values, not a whole number of 2×2"},
        {"fn": "logitScale", "args": [0], "throws": "d_k must be a positive integer, got 0"},
        {"fn": "applyMask", "args": [[1, 2, 3, 4], [1, 0], 2, 2], "throws": "the mask has 2 entries, expected 2×2 = 4"},
        {"fn": "paddingMask", "args": [2, 3, 4], "throws": "length must be an integer in 0..3, got 4"},
        {"fn": "block", "args": [[1, 2, 3, 4], 1, 2, 2], "throws": "block 1 is out of range: there are 1"},
        {"fn": "linear", "args": [[1, 2, 3], [1, 2], None, 1, 2, 1], "throws": "x has 3 values, expected 1×2"},
    ]


def editor_cases() -> list[dict]:
    """The mask editor's pieces: cells, causal and padding combined (attnlab.combine_masks), the per-key
    Hugging Face mask when one exists, and the rows that see nothing."""
    g = torch.Generator().manual_seed(4)
    cells = masks(4, 5, g)["random"]
    flat = cells.reshape(-1).tolist()
    causal, padding = attnlab.causal_mask(4, 5), attnlab.padding_mask([3], 5)
    per_key = padding.expand(4, 5)
    cases = [
        {"fn": "editorMask", "args": [flat, 4, 5], "expected": cells},
        {"fn": "editorMask", "args": [flat, 4, 5, {"padding": 3}], "expected": combine_masks(cells, padding)},
        {
            "fn": "editorMask",
            "args": [flat, 4, 5, {"causal": True, "padding": 3}],
            "expected": combine_masks(cells, causal, padding),
        },
        {"fn": "perKeyHfMask", "args": [per_key.reshape(-1).tolist(), 4, 5], "expected": [1, 1, 1, 0, 0]},
        {"fn": "perKeyHfMask", "args": [causal.reshape(-1).tolist(), 4, 5], "expected": None},
        {"fn": "perKeyHfMask", "args": [flat, 4, 5], "expected": None},
        {"fn": "emptyRows", "args": [flat, 4, 5], "expected": [i for i in range(4) if not cells[i].any()]},
        {
            "fn": "editorMask",
            "args": [flat, 4, 5, {"padding": 6}],
            "throws": "length must be an integer in 0..5, got 6",
        },
        {"fn": "editorMask", "args": [[True], 4, 5], "throws": "the cells hold 1 entries, expected 4×5 = 20"},
    ]
    return cases


def reader_model(seed: int = 0):
    """An untrained grammar.Reader whose q/k projections are made 4× larger: sharp rows, a hard case."""
    from attnlab.tasks import grammar

    torch.manual_seed(seed)
    model = grammar.Reader()
    with torch.no_grad():
        model.attn.in_proj_weight.mul_(4)
    return model


def forward_cases() -> list[dict]:
    """embed and headWeights, the tiny forward pass, against the model itself (float64 copies)."""
    from attnlab.tasks import grammar

    model = reader_model().double()
    ids = grammar.encode("the big dog that ran chased a small cat")[0][0].tolist()
    L, d = len(ids), model.tok.weight.shape[1]
    with torch.no_grad():
        x = model.tok.weight[ids] + model.pos.weight[:L]  # (L, d)
        w_q, w_k, _ = model.attn.in_proj_weight.chunk(3)
        b_q, b_k, _ = model.attn.in_proj_bias.chunk(3)
        weights = grammar.where_words_look(model, torch.tensor([ids]))[0]  # (L, L)
    head = {"w_q": w_q, "b_q": b_q, "w_k": w_k, "b_k": b_k}
    return [
        {"fn": "embed", "args": [ids, model.tok.weight, model.pos.weight, d], "expected": x},
        {"fn": "headWeights", "args": [x, head, L, d, model.attn.head_dim], "expected": weights},
        {
            "fn": "embed",
            "args": [[99], model.tok.weight, model.pos.weight, d],
            "throws": "word index 99 is out of range",
        },
        {"fn": "embed", "args": [[0] * 15, model.tok.weight, model.pos.weight, d], "throws": "15 words but only 14"},
    ]


def cases() -> list[dict]:
    return [
        *view_cases(),
        *softmax_cases(),
        *mask_cases(),
        *product_cases(),
        *error_cases(),
        *editor_cases(),
        *forward_cases(),
    ]


CASES = cases()
CASES_JSON = json.dumps([{"fn": c["fn"], "args": _plain(c["args"])} for c in CASES])


def check(results: list[dict]) -> None:
    assert len(results) == len(CASES)
    for case, got in zip(CASES, results, strict=True):
        name = case.get("id", case["fn"])
        if "throws" in case:
            assert "error" in got and case["throws"] in got["error"], f"{name}: expected an error, got {got}"
            continue
        assert "error" not in got, f"{name}: {got['error']}"
        expected, value = _plain(case["expected"]), _decode(got["value"])
        if isinstance(expected, dict):
            assert value.keys() == expected.keys(), name
            pairs = [(value[k], expected[k], f"{name}: {k}") for k in expected]
        else:
            pairs = [(value, expected, name)]
        for v, e, label in pairs:
            e = _decode(e)
            if isinstance(e, list) and e and isinstance(e[0], bool):
                assert v == e, label
            else:
                np.testing.assert_allclose(
                    np.array(v, dtype=float), np.array(e, dtype=float), rtol=0, atol=TOL, err_msg=label
                )


def node_path() -> str:
    path = shutil.which(os.environ.get("NODE", "node"))
    if path is None:
        pytest.skip("no Node.js installed (the same cases also run in Chromium)")
    return path


@pytest.mark.parametrize("module", MODULES)
def test_compute_js_equals_attnlab_in_node(module):
    source = base64.b64encode(MODULES[module].encode()).decode()
    stdin = json.dumps({"module": source, "cases": CASES_JSON})
    run = subprocess.run(
        [node_path(), "--input-type=module", "-e", RUNNER + NODE_MAIN],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    check(json.loads(run.stdout))


def test_compute_js_equals_attnlab_in_chromium():
    with chromium_page() as page:
        for module in MODULES.values():
            script = f"""async ([source, cases]) => {{
                {RUNNER}
                const C = await import("data:text/javascript;base64," + source);
                return runCases(C, cases);
            }}"""
            got = page.evaluate(script, [base64.b64encode(module.encode()).decode(), CASES_JSON])
            check(json.loads(got))


def test_the_cases_cover_fully_masked_rows_and_both_scalings():
    ids = [c["id"] for c in CASES if "id" in c]
    assert any("mask=random" in i and "scaled=False" in i for i in ids)
    blind = [c for c in CASES if c["fn"] == "attentionViews" and c["args"][1]["mask"] is not None]
    assert any(not any(c["args"][1]["mask"][: c["args"][1]["cols"]]) for c in blind)  # a row that sees nothing


# ----------------------------------------------------------------------------------------------------
# The typed sentence: readWords and sentenceMap return words as well as numbers, so they are checked here


SENTENCES = [
    "the big dog that ran chased a small cat",
    "The dog, often, saw a cat!",  # capitals and punctuation are read
    "the zebra chased a dog",  # an unknown word, skipped
    "a " * 16 + "cat",  # 17 words: the last three are skipped
    "the · dog",  # the padding word is never read
    "",
    "zebra giraffe",  # nothing left
    "cat dog the the saw",  # any order of known words
]


def test_read_words_and_sentence_map_equal_the_grammar_in_node():
    from attnlab.tasks import grammar

    model = reader_model(1)
    reader = grammar.head_weights(model)
    source = base64.b64encode(MODULES["bundle"].encode()).decode()
    script = """
    import { readFileSync } from "node:fs";
    const input = JSON.parse(readFileSync(0, "utf8"));
    const C = await import("data:text/javascript;base64," + input.module);
    const out = input.sentences.map((t) => {
      const r = C.sentenceMap(t, input.reader);
      const w = C.readWords(t, input.reader.vocab, input.reader.max_len, ["·"]);
      return { words: r.words, skipped: r.skipped, read: w, weights: r.weights && Array.from(r.weights) };
    });
    process.stdout.write(JSON.stringify(out));
    """
    stdin = json.dumps({"module": source, "reader": reader, "sentences": SENTENCES})
    run = subprocess.run(
        [node_path(), "--input-type=module", "-e", script], input=stdin, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    for text, got in zip(SENTENCES, json.loads(run.stdout), strict=True):
        kept, skipped = grammar.read_words(text)
        assert got["words"] == got["read"]["kept"] == kept, text
        assert [tuple(s) for s in got["skipped"]] == skipped, text
        if not kept:
            assert got["weights"] is None, text
            continue
        expected = grammar.where_words_look(model, torch.tensor([[grammar.VOCAB.index(w) for w in kept]]))[0]
        np.testing.assert_allclose(got["weights"], expected.reshape(-1).numpy(), rtol=0, atol=1e-5, err_msg=text)
