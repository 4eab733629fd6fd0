"""Execute chapter notebooks in place and store their outputs, as the book and nbval expect them.

    .venv/bin/python tools/run_notebook.py chapters/02_multi_head_attention.ipynb [...]

Each notebook runs in a fresh kernel with its own folder as the working directory, on the machine's
native kernels (set ATEN_CPU_CAPABILITY to try another set). Prints each notebook's run time.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def run(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    began = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - began
    nbformat.write(nb, path)
    return seconds


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(f"{arg}: {run(Path(arg)):.1f} s", flush=True)
