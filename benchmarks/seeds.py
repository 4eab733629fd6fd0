"""The seed report: every claim a chapter asserts about a trained model, checked for seeds 0–4.

    python benchmarks/seeds.py                       # all chapters, seeds 0-4 (make seeds), minutes
    python benchmarks/seeds.py --chapters ch2 ch3    # some chapters
    python benchmarks/seeds.py --kernels native avx2 default   # and under other CPU kernel sets
    python benchmarks/seeds.py --merge a/seeds.json b/seeds.json   # one report from runs made apart

Small-model training is chaotic: another seed, or another CPU's rounding, sends it elsewhere. A claim
that holds on one trajectory is not a claim. Each (chapter, seed, kernel set) trains in a fresh process on
one thread (ATEN_CPU_CAPABILITY chooses torch's kernels at start-up, so it must be a new process); the
claims modules in ``benchmarks/claims`` train through the same ``attnlab.tasks`` code the chapters use.
The report gives, per claim, how many runs it held for and the min / median / max of what was measured,
and is written to ``benchmarks/results/seeds.{json,md}`` (committed: the chapters quote it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `benchmarks` as a package, run as a script

from benchmarks.claims import CHAPTERS, load  # noqa: E402

SEEDS = (0, 1, 2, 3, 4)
KERNELS = ("native", "avx2", "default")
RESULTS = ROOT / "benchmarks" / "results"


def _worker(chapter: str, seed: int) -> None:
    """In a fresh process: measure one chapter's claims for one seed; print them as JSON."""
    import torch

    torch.set_num_threads(1)
    began = time.perf_counter()
    values = load(chapter).measure(seed)
    print(json.dumps({"values": values, "seconds": time.perf_counter() - began}))


def run_one(chapter: str, seed: int, kernel: str) -> dict:
    env = dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    env.pop("ATEN_CPU_CAPABILITY", None)
    if kernel != "native":
        env["ATEN_CPU_CAPABILITY"] = kernel
    done = subprocess.run(
        [sys.executable, __file__, "--worker", chapter, str(seed)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    row = {"chapter": chapter, "seed": seed, "kernel": kernel}
    if done.returncode != 0:
        return row | {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return row | json.loads(done.stdout.strip().splitlines()[-1])


def summarise(rows: list[dict]) -> list[dict]:
    """Per claim: runs it held for, out of how many, and min / median / max / worst margin."""
    out = []
    for chapter in dict.fromkeys(r["chapter"] for r in rows):
        for claim in load(chapter).CLAIMS:
            values = [r["values"][claim.id] for r in rows if r["chapter"] == chapter and "values" in r]
            runs = [r for r in rows if r["chapter"] == chapter]
            out.append(
                {
                    "chapter": chapter,
                    "claim": claim.id,
                    "text": claim.text,
                    "bound": claim.bound(),
                    "held": sum(claim.holds(v) for v in values),
                    "runs": len(runs),
                    "min": min(values) if values else None,
                    "median": statistics.median(values) if values else None,
                    "max": max(values) if values else None,
                    "margin": min(claim.margin(v) for v in values) if values else None,
                }
            )
    return out


def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.4g}"


def markdown(summary: list[dict], rows: list[dict], seeds, kernels) -> str:
    lines = [
        "# Seed report",
        "",
        f"Seeds {', '.join(map(str, seeds))}; kernel sets: {', '.join(kernels)}. A claim holds when its",
        "measured number lies within its bound in every run. Margin: the smallest distance inside the bound.",
        "",
        "| claim | what the chapter asserts | bound | held | min | median | max | margin |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        lines.append(
            f"| `{s['claim']}` | {s['text']} | {s['bound']} | {s['held']}/{s['runs']} | {_fmt(s['min'])} | "
            f"{_fmt(s['median'])} | {_fmt(s['max'])} | {_fmt(s['margin'])} |"
        )
    errors = [r for r in rows if "error" in r]
    if errors:
        lines += ["", "## Runs that failed", ""]
        lines += [f"- {r['chapter']} seed {r['seed']} ({r['kernel']}): {r['error']}" for r in errors]
    seconds = {}
    for r in rows:
        if "seconds" in r:
            seconds.setdefault(r["chapter"], []).append(r["seconds"])
    lines += ["", "Training and measuring, seconds per run (median): "]
    lines[-1] += ", ".join(f"{c} {statistics.median(s):.0f}" for c, s in seconds.items())
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chapters", nargs="+", choices=CHAPTERS, default=list(CHAPTERS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--kernels", nargs="+", choices=KERNELS, default=["native"])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="runs at once (one thread each)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where seeds.json and seeds.md go")
    parser.add_argument("--merge", nargs="+", type=Path, help="combine these seeds.json files instead of running")
    parser.add_argument("--worker", nargs=2, metavar=("CHAPTER", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker[0], int(args.worker[1]))
        return 0
    began = time.perf_counter()
    if args.merge:
        records = [json.loads(path.read_text()) for path in args.merge]
        rows = [row for record in records for row in record["runs"]]
        args.seeds = sorted({row["seed"] for row in rows})
        args.kernels = sorted({row["kernel"] for row in rows}, key=KERNELS.index)
    else:
        jobs = [(c, s, k) for c in args.chapters for s in args.seeds for k in args.kernels]
        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            rows = list(pool.map(lambda job: run_one(*job), jobs))
    rows.sort(key=lambda r: (CHAPTERS.index(r["chapter"]), r["seed"], KERNELS.index(r["kernel"])))
    summary = summarise(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    record = {"seeds": args.seeds, "kernels": args.kernels, "summary": summary, "runs": rows}
    (args.out / "seeds.json").write_text(json.dumps(record, indent=1) + "\n")
    md = markdown(summary, rows, args.seeds, args.kernels)
    (args.out / "seeds.md").write_text(md)
    print(md)
    print(f"wrote {args.out / 'seeds.json'} and seeds.md in {time.perf_counter() - began:.0f} s")
    failing = [s["claim"] for s in summary if s["held"] != s["runs"]]
    if failing or any("error" in r for r in rows):
        print("claims that do not hold in every run:", ", ".join(failing) or "none (but some runs failed)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
