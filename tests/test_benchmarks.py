"""The benchmarks run at tiny sizes and write a record of the promised shape. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch

from benchmarks import chapters, explorers, memory, report, video
from benchmarks.attention import attention_rows

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def quick_record(tmp_path_factory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("bench")
    args = ["--out", str(out), "--quick", "--threads", "1", "--sections", "attention", "memory", "video"]
    done = subprocess.run(
        [sys.executable, "benchmarks/run.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads((out / "bench.json").read_text()), (out / "bench.md").read_text()


def test_quick_run_writes_a_record_that_names_the_machine(quick_record):
    record, _ = quick_record
    assert record["schema"] == report.SCHEMA and record["quick"] is True
    m = record["machine"]
    assert m["torch"] == torch.__version__ and m["torch_threads"] == 1 and m["logical_cores"] >= 1
    assert m["cpu"] and m["parallel_info"] and isinstance(m["blas"], list)
    assert record["matmul_gflops"] == max(record["matmul_gflops_start"], record["matmul_gflops_end"]) > 0
    assert record["contention"] is None or 0 <= record["contention"] <= 1
    assert set(record["section_seconds"]) == {"attention", "memory", "video"}


def test_quick_attention_rows_compare_every_path_with_its_reference(quick_record):
    rows = quick_record[0]["attention"]
    kernels = {r["method"] for r in rows if r["group"] == "kernel"}
    layers = {r["method"] for r in rows if r["group"] == "layer"}
    assert kernels == {"torch fused", "attnlab sdpa", "attnlab manual", "attnlab tiled"}
    assert "torch nn.MultiheadAttention" in layers and len(layers) == 4
    for r in rows:
        assert r["ms"] > 0 and r["gflops"] > 0 and r["of_matmul"] > 0 and r["attempts"] >= 1
        if r["method"] == r["reference"]:
            assert r["vs_reference"] == 1.0


def test_quick_memory_and_video_rows(quick_record):
    record, _ = quick_record
    for r in record["memory"]:
        assert "error" not in r, r
        assert r["growth_mb"] >= 0 and r["peak_mb"] >= r["baseline_mb"] > 0
    variants = {r["variant"] for r in record["video"]}
    assert {"joint", "divided", "cross-frame"} <= variants
    # joint attention's FLOPs grow with T², divided's and cross-frame's roughly with T
    flops = {(r["variant"], r["T"]): r["gflop"] for r in record["video"] if r["impl"] == "manual"}
    Ts = sorted({r["T"] for r in record["video"]})
    assert flops[("joint", Ts[-1])] / flops[("joint", Ts[0])] > flops[("divided", Ts[-1])] / flops[("divided", Ts[0])]


def test_quick_targets_and_markdown(quick_record):
    record, md = quick_record
    targets = record["targets"]
    assert {"target", "limit", "unit", "measured", "met", "where", "reason"} <= set(targets[0])
    for t in targets:
        if t["measured"] is None:  # n = 4096, explorers: not in a quick run
            assert t["met"] is None and t["reason"] == "not measured in this run"
        else:
            assert t["met"] == (t["measured"] <= t["limit"]) and (t["reason"] is None) == t["met"]
    assert md.startswith("# Attention benchmarks: ")
    for title in ("## Targets", "## Attention", "## Peak memory", "## Video"):
        assert title in md
    assert "| target | measured | limit |" in md and "attnlab tiled" in md


def _record(**rows) -> dict:
    return {"attention": [], "memory": [], "explorers": [], **rows}


def _kernel_row(method, n, vs, ms=1.0, B=1):
    return {"group": "kernel", "method": method, "B": B, "H": 12, "n": n, "ms": ms, "vs_reference": vs}


def test_targets_say_by_how_much_and_why_they_are_missed():
    rows = [
        _kernel_row("torch fused", 1024, 1.0),
        _kernel_row("attnlab sdpa", 1024, 1.05),
        _kernel_row("attnlab manual", 1024, 5.0),
        _kernel_row("torch fused", 4096, 1.0),
        _kernel_row("attnlab sdpa", 4096, 1.3, ms=1.3),
        _kernel_row("attnlab tiled", 4096, 1.5),
    ]
    memory_rows = [{"path": "attnlab tiled", "n": 4096, "growth_mb": 80.0}]
    explorer_rows = [
        {"explorer": "heatmap", "heads": 1, "tokens": 8, "reps": 3, "median_ms": 10.0, "after_20_recomputes_ms": 60.0}
    ]
    got = {t["target"]: t for t in report.targets(_record(attention=rows, memory=memory_rows, explorers=explorer_rows))}
    sdpa = got["attnlab sdpa vs torch fused, every size"]
    assert sdpa["measured"] == 1.3 and sdpa["met"] is False and sdpa["missed_at"] == [(1, 4096)]
    assert sdpa["reason"].startswith("missed by 1.18×") and "300 µs per call" in sdpa["reason"]
    manual = got["attnlab manual vs torch fused at n = 1024"]
    assert manual["met"] is False and manual["reason"].startswith("missed by 1.25× (5 × vs 4)")
    assert got["attnlab tiled vs torch fused at n = 4096"]["met"] is True
    assert got["attnlab tiled peak memory growth at n = 4096"]["met"] is False
    assert got["explorer redraw in the kernel, one heatmap"]["met"] is True
    assert got["explorer redraw in the kernel, one heatmap, after 20 recomputes"]["met"] is False
    assert got["explorer redraw in the kernel, head grid"]["met"] is None


def test_attention_rows_directly_at_the_smallest_size():
    rows = attention_rows([(1, 1, [4])], E=8, threads=1, budget_s=0.0)
    assert len(rows) == 8 and {r["n"] for r in rows} == {4}


def test_memory_child_measures_its_own_peak():
    got = memory.child("attnlab tiled", 64, 1, 2, 8, 1)
    assert got["growth_mb"] >= 0 and got["peak_mb"] >= got["baseline_mb"]


def test_video_variants_agree_on_shapes():
    q, k, v = (torch.randn(1, 2, 3, 5, 8) for _ in range(3))  # (b, H, T, P, E)
    assert video.joint(q, k, v, "manual").shape == (1, 2, 15, 8)
    assert video.divided(q, k, v, "sdpa").shape == (1, 2, 3, 5, 8)
    assert video.cross_frame(q, k, v, "manual").shape == (1, 2, 3, 6, 8)


def test_explorer_latency_is_measured_in_a_kernel():
    rows = explorers.explorer_rows(explorers.QUICK, threads=1)
    assert [r["explorer"] for r in rows] == ["heatmap", "grid"]
    for r in rows:
        assert 0 < r["median_ms"] <= r["max_ms"] and r["reps"] == explorers.QUICK["reps"]


def test_chapters_run_in_a_copy_and_report_failures(tmp_path):
    good = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("open('made.txt', 'w').write('x')")])
    bad = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("raise ValueError('broken on purpose')")])
    nbformat.write(good, tmp_path / "01_good.ipynb")
    nbformat.write(bad, tmp_path / "02_bad.ipynb")
    stored = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    rows = chapters.chapter_rows(tmp_path, timeout=120)
    assert [(r["chapter"], r["ok"]) for r in rows] == [("01_good.ipynb", True), ("02_bad.ipynb", False)]
    assert "broken on purpose" in rows[1]["error"] and rows[0]["seconds"] > 0
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == stored  # nothing written beside them


def test_video_matrix_cells_and_table():
    from benchmarks import video_matrix

    c = video_matrix.cell([0.5, 1.0, 0.75, 0.25, 0.5])
    assert (c["median"], c["min"], c["max"], len(c["seeds"])) == (0.5, 0.25, 1.0, 5)
    record = {"architectures": ["A", "B"], "tasks": {"t": {"label": "t", "runs": {"A": {"0": 0.5, "1": 1.0}}}}}
    video_matrix._summarise(record)
    assert record["tasks"]["t"]["accuracy"]["A"]["median"] == 0.75
    lines = video_matrix.table(record).splitlines()
    assert len(lines) == 2 and "75.0 (50–100)" in lines[1] and "—" in lines[1]
    assert list(video_matrix.TASKS) == ["order", "vote-F2", "vote-F3", "vote-F4", "vote-F8"]


def test_redraw_is_measured_in_the_page_and_has_a_target():
    from benchmarks import redraw

    rows = redraw.redraw_rows(reps=redraw.QUICK, warm=1)
    if "error" in rows[0]:
        pytest.skip(rows[0]["error"])
    assert [r["explorer"] for r in rows] == ["intro: typed sentence", "chapter 1: temperature slider"]
    for r in rows:
        assert 0 <= r["median_ms"] <= r["p90_ms"] <= r["max_ms"] and r["reps"] == redraw.QUICK
    got = {t["target"]: t for t in report.targets(_record(redraw=rows))}
    target = got["recompute and redraw of the intro's map in the page"]
    assert target["limit"] == 16.0 and target["measured"] == rows[0]["median_ms"]
    assert "median of" in target["where"] and "p90" in target["where"]
    table = "\n".join(report._md_table(rows, report.COLUMNS["redraw"]))
    assert "| intro: typed sentence |" in table and "redraw" in report.TITLES
