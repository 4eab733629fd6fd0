"""Chapter 5's task × architecture matrix: every video classifier on every task, from seeds 0–4.

    python benchmarks/video_matrix.py                      # every cell, minutes; writes the package data
    python benchmarks/video_matrix.py --tasks vote-F2 --seeds 0 1 --out /tmp/matrix.json

Four architectures (CLIP-mean, MIT, CFA + mean, X-CLIP) against three kinds of task: the order task
(frame positions needed), the vote at a narrow frame feature (F = 2: a mean of frame features cannot be
exact, the frames would have to exchange detail before each is summarised) and the vote at wider ones
(F = 3, 4, 8: a mean of frame features can be exact). Every model
is trained with ``attnlab.tasks.video_models.train``, the function chapter 5 calls, on one thread; each
cell keeps every seed's test accuracy and their median, lowest and highest. The result is written to
``attnlab/tasks/video_matrix.json``, which the chapter draws (``load_matrix``) instead of training.
A run can be resumed: cells already in ``--out`` for the same setup are kept unless ``--fresh``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from attnlab.tasks.video_models import (  # noqa: E402
    ARCHITECTURES,
    MATRIX_PATH,
    ORDER,
    VideoSetup,
    accuracy_of,
    order_data,
    train,
    vote_data,
    vote_setup,
)

SEEDS = (0, 1, 2, 3, 4)
# task id: (setup, label, what it tests)
TASKS: dict[str, tuple[VideoSetup, str, str]] = {
    "order": (ORDER, "order", "left or right: the same frames in opposite orders; frame positions needed"),
    **{
        f"vote-F{F}": (vote_setup(F), f"vote, F = {F}", f"the colour in the most frames; frame features {F} wide")
        for F in (2, 3, 4, 8)
    },
}


def _data(task: str):
    """(training set, test videos, test labels) of a task."""
    if task == "order":
        d = order_data()
        return d.train, d.test_x, d.test_y
    train_set, test = vote_data()
    return train_set, test.videos, test.labels


def cell(values: list[float]) -> dict:
    """One cell of the matrix: every seed's accuracy, their median, lowest and highest."""
    return {
        "seeds": values,
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
    }


def run(tasks: list[str], seeds: list[int], out: Path, fresh: bool = False) -> dict:
    """Train every architecture on ``tasks`` from ``seeds``; write the matrix to ``out`` after each model."""
    torch.set_num_threads(1)
    record = {} if fresh or not out.is_file() else json.loads(out.read_text())
    record.setdefault("tasks", {})
    kernels = os.environ.get("ATEN_CPU_CAPABILITY", "native")
    record.update({"torch": torch.__version__, "kernels": kernels, "threads": 1, "architectures": list(ARCHITECTURES)})
    for task in tasks:
        setup, label, what = TASKS[task]
        entry = record["tasks"].get(task, {})
        if entry.get("setup") != dataclasses.asdict(setup):  # another setup: start this row again
            entry = {"setup": dataclasses.asdict(setup), "runs": {}}
        entry.update(label=label, what=what)
        record["tasks"][task] = entry
        train_set, test_x, test_y = _data(task)
        for name in ARCHITECTURES:
            runs = entry["runs"].setdefault(name, {})
            for seed in seeds:
                if str(seed) in runs:
                    continue
                began = time.perf_counter()
                model = train(name, setup, train_set, seed=seed)
                runs[str(seed)] = accuracy_of(model, test_x, test_y)
                print(
                    f"{task:<12} {name:<11} seed {seed}  {100 * runs[str(seed)]:5.1f} %  "
                    f"{time.perf_counter() - began:.0f} s",
                    flush=True,
                )
                _summarise(record)
                out.write_text(json.dumps(record, indent=1) + "\n")
    _summarise(record)
    out.write_text(json.dumps(record, indent=1) + "\n")
    return record


def _summarise(record: dict) -> None:
    order = [*TASKS, *record["tasks"]]  # the rows in TASKS's order
    record["tasks"] = dict(sorted(record["tasks"].items(), key=lambda item: order.index(item[0])))
    for entry in record["tasks"].values():
        entry["accuracy"] = {
            name: cell([runs[s] for s in sorted(runs, key=int)]) for name, runs in entry["runs"].items() if runs
        }


def table(record: dict) -> str:
    """The matrix as text: median (lowest–highest) per task and architecture, in %."""
    names = record["architectures"]
    lines = [f"{'task':<14}" + "".join(f"{n:>22}" for n in names)]
    for task, entry in record["tasks"].items():
        row = f"{task:<14}"
        for n in names:
            c = entry["accuracy"].get(n)
            row += (
                f"{'—':>22}"
                if c is None
                else f"{100 * c['median']:>9.1f} ({100 * c['min']:.0f}–{100 * c['max']:.0f})".rjust(22)
            )
        lines.append(row)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--out", type=Path, default=MATRIX_PATH)
    parser.add_argument("--fresh", action="store_true", help="retrain every cell")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    record = run(args.tasks, args.seeds, args.out, args.fresh)
    print(table(record))
    print(f"wrote {args.out} in {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
