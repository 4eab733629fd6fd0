"""Chapter 5's vote task, trained from several seeds: how reliable the chapter's one-seed margin is.

The chapter trains CLIP-mean, MIT and CFA + mean once (seed 0), which is what fits in its minute. This
section runs the chapter's own cells (those whose metadata carries ``attnlab.vote-study``: imports, data,
the model class and ``vote_model``), so the study cannot drift from the chapter, and trains every model
from each seed. One row per model and seed: test accuracy and training seconds.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "chapters" / "05_cross_frame_attention.ipynb"
FULL_SEEDS = (0, 1, 2, 3, 4)
QUICK_SEEDS = (0,)


def study_namespace(chapter: Path = CHAPTER) -> dict:
    """Run the chapter's study cells, in order, without showing figures; return their namespace."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib.pyplot as plt

    nb = nbformat.read(chapter, as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code" and c.metadata.get("attnlab", {}).get("vote-study")]
    if not cells:
        raise RuntimeError(f"{chapter.name} has no cells marked attnlab.vote-study")
    namespace: dict = {"__name__": "vote_study"}
    for source in cells:
        exec(compile(source, f"{chapter.name} (study cell)", "exec"), namespace)
    plt.close("all")
    return namespace


def vote_rows(seeds: tuple[int, ...], threads: int = 1) -> list[dict]:
    """Accuracy of every vote model from every seed, trained exactly as the chapter trains seed 0."""
    import torch

    ns = study_namespace()
    torch.set_num_threads(threads)
    rows = []
    for seed in seeds:
        for name in ns["VOTE_SETUPS"]:
            began = time.perf_counter()
            model = ns["vote_model"](name, seed)
            seconds = time.perf_counter() - began
            rows.append(
                {
                    "model": name,
                    "seed": seed,
                    "accuracy": ns["accuracy_of"](model, ns["vote_test"].videos, ns["vote_test"].labels),
                    "train_s": seconds,
                }
            )
    return rows


def summary(rows: list[dict]) -> list[dict]:
    """Per model: mean, lowest and highest accuracy over the seeds, and how many seeds reached 95 %."""
    out = []
    for name in dict.fromkeys(r["model"] for r in rows):
        acc = [r["accuracy"] for r in rows if r["model"] == name]
        out.append(
            {
                "model": name,
                "seeds": len(acc),
                "mean": sum(acc) / len(acc),
                "lowest": min(acc),
                "highest": max(acc),
                "solved": sum(a >= 0.95 for a in acc),
            }
        )
    return out


if __name__ == "__main__":
    rows = vote_rows(FULL_SEEDS)
    for r in rows:
        print(f"{r['model']:<11} seed {r['seed']}  {100 * r['accuracy']:5.1f} %  {r['train_s']:.1f} s")
    for s in summary(rows):
        print(s)
