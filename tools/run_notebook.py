"""Execute chapter notebooks in place and store their outputs, as the book and nbval expect them.

    .venv/bin/python tools/run_notebook.py chapters/02_multi_head_attention.ipynb [...]

Each notebook runs in a fresh kernel with its own folder as the working directory, on the machine's
native kernels (set ATEN_CPU_CAPABILITY to try another set). Prints each notebook's run time and its
five slowest cells (nbclient records each cell's start and end in its metadata).
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def run(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    began = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - began
    nbformat.write(nb, path)
    for took, index, first_line in slowest(nb):
        print(f"  cell {index}: {took:.1f} s  {first_line}")
    return seconds


def slowest(nb: nbformat.NotebookNode, count: int = 5) -> list[tuple[float, int, str]]:
    """The ``count`` slowest code cells: (seconds, index, first line), from nbclient's timing metadata."""
    times = []
    for index, cell in enumerate(nb.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        if cell.cell_type == "code" and "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            began, ended = (datetime.fromisoformat(timing[k]) for k in ("iopub.execute_input", "shell.execute_reply"))
            times.append(((ended - began).total_seconds(), index, cell.source.splitlines()[0][:60]))
    return sorted(times, reverse=True)[:count]


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(f"{arg}: {run(Path(arg)):.1f} s", flush=True)
