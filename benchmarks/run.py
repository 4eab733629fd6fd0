"""Measure what attention costs on this machine; write _build/bench/bench.json and bench.md.

    python benchmarks/run.py --out _build/bench            # everything (make bench), a few minutes
    python benchmarks/run.py --out /tmp/b --quick          # tiny sizes, no chapters: a smoke test

Sections: attention (attnlab's manual, tiled and sdpa paths and torch's fused kernel; attnlab's and
torch's multi-head layers), memory (peak growth per path, a fresh process each), video (joint, divided
and cross-frame attention as T grows), explorers (redraw latency in a kernel) and chapters (execution
time of every chapter). Chapter 5's task × architecture matrix, trained from five seeds, is its own script
(benchmarks/video_matrix.py), as it writes package data. Timings are medians of interleaved rounds with
an explicit thread count; speed is given as a ratio to torch's fused kernel and as a share of the matmul
throughput, both measured in the same run. Then each target of the issue is checked.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `benchmarks` as a package, run as a script

import torch

from attnlab.measure import RETRIES, Contention, matmul_gflops
from benchmarks import attention, chapters, explorers, memory, redraw, report, video

SECTIONS = ("attention", "memory", "video", "explorers", "redraw", "chapters")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("_build/bench"))
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads (default: all)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, short budgets, no chapters")
    parser.add_argument(
        "--chapters",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="execute every chapter and time it (about a minute; default: on, off with --quick)",
    )
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="what to measure")
    parser.add_argument("--budget", type=float, default=None, help="seconds of timing per measured shape")
    args = parser.parse_args(argv)
    if args.chapters is None:
        args.chapters = not args.quick
    if not args.chapters and "chapters" in args.sections:
        args.sections.remove("chapters")
    if args.budget is None:
        args.budget = 0.05 if args.quick else 2.0
    return args


def _sections(args: argparse.Namespace, record: dict) -> None:
    """Measure every section asked for into ``record``, with the seconds each took."""
    quick = args.quick
    measures = {
        "attention": lambda: attention.attention_rows(
            attention.QUICK if quick else attention.FULL, 64, args.threads, args.budget
        ),
        "memory": lambda: memory.memory_rows(
            memory.QUICK_SIZES if quick else memory.FULL_SIZES,
            B=1,
            H=2 if quick else 12,
            E=64,
            threads=args.threads,
            paths=("torch fused", "attnlab tiled") if quick else memory.PATHS,
        ),
        "video": lambda: video.video_rows(video.QUICK if quick else video.FULL, args.threads, args.budget),
        "explorers": lambda: explorers.explorer_rows(explorers.QUICK if quick else explorers.FULL, threads=1),
        "redraw": lambda: redraw.redraw_rows(redraw.QUICK if quick else redraw.FULL),
        "chapters": chapters.chapter_rows,
    }
    for name in SECTIONS:
        if name in args.sections:
            began = time.perf_counter()
            print(f"measuring {name} …", flush=True)
            record[name] = measures[name]()
            record.setdefault("section_seconds", {})[name] = time.perf_counter() - began


def run(args: argparse.Namespace) -> dict:
    start = time.perf_counter()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    record: dict = {"schema": report.SCHEMA, "quick": args.quick, "machine": report.machine(args.threads)}
    load_start, matmul_n = os.getloadavg()[0], 256 if args.quick else 1024
    with Contention() as whole:
        matmul_start = matmul_gflops(matmul_n, threads=args.threads, budget_s=args.budget, retries=RETRIES)
        _sections(args, record)
        matmul_end = matmul_gflops(matmul_n, threads=args.threads, budget_s=args.budget, retries=RETRIES)
    peak = max(matmul_start, matmul_end)  # the machine's ceiling: the less disturbed of the two
    for key in ("attention", "video"):
        for row in record.get(key, []):
            row["of_matmul"] = row["gflops"] / peak
    record.update(
        matmul_gflops=peak,
        matmul_gflops_start=matmul_start,
        matmul_gflops_end=matmul_end,
        load_average_start=load_start,
        load_average_end=os.getloadavg()[0],
        contention=whole.share,
        seconds=time.perf_counter() - start,
    )
    record["targets"] = report.targets(record)
    return record


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    record = run(args)
    json_path, md_path = report.write(record, args.out)
    print(md_path.read_text())
    print(f"wrote {json_path} and {md_path} in {record['seconds']:.0f} s")


if __name__ == "__main__":
    main()
