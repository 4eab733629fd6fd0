"""The machine, the targets, and the record: JSON for tools, markdown for readers.

Targets are checked against rows of the same run; a target that is missed says by how much and why,
and one whose rows were not measured (``--quick``, a skipped section) says that instead.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import torch

from attnlab.measure import RETRIES, RETRY_ABOVE

SCHEMA = 1


def machine(threads: int) -> dict:
    """What the numbers were measured on: processor, cores, threads, torch and its parallel build."""
    cpu = platform.processor() or platform.machine()
    try:
        models = [
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = models[0] if models else cpu
    except OSError:
        pass
    parallel = [line.strip() for line in torch.__config__.parallel_info().splitlines() if line.strip()]
    build = torch.__config__.show().splitlines()
    items = {item.strip() for line in build for item in line.split(",")}
    blas = sorted(item for item in items if item.startswith(("BLAS_INFO=", "LAPACK_INFO=")))
    return {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "torch_threads": threads,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "parallel_info": parallel[:8],
        "blas": blas,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _target(name: str, limit: float, unit: str, measured: float | None, where: str, why: str, **extra) -> dict:
    if measured is None:
        return {
            "target": name,
            "limit": limit,
            "unit": unit,
            "measured": None,
            "met": None,
            "where": where,
            "reason": "not measured in this run",
            **extra,
        }
    met = measured <= limit
    reason = None if met else f"missed by {measured / limit:.2f}× ({measured:.3g} {unit} vs {limit:g}): {why}"
    return {
        "target": name,
        "limit": limit,
        "unit": unit,
        "measured": measured,
        "met": met,
        "where": where,
        "reason": reason,
        **extra,
    }


def _kernel(rows: list[dict], method: str, **where) -> list[dict]:
    return [
        r for r in rows if r["group"] == "kernel" and r["method"] == method and all(r[k] == v for k, v in where.items())
    ]


def _worst(rows: list[dict]) -> dict | None:
    return max(rows, key=lambda r: r["vs_reference"]) if rows else None


def targets(record: dict) -> list[dict]:
    """Each target of the issue, its value in this run, and a reason where it is missed."""
    attention = record.get("attention", [])
    out = []
    sdpa = _worst(_kernel(attention, "attnlab sdpa"))
    why = "attnlab validates shapes and masks in Python before calling the same kernel"
    if sdpa is not None:
        fused = _kernel(attention, "torch fused", B=sdpa["B"], H=sdpa["H"], n=sdpa["n"])[0]
        why += (
            f": {1e3 * (sdpa['ms'] - fused['ms']):.0f} µs per call, which a {1e3 * fused['ms']:.0f} µs "
            f"kernel (B={sdpa['B']}, n={sdpa['n']}) cannot hide"
        )
        missed = sorted({(r["B"], r["n"]) for r in _kernel(attention, "attnlab sdpa") if r["vs_reference"] > 1.1})
        extra = {"worst_at": {"B": sdpa["B"], "H": sdpa["H"], "n": sdpa["n"]}, "missed_at": missed}
    else:
        extra = {}
    out.append(
        _target(
            "attnlab sdpa vs torch fused, every size",
            1.1,
            "×",
            sdpa and sdpa["vs_reference"],
            "kernel rows, all B and n",
            why,
            **extra,
        )
    )
    manual = _worst(_kernel(attention, "attnlab manual", n=1024))
    out.append(
        _target(
            "attnlab manual vs torch fused at n = 1024",
            4.0,
            "×",
            manual and manual["vs_reference"],
            "kernel rows, n = 1024, worst B",
            "its (B, H, n, n) logits and weights leave the cache, and softmax reads and writes them from memory",
        )
    )
    tiled = _worst(_kernel(attention, "attnlab tiled", n=4096))
    out.append(
        _target(
            "attnlab tiled vs torch fused at n = 4096",
            2.0,
            "×",
            tiled and tiled["vs_reference"],
            "kernel rows, n = 4096",
            "the tile's max, subtract, exp and sum are separate passes "
            "in plain PyTorch, which the fused kernel does in registers",
        )
    )
    memory = [r for r in record.get("memory", []) if r["path"] == "attnlab tiled" and r["n"] == 4096]
    memory = [r for r in memory if "growth_mb" in r]
    out.append(
        _target(
            "attnlab tiled peak memory growth at n = 4096",
            64.0,
            "MB",
            memory[0]["growth_mb"] if memory else None,
            "fresh process, B=1, H=12, E=64",
            "the output and one tile of logits per step are allocated; the allocator keeps freed tiles",
        )
    )
    explorers = {r["explorer"]: r for r in record.get("explorers", [])}
    for name, limit, label in (("heatmap", 50.0, "one heatmap"), ("grid", 100.0, "head grid")):
        r = explorers.get(name)
        where = r and f"{r['heads']} head(s) × {r['tokens']} tokens, 3 views, median of {r['reps']} fresh explorers"
        out.append(
            _target(
                f"explorer redraw in the kernel, {label}",
                limit,
                "ms",
                r and r["median_ms"],
                where,
                "the maps become rounded JSON lists in Python and the whole state is sent again",
            )
        )
        grown = r and next(v for k, v in r.items() if k.startswith("after_"))
        out.append(
            _target(
                f"explorer redraw in the kernel, {label}, after 20 recomputes",
                limit,
                "ms",
                grown,
                where and where.replace("median of", "one of"),
                "each recompute re-sends the explorer's whole state: its precomputed settings and up to "
                "MAX_COMPUTED (4) computed ones, about 20 ms per 12-head setting here",
            )
        )
    redraws = {r["explorer"]: r for r in record.get("redraw", []) if "median_ms" in r}
    r = redraws.get("intro: typed sentence")
    out.append(
        _target(
            "recompute and redraw of the intro's map in the page",
            16.0,
            "ms",
            r and r["median_ms"],
            r and f"headless Chromium, no kernel, median of {r['reps']} typed sentences (p90 {r['p90_ms']:.1f} ms)",
            "compute.js runs the head's forward pass and the explorer rebuilds the SVG map and word list",
        )
    )
    return out


# Columns of each section's table: JSON keys, with a format where the value is a number.
COLUMNS = {
    "attention": "group method B:d H:d n:d ms:.3f iqr_ms:.3f gflops:.1f vs_reference:.2f reference of_matmul:.0% "
    "contention:.0% attempts:d",
    "memory": "path n:d B:d H:d growth_mb:.1f nn_matrix_mb:.1f output_mb:.1f error",
    "video": "variant impl T:d P:d D:d H:d ms:.2f iqr_ms:.2f gflop:.3f gflops:.1f of_matmul:.0% contention:.0% "
    "attempts:d",
    "explorers": "explorer heads:d tokens:d median_ms:.1f max_ms:.1f after_20_recomputes_ms:.1f",
    "redraw": "explorer median_ms:.1f p90_ms:.1f max_ms:.1f reps:d error",
    "chapters": "chapter seconds:.1f code_cells:d ok error",
}
TITLES = {
    "attention": "Attention: kernels (reference: torch fused) and layers (reference: nn.MultiheadAttention)",
    "memory": "Peak memory growth, a fresh process per row (nn_matrix_mb: one (B, H, n, n) float32 matrix)",
    "video": "Video: attention over T frames (FLOPs counted on the manual path)",
    "explorers": "Explorer redraw in the kernel (Python side, one torch thread)",
    "redraw": "Explorer recompute and redraw in the page (headless Chromium, no kernel): an edit to the laid-out map",
    "chapters": "Chapters: execution in a fresh kernel",
}


def _md_table(rows: list[dict], columns: str) -> list[str]:
    spec = [c.partition(":")[::2] for c in columns.split()]  # (key, format)
    lines = ["| " + " | ".join(k for k, _ in spec) + " |", "|" + "|".join("---" for _ in spec) + "|"]
    for r in rows:
        lines.append("| " + " | ".join("" if r.get(k) is None else format(r[k], f) for k, f in spec) + " |")
    return [*lines, ""]


def markdown(record: dict) -> str:
    m, share = record["machine"], record["contention"]
    lines = [
        f"# Attention benchmarks: {m['cpu']}, {m['logical_cores']} logical cores, {m['torch_threads']} torch threads",
        "",
        f"torch {m['torch']} ({'; '.join(m['parallel_info'][-1:] + m['blas'])}). "
        f"Matmul throughput measured in this run: {record['matmul_gflops']:.0f} GFLOP/s "
        f"(start {record['matmul_gflops_start']:.0f}, end {record['matmul_gflops_end']:.0f}). "
        f"Load average at start {record['load_average_start']:.1f}, at end {record['load_average_end']:.1f}; "
        f"other processes used {'an unknown share' if share is None else f'{share:.0%}'} of the machine during "
        f"the run (per measurement: contention). Kernel, video and matmul measurements taken while others used "
        f"more than {RETRY_ABOVE:.0%} are retried up to {RETRIES} times and the least disturbed kept; rows "
        "still above it are unreliable, and a path of many small operations (tiled) suffers most from them. "
        f"Medians of interleaved rounds; total {record['seconds']:.0f} s{' (--quick)' if record['quick'] else ''}.",
        "",
        "## Targets",
        "",
    ]
    met = {True: "yes", False: "**no**", None: "–"}
    targets = [{**t, "met": met[t["met"]], "reason": t["reason"] or ""} for t in record["targets"]]
    lines += _md_table(targets, "target measured:.3g limit:g unit met where reason")
    for key, columns in COLUMNS.items():
        if record.get(key):
            lines += [f"## {TITLES[key]}", "", *_md_table(record[key], columns)]
    return "\n".join(lines)


def write(record: dict, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "bench.json", out / "bench.md"
    json_path.write_text(json.dumps(record, indent=2) + "\n")
    md_path.write_text(markdown(record))
    return json_path, md_path
