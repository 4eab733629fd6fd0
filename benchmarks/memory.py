"""Peak memory of each attention path, each (path, n) in a fresh process.

A fresh process, because an allocator keeps what it once held: measured in one process, the second
path would inherit the first one's peak. The child imports torch, warms the path up on a tiny input
(kernels loaded, threads started), allocates q, k, v, reads its peak resident set size (the baseline),
runs the path once and reads the peak again (VmHWM, see :func:`_peak_mb`). The growth is what the path
itself needed, output included.

    python -m benchmarks.memory --child "attnlab tiled" 4096 1 12 64 2   # one measurement, as JSON
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATHS = ("torch fused", "attnlab sdpa", "attnlab manual", "attnlab tiled")
FULL_SIZES = [256, 1024, 4096]
QUICK_SIZES = [64]


def _peak_mb() -> float:
    """This process's peak resident set size, MB.

    VmHWM where Linux has it: ``ru_maxrss`` survives fork and exec, so a child of a process that once
    held 2 GB would start with a 2 GB "peak" and show no growth at all.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _path_fn(path: str):
    import torch.nn.functional as F

    import attnlab

    if path == "torch fused":
        return F.scaled_dot_product_attention
    impl = path.removeprefix("attnlab ")
    return lambda q, k, v: attnlab.scaled_dot_product_attention(q, k, v, impl=impl)


def child(path: str, n: int, B: int, H: int, E: int, threads: int) -> dict:
    """Run in the fresh process: one path, one size; returns the measurement."""
    import torch

    torch.set_num_threads(threads)
    fn = _path_fn(path)
    with torch.inference_mode():
        fn(*(torch.randn(B, H, 16, E) for _ in range(3)))  # warm-up: the baseline includes the runtime
        q, k, v = (torch.randn(B, H, n, E) for _ in range(3))  # (B, H, n, E)
        baseline = _peak_mb()
        out = fn(q, k, v)
        peak = _peak_mb()
    assert out.shape == (B, H, n, E)
    return {"baseline_mb": baseline, "peak_mb": peak, "growth_mb": peak - baseline}


def memory_rows(sizes: list[int], *, B: int, H: int, E: int, threads: int, paths=PATHS) -> list[dict]:
    """One fresh process per (path, n); growth of the peak RSS in MB next to the sizes that explain it."""
    rows = []
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    for n in sizes:
        weights_mb = B * H * n * n * 4 / 2**20  # one (B, H, n, n) float32 matrix
        output_mb = B * H * n * E * 4 / 2**20
        for path in paths:
            args = [sys.executable, "-m", "benchmarks.memory", "--child", path, *map(str, (n, B, H, E, threads))]
            done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
            row = {"path": path, "n": n, "B": B, "H": H, "E": E, "nn_matrix_mb": weights_mb, "output_mb": output_mb}
            if done.returncode == 0:
                row.update(json.loads(done.stdout.strip().splitlines()[-1]))
            else:
                row["error"] = (done.stderr.strip().splitlines() or ["no output"])[-1]
            rows.append(row)
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 8 and sys.argv[1] == "--child":
        path, *numbers = sys.argv[2:]
        print(json.dumps(child(path, *map(int, numbers))))
    else:
        sys.exit(__doc__)
