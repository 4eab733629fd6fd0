"""Time attnlab's attention paths against torch's fused kernel; write a JSON record and a table.

    python benchmarks/run.py --out _build/bench [--sizes 64 256 1024] [--threads 2]

Methods are interleaved at each size and timed with ``torch.utils.benchmark`` (median of blocked runs),
with an explicit thread count. Speed is reported as a ratio to torch's fused kernel measured in the
same run, and as a fraction of this machine's matmul throughput measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils import benchmark

import attnlab


def median_seconds(fn, threads: int, min_run_time: float) -> float:
    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=threads)
    return timer.blocked_autorange(min_run_time=min_run_time).median


def matmul_gflops(threads: int, n: int = 1024) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n**3 / median_seconds(lambda: a @ b, threads, 0.5) / 1e9


def attention_rows(sizes: list[int], batch: int, heads: int, width: int, threads: int, min_run_time: float):
    methods = {
        "torch fused": lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
        **{
            f"attnlab {impl}": (lambda q, k, v, impl=impl: attnlab.scaled_dot_product_attention(q, k, v, impl=impl))
            for impl in attnlab.IMPLS
        },
    }
    rows = []
    for n in sizes:
        q, k, v = (torch.randn(batch, heads, n, width) for _ in range(3))
        flops = 4 * batch * heads * n * n * width  # QKᵀ and weights·V, two flops per multiply-add
        with torch.inference_mode():
            for f in methods.values():  # warm up: first calls pay for dispatch and allocation
                f(q, k, v)
            times = {
                name: median_seconds(lambda f=f, q=q, k=k, v=v: f(q, k, v), threads, min_run_time)
                for name, f in methods.items()
            }
        for name, seconds in times.items():
            rows.append(
                {
                    "method": name,
                    "n": n,
                    "ms": seconds * 1e3,
                    "gflops": flops / seconds / 1e9,
                    "vs_fused": seconds / times["torch fused"],
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("_build/bench"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 64, 256, 1024])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--min-run-time", type=float, default=0.3, help="seconds per measurement")
    args = parser.parse_args()

    torch.manual_seed(0)
    peak = matmul_gflops(args.threads)
    rows = attention_rows(args.sizes, args.batch, args.heads, args.width, args.threads, args.min_run_time)
    for row in rows:
        row["fraction_of_matmul_peak"] = row["gflops"] / peak
    record = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "threads": args.threads,
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "matmul_gflops": peak,
        },
        "shape": {"B": args.batch, "H": args.heads, "E": args.width},
        "attention": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(record, indent=2))
    lines = [
        f"# Attention on {record['machine']['cpu']}, {args.threads} threads, torch {torch.__version__}",
        "",
        f"Matmul peak measured in this run: {peak:.0f} GFLOP/s. Shape: B={args.batch}, H={args.heads}, E={args.width}.",
        "",
        "| method | n | ms | GFLOP/s | × fused | of matmul peak |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['method']} | {r['n']} | {r['ms']:.3f} | {r['gflops']:.1f} | {r['vs_fused']:.2f} | "
        f"{r['fraction_of_matmul_peak']:.0%} |"
        for r in rows
    ]
    (args.out / "bench.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"\nwrote {args.out / 'bench.json'} and {args.out / 'bench.md'}")


if __name__ == "__main__":
    main()
