"""The explorers' Python side: what goes into the widget state, validation, and live recompute."""

from __future__ import annotations

import json
import math

import pytest
import torch

from attnlab import AttnLabError, attention_weights, scaled_dot_product_attention
from attnlab import causal_mask as attnlab_causal
from attnlab.plotting import cmap_hex

widgets = pytest.importorskip("attnlab.widgets")
FrameExplorer, HeadGridExplorer, HeatmapExplorer, qk_views = (
    widgets.FrameExplorer,
    widgets.HeadGridExplorer,
    widgets.HeatmapExplorer,
    widgets.qk_views,
)

WORDS = ["the", "cat", "sat", "on", "the", "mat"]


def qk(seed=0, L=6, E=8):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(L, E, generator=g), torch.randn(L, E, generator=g)


def test_views_are_scores_scaled_scores_and_weights():
    q, k = qk()
    views = qk_views(q, k)
    torch.testing.assert_close(views["raw scores"], q @ k.T)
    torch.testing.assert_close(views["scaled scores"], q @ k.T / 8**0.5)
    torch.testing.assert_close(views["weights"], attention_weights(q, k))


def test_state_carries_rounded_maps_labels_and_the_books_colour_map():
    q, k = qk()
    explorer = HeatmapExplorer(qk_views(q, k), WORDS, title="t")
    data = explorer.data
    assert data["shape"] == [1, 1, 6, 6] and data["views"] == ["weights", "scaled scores", "raw scores"]
    assert data["x_labels"] == data["y_labels"] == WORDS
    weights = data["maps"][0][0]
    assert len(weights) == 36 and all(round(w, 4) == w for w in weights)
    assert abs(sum(weights[:6]) - 1) < 1e-3
    assert data["cmap"] == cmap_hex() and len(data["cmap"]) == 64
    assert explorer.view == "weights" and explorer.query == -1


def test_masked_entries_travel_as_null():
    logits = torch.tensor([[0.5, float("-inf")], [0.1, 0.2]])
    explorer = HeatmapExplorer({"scaled scores": logits}, ["a", "b"])
    assert explorer.data["maps"][0][0] == [0.5, None, 0.1, 0.2]


def test_settings_and_grid_shapes():
    g = torch.Generator().manual_seed(1)
    maps = torch.softmax(torch.randn(2, 4, 6, 6, generator=g), -1)
    grid = HeadGridExplorer(maps, WORDS)
    assert grid.kind == "grid" and grid.data["shape"] == [2, 4, 6, 6]
    grid.layer, grid.head = 1, 3
    many = HeatmapExplorer(None, WORDS, settings={"a": maps, "b": maps * 0.5}, setting_label="scale")
    assert many.data["settings"] == ["a", "b"] and many.data["setting_label"] == "scale"


def test_bad_input_is_a_clear_error():
    q, k = qk()
    with pytest.raises(AttnLabError, match=r"5 key labels for 6 keys: expected one label per key"):
        HeatmapExplorer(attention_weights(q, k), WORDS[:5])
    with pytest.raises(
        AttnLabError, match=r"maps\['weights'\] must be \(L, S\), \(H, L, S\) or \(layers, H, L, S\), got shape \(6,\)"
    ):
        HeatmapExplorer(torch.ones(6), WORDS)
    with pytest.raises(AttnLabError, match=r"unknown view\(s\) \['logits'\] in maps"):
        HeatmapExplorer({"logits": torch.ones(6, 6)}, WORDS)
    with pytest.raises(AttnLabError, match=r"maps\['weights'\] contains NaN; masked entries should be -inf"):
        HeatmapExplorer(torch.full((2, 2), float("nan")), ["a", "b"])
    with pytest.raises(AttnLabError, match=r"every setting needs the same views and shape"):
        HeatmapExplorer(None, settings={"a": torch.ones(2, 2), "b": torch.ones(3, 3)})
    with pytest.raises(
        AttnLabError, match=r"give one of maps \(one setting\), settings \(several\) or scores .*got none"
    ):
        HeatmapExplorer(None)
    explorer = HeatmapExplorer(attention_weights(q, k), WORDS)
    with pytest.raises(AttnLabError, match=r"head 2 is out of range: this explorer has 1 \(0\.\.0\)"):
        explorer.head = 2
    with pytest.raises(AttnLabError, match=r"query 6 is out of range: expected -1 \(none\) or 0\.\.5"):
        explorer.query = 6


def test_live_recompute_adds_a_setting_and_survives_bad_values():
    q, k = qk()

    def compute(temperature):
        if temperature <= 0:
            raise ValueError("temperature must be positive")
        return qk_views(q / temperature, k)

    explorer = HeatmapExplorer(None, WORDS, settings={"τ=1": compute(1.0)}, setting_label="τ", compute=compute)
    sent = []
    explorer.send = sent.append
    explorer._on_msg(explorer, {"type": "hello"}, None)
    assert sent == [{"type": "live", "label": "τ"}]
    explorer._on_msg(explorer, {"type": "compute", "value": 4}, None)
    assert explorer.data["settings"] == ["τ=1", "τ=4"] and explorer.setting == 1
    expected = HeatmapExplorer(compute(4.0), WORDS).data["maps"][0]
    assert explorer.data["maps"][1] == expected
    explorer._on_msg(explorer, {"type": "compute", "value": -1}, None)  # must not raise
    assert sent[-1] == {"type": "error", "message": "ValueError: temperature must be positive"}
    assert explorer.data["settings"] == ["τ=1", "τ=4"]
    quiet = HeatmapExplorer(compute(1.0), WORDS)
    quiet.send = sent.append
    count = len(sent)
    quiet._on_msg(quiet, {"type": "hello"}, None)  # no compute: no live input offered
    assert len(sent) == count


def test_frame_explorer_state_and_errors():
    g = torch.Generator().manual_seed(2)
    frames = torch.rand(8, 16, 16, 3, generator=g)
    fmaps = torch.softmax(torch.randn(2, 8, 8, generator=g), -1)
    pmaps = torch.softmax(torch.randn(2, 8, 16, generator=g), -1)
    explorer = FrameExplorer(frames, fmaps, pmaps, grid=(4, 4))
    data = explorer.data
    assert len(data["frames"]) == 1 and len(data["frames"][0]) == 8 and len(data["frames"][0][0]) == 16 * 16 * 3
    assert max(data["frames"][0][0]) <= 255 and data["shape"] == [1, 1, 2, 8] and data["grid"] == [4, 4]
    assert data["sources"] == ["token"] and len(data["patch_maps"][0][0]) == 2 * 8 * 16
    explorer.query = 7
    with pytest.raises(AttnLabError, match=r"query 8 is out of range"):
        explorer.query = 8
    with pytest.raises(AttnLabError, match=r"frame_maps must be \(T, T\) .*ending in \(8, 8\); got shape \(2, 4, 4\)"):
        FrameExplorer(frames, fmaps[:, :4, :4])
    with pytest.raises(AttnLabError, match=r"patch_maps need grid"):
        FrameExplorer(frames, fmaps, pmaps)
    with pytest.raises(AttnLabError, match=r"patch_maps must be \(T, 9\) .*got shape \(2, 8, 16\)"):
        FrameExplorer(frames, fmaps, pmaps, grid=(3, 3))
    with pytest.raises(AttnLabError, match=r"frames must be \(T, h, w, 3\)"):
        FrameExplorer(frames[..., 0], fmaps)
    with pytest.raises(AttnLabError, match=r"has \(layers, heads\) \(1, 1\) but frame_maps has \(1, 2\)"):
        FrameExplorer(frames, fmaps, pmaps[0], grid=(4, 4))


def video_maps(seed: int, videos: int = 1) -> dict:
    """Frames and maps for ``videos`` videos of 4 frames, 2 layers, 3 heads, 2×2 patches, two sources."""
    g = torch.Generator().manual_seed(seed)
    lead = (videos,) if videos > 1 else ()
    return {
        "frames": torch.rand(*lead, 4, 6, 6, 3, generator=g),
        "frame_maps": torch.softmax(torch.randn(*lead, 2, 3, 4, 4, generator=g), -1),
        "patch_maps": {
            "class token": torch.softmax(torch.randn(*lead, 2, 3, 4, 4, generator=g), -1),
            "message token": torch.softmax(torch.randn(*lead, 2, 3, 4, 4, generator=g), -1),
        },
    }


def test_frame_explorer_holds_videos_layers_heads_and_sources():
    explorer = FrameExplorer(**video_maps(0, videos=3), grid=(2, 2), video_labels=["left", "right", "still"])
    data = explorer.data
    assert data["shape"] == [3, 2, 3, 4] and data["videos"] == ["left", "right", "still"]
    assert data["sources"] == ["class token", "message token"] and explorer.view == "class token"
    explorer.setting, explorer.layer, explorer.head = 2, 1, 2
    with pytest.raises(AttnLabError, match=r"setting 3 is out of range: this explorer has 3"):
        explorer.setting = 3
    with pytest.raises(AttnLabError, match=r"layer 2 is out of range"):
        explorer.layer = 2
    with pytest.raises(AttnLabError, match=r"2 video labels for 3 videos"):
        FrameExplorer(**video_maps(0, videos=3), grid=(2, 2), video_labels=["a", "b"])
    shared = {**video_maps(0, videos=3), "frame_maps": video_maps(0)["frame_maps"]}  # one map set for all videos
    assert FrameExplorer(**shared, grid=(2, 2)).data["shape"] == [3, 2, 3, 4]
    wrong = {**video_maps(0, videos=3), "frame_maps": video_maps(0, videos=2)["frame_maps"]}
    with pytest.raises(AttnLabError, match=r"frame_maps has maps for 2 videos, but there are 3 videos"):
        FrameExplorer(**wrong, grid=(2, 2))


def test_frame_explorer_generates_a_new_video_with_a_kernel():
    sent = []
    explorer = FrameExplorer(**video_maps(0), grid=(2, 2), compute=video_maps)
    explorer.send = sent.append
    explorer._on_msg(explorer, {"type": "hello"}, None)
    assert sent == [{"type": "live", "label": "seed"}]
    explorer._on_msg(explorer, {"type": "compute", "value": 7}, None)
    assert explorer.data["videos"] == ["video 0", "seed=7"] and explorer.setting == 1
    expected = FrameExplorer(**video_maps(7), grid=(2, 2)).data
    assert explorer.data["frames"][1] == expected["frames"][0]
    assert explorer.data["patch_maps"][1][1] == expected["patch_maps"][1][0]
    explorer._compute = lambda seed: {**video_maps(seed), "frame_maps": torch.ones(3, 3)}
    explorer._on_msg(explorer, {"type": "compute", "value": 8}, None)
    assert sent[-1]["type"] == "error" and "frame_maps must be" in sent[-1]["message"]
    assert explorer.data["shape"][0] == 2  # the failed video was not added


def test_recomputed_settings_are_capped_and_precomputed_ones_kept():
    def compute(t):
        return torch.full((3, 3), float(t))

    explorer = HeatmapExplorer(None, ["a", "b", "c"], settings={"first": compute(0)}, compute=compute)
    for value in range(1, 8):
        explorer.recompute(value)
    assert explorer.data["settings"] == ["first", *(f"setting={v}" for v in range(4, 8))]
    assert len(explorer.data["maps"]) == 1 + widgets.explorers.MAX_COMPUTED
    assert explorer.data["maps"][-1][0][0] == 7.0 and explorer.setting == 4
    videos = FrameExplorer(**video_maps(0), grid=(2, 2), compute=video_maps)
    for seed in range(1, 8):
        videos.recompute(seed)
    assert videos.data["videos"] == ["video 0", *(f"seed={s}" for s in range(4, 8))]
    assert videos.data["shape"][0] == 5 and len(videos.data["frames"]) == len(videos.data["patch_maps"][1]) == 5
    assert videos.data["frames"][-1] == FrameExplorer(**video_maps(7), grid=(2, 2)).data["frames"][0]


# ----------------------------------------------------------------------------------------------------
# Scores mode: Q Kᵀ once in the state; the browser computes the views (tests/browser, tests/test_compute_js.py)

TEMPERATURES = (0.25, 0.5, 1, 2, 4)


def scores_explorer(**kwargs):
    q, k = qk()
    return HeatmapExplorer(scores=q @ k.T, x_labels=WORDS, d_k=8, **kwargs), q, k


def test_scores_mode_state_carries_the_scores_once():
    explorer, q, k = scores_explorer(title="t")
    data = explorer.data
    assert data["mode"] == "scores" and "maps" not in data
    assert data["shape"] == [1, 1, 6, 6] and data["views"] == ["weights", "scaled scores", "raw scores"]
    assert data["scores"] == [[round(v, 4) + 0.0 for v in (q @ k.T).reshape(-1).tolist()]]
    assert data["d_k"] == 8 and data["mask"] is None and data["temperature_range"] == [1 / 16, 16.0]
    assert data["settings"] == ["default"] and data["x_labels"] == data["y_labels"] == WORDS
    assert explorer.temperature == 1.0 and explorer.scaled is True and explorer.view == "weights"


def test_scores_mode_does_not_ship_one_copy_per_setting():
    q, k = qk()
    per_setting = HeatmapExplorer(
        None, WORDS, settings={f"τ={t}": qk_views(q / t, k) for t in TEMPERATURES}, setting_label="temperature"
    )
    scores, _, _ = scores_explorer()
    values = len(scores.data["scores"][0])
    assert values == 36 and sum(len(m) for view in per_setting.data["maps"] for m in view) == 15 * values
    size = len(json.dumps(scores.data))
    assert size < len(json.dumps(per_setting.data)) / 2, "the scores mode should be much smaller"
    scores_only = len(json.dumps({k: v for k, v in scores.data.items() if k != "cmap"}))
    assert scores_only < 1_500, f"{scores_only} characters for 36 scores and their labels"


def test_views_are_attnlabs_weights_at_any_temperature_and_scaling():
    explorer, q, k = scores_explorer()
    for temperature, scaled in [(1.0, True), (0.3, True), (3.7, False)]:
        views = explorer.views(temperature=temperature, scaled=scaled)
        scale = (1 / math.sqrt(8) if scaled else 1.0) / temperature
        q64, k64 = q.double(), k.double()
        expected = attention_weights(q64, k64, scale=scale)
        torch.testing.assert_close(views["weights"][0, 0], expected, atol=1e-4, rtol=0)  # scores rounded to 4 decimals
        torch.testing.assert_close(views["scaled scores"][0, 0], q64 @ k64.T * scale, atol=1e-4, rtol=0)
        assert views["raw scores"].dtype == torch.float64
    explorer.temperature, explorer.scaled = 0.5, False
    torch.testing.assert_close(explorer.views()["weights"], explorer.views(temperature=0.5, scaled=False)["weights"])


def test_scores_mode_masks_and_zero_rows():
    mask = torch.ones(6, 6, dtype=torch.bool).tril()
    mask[3] = False
    explorer, q, k = scores_explorer(mask=mask)
    assert explorer.data["mask"] == [int(m) for m in mask.reshape(-1).tolist()]
    views = explorer.views()
    assert (views["weights"][0, 0, 3] == 0).all() and (views["weights"][0, 0][~mask] == 0).all()
    assert torch.isneginf(views["scaled scores"][0, 0][~mask]).all()
    assert not torch.isinf(views["raw scores"]).any()  # raw scores are never masked
    torch.testing.assert_close(
        views["weights"][0, 0], attention_weights(q.double(), k.double(), mask), atol=1e-4, rtol=0
    )


def test_scores_mode_settings_grid_and_live_recompute():
    g = torch.Generator().manual_seed(3)
    stages = {"untrained": torch.randn(2, 3, 5, 5, generator=g), "trained": torch.randn(2, 3, 5, 5, generator=g)}
    grid = HeadGridExplorer(scores=stages, d_k=4, setting_label="training", compute=lambda s: stages["trained"] * s)
    assert grid.kind == "grid" and grid.data["settings"] == ["untrained", "trained"]
    assert len(grid.data["scores"]) == 2 and len(grid.data["scores"][0]) == 2 * 3 * 25
    grid.setting, grid.layer, grid.head = 1, 1, 2
    assert grid.views()["raw scores"].shape == (2, 3, 5, 5)
    sent = []
    grid.send = sent.append
    grid._on_msg(grid, {"type": "hello"}, None)
    assert sent == [{"type": "live", "label": "training"}]
    for value in range(2, 8):
        grid._on_msg(grid, {"type": "compute", "value": value}, None)
    assert grid.data["settings"] == ["untrained", "trained", *(f"training={v}" for v in range(4, 8))]
    assert len(grid.data["scores"]) == 2 + widgets.explorers.MAX_COMPUTED and grid.setting == 5
    torch.testing.assert_close(grid.views()["raw scores"], (stages["trained"] * 7).double(), atol=1e-4, rtol=0)
    grid._compute = lambda s: torch.ones(3, 3)
    grid._on_msg(grid, {"type": "compute", "value": 9}, None)
    assert sent[-1]["type"] == "error" and "returned scores of shape (1, 1, 3, 3)" in sent[-1]["message"]


def test_scores_mode_errors_name_the_bad_values():
    q, k = qk()
    scores = q @ k.T
    with pytest.raises(AttnLabError, match=r"got maps and scores"):
        HeatmapExplorer(scores, scores=scores, d_k=8)
    with pytest.raises(AttnLabError, match=r"scores= needs d_k, the width of the queries and keys .*got None"):
        HeatmapExplorer(scores=scores)
    with pytest.raises(AttnLabError, match=r"scores must be finite; give masked pairs as mask="):
        HeatmapExplorer(scores=scores.masked_fill(torch.eye(6, dtype=torch.bool), float("-inf")), d_k=8)
    with pytest.raises(AttnLabError, match=r"mask must be bool \(True = may attend\), got dtype torch.float32"):
        HeatmapExplorer(scores=scores, d_k=8, mask=torch.ones(6, 6))
    with pytest.raises(AttnLabError, match=r"mask must be \(L, S\) = \(6, 6\), got \(5, 6\)"):
        HeatmapExplorer(scores=scores, d_k=8, mask=torch.ones(5, 6, dtype=torch.bool))
    with pytest.raises(AttnLabError, match=r"every setting's scores need one shape: 'b' is \(1, 1, 5, 5\)"):
        HeatmapExplorer(scores={"a": scores, "b": scores[:5, :5]}, d_k=8)
    with pytest.raises(AttnLabError, match=r"temperature_range must be 0 < low < high, got \(2, 1\)"):
        HeatmapExplorer(scores=scores, d_k=8, temperature_range=(2, 1))
    with pytest.raises(AttnLabError, match=r"d_k and mask go with scores="):
        HeatmapExplorer(scores, d_k=8)
    explorer = HeatmapExplorer(scores=scores, d_k=8)
    with pytest.raises(AttnLabError, match=r"temperature must be a positive number, got 0.0"):
        explorer.temperature = 0
    with pytest.raises(AttnLabError, match=r"views\(\) needs an explorer made with scores="):
        HeatmapExplorer(scores).views()


# ----------------------------------------------------------------------------------------------------
# The mask editor (chapter 3): cells, causal and padding combined; the Python twin of the page


def mask_editor(**kwargs):
    q, k = qk()
    return widgets.MaskEditor(q @ k.T, 8, WORDS, **kwargs), q.double(), k.double()


def test_mask_editor_state_carries_the_scores_once_and_the_mask():
    editor, q, k = mask_editor(title="edit")
    data = editor.data
    assert editor.kind == "mask" and data["mode"] == "mask" and data["shape"] == [1, 1, 6, 6]
    assert data["scores"] == [round(v, 6) + 0.0 for v in (q.float() @ k.float().T).double().reshape(-1).tolist()]
    assert data["d_k"] == 8 and data["x_labels"] == data["y_labels"] == WORDS and data["title"] == "edit"
    assert editor.cells == [True] * 36 and editor.causal is False and editor.padding == 6
    assert editor.mask == [True] * 36
    assert len(json.dumps({k: v for k, v in data.items() if k != "cmap"})) < 1_500


def test_mask_editor_combines_cells_causal_and_padding_and_follows_edits():
    cells = torch.ones(6, 6, dtype=torch.bool)
    cells[1, 0] = False
    editor, _, _ = mask_editor(mask=cells, causal=True, padding=4)
    expected = cells & attnlab_causal(6) & (torch.arange(6) < 4)
    assert torch.equal(editor.allowed(), expected) and editor.mask == expected.reshape(-1).tolist()
    editor.causal, editor.padding = False, 6
    assert editor.mask == cells.reshape(-1).tolist()  # the synced mask follows every edit
    edited = list(editor.cells)
    edited[5] = False
    editor.cells = edited
    assert editor.allowed()[0, 5].item() is False


def test_mask_editor_twin_equals_attnlab_with_zero_rows():
    cells = torch.ones(6, 6, dtype=torch.bool)
    cells[3] = False  # a query that sees nothing
    editor, q, k = mask_editor(mask=cells, causal=True, padding=5)
    allowed = editor.allowed()
    weights = editor.weights()
    torch.testing.assert_close(weights, attention_weights(q, k, allowed), atol=1e-6, rtol=0)
    out = scaled_dot_product_attention(q, k, torch.eye(6, dtype=torch.float64), allowed)  # values = I: the weights
    torch.testing.assert_close(weights, out, atol=1e-6, rtol=0)
    assert (weights[3] == 0).all() and (weights[~allowed] == 0).all()
    assert weights.dtype == torch.float64
    other = attnlab_causal(6)  # the twin takes any mask
    torch.testing.assert_close(editor.weights(other), attention_weights(q, k, other), atol=1e-6, rtol=0)


def test_mask_editor_conventions():
    editor, _, _ = mask_editor(padding=4)
    c = editor.conventions()
    allowed = editor.allowed()
    assert torch.equal(c["attn_mask"], ~allowed)  # nn.MultiheadAttention: True = blocked
    assert torch.equal(c["additive"], torch.zeros(6, 6, dtype=torch.float64).masked_fill(~allowed, -math.inf))
    assert c["attention_mask"].tolist() == [[1, 1, 1, 1, 0, 0]]  # Hugging Face: 1 = keep, per key
    editor.causal = True
    assert editor.conventions()["attention_mask"] is None  # the rows differ: no per-key mask


def test_mask_editor_errors_name_the_bad_values():
    q, k = qk()
    scores = q @ k.T
    MaskEditor = widgets.MaskEditor
    with pytest.raises(AttnLabError, match=r"scores must be \(L, S\), got shape \(1, 6, 6\)"):
        MaskEditor(scores[None], 8)
    with pytest.raises(AttnLabError, match=r"scores must be finite"):
        MaskEditor(scores.masked_fill(torch.eye(6, dtype=torch.bool), -math.inf), 8)
    with pytest.raises(AttnLabError, match=r"d_k, the width of the queries and keys, must be a positive int, got 0"):
        MaskEditor(scores, 0)
    with pytest.raises(AttnLabError, match=r"mask must be bool \(True = may attend\), got dtype torch.float32"):
        MaskEditor(scores, 8, mask=torch.ones(6, 6))
    with pytest.raises(AttnLabError, match=r"mask must be \(L, S\) = \(6, 6\), got \(5, 6\)"):
        MaskEditor(scores, 8, mask=torch.ones(5, 6, dtype=torch.bool))
    with pytest.raises(AttnLabError, match=r"padding \(the number of real keys\) must be in 0..6, got 7"):
        MaskEditor(scores, 8, padding=7)
    editor = MaskEditor(scores, 8)
    with pytest.raises(AttnLabError, match=r"padding \(the number of real keys\) must be in 0..6, got -1"):
        editor.padding = -1
    with pytest.raises(AttnLabError, match=r"cells must hold L·S = 36 entries, got 3"):
        editor.cells = [True] * 3
    with pytest.raises(AttnLabError, match=r"mask must be \(L, S\) = \(6, 6\), got \(6,\)"):
        editor.weights(torch.ones(6, dtype=torch.bool))
    with pytest.raises(AttnLabError, match=r"6 key labels for 5 keys"):
        MaskEditor(scores[:5, :5], 8, WORDS)


# ----------------------------------------------------------------------------------------------------
# The sentence explorer: the state carries a small model's head; the page runs it on typed sentences


def sentence_explorer(sentence="the big dog that ran chased a small cat"):
    from attnlab.tasks import grammar
    from attnlab.widgets.explorers import SentenceExplorer

    torch.manual_seed(0)
    model = grammar.Reader()
    return model, SentenceExplorer(grammar.head_weights(model), sentence, title="your sentence")


def test_sentence_explorer_state_carries_the_head_and_the_sentence():
    _, explorer = sentence_explorer()
    assert explorer.kind == "sentence" and explorer.sentence.startswith("the big dog")
    reader = explorer.data["reader"]
    assert {"vocab", "max_len", "d", "head_dim", "tok", "pos", "w_q", "b_q", "w_k", "b_k"} <= set(reader)
    assert len(reader["tok"]) == 27 and len(reader["w_q"]) == 64 and reader["max_len"] == 14
    assert explorer.data["title"] == "your sentence" and "cmap" in explorer.data
    assert len(json.dumps(explorer.data)) < 200_000  # the page stays small


def test_sentence_explorer_python_twin_equals_where_words_look():
    from attnlab.tasks import grammar

    model, explorer = sentence_explorer()
    for text in ("the big dog that ran chased a small cat", "A zebra saw the cat.", "dog " * 20):
        kept, _ = explorer.words(text)
        x = torch.tensor([[grammar.VOCAB.index(w) for w in kept]])
        expected = grammar.where_words_look(model, x)[0].double()
        assert torch.allclose(explorer.weights(text), expected, atol=1e-5, rtol=0), text
    assert explorer.words("a zebra") == (["a"], [("zebra", "not in the vocabulary")])
    assert explorer.weights("zebra") is None and explorer.weights("") is None
    explorer.sentence = "the cat saw a dog"
    assert explorer.weights().shape == (5, 5)


def test_sentence_explorer_rejects_a_reader_of_the_wrong_shape():
    from attnlab.tasks import grammar
    from attnlab.widgets.explorers import SentenceExplorer

    torch.manual_seed(0)
    reader = grammar.head_weights(grammar.Reader())
    with pytest.raises(AttnLabError, match="reader is missing"):
        SentenceExplorer({k: v for k, v in reader.items() if k != "w_k"})
    with pytest.raises(AttnLabError, match=r"reader\['pos'\] has shape"):
        SentenceExplorer({**reader, "pos": reader["pos"][:3]})
