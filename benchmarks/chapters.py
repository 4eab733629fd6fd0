"""How long each chapter takes to execute, top to bottom, in a fresh kernel.

The chapters directory is copied to a temporary directory and each notebook runs there, so the stored
notebooks (and their outputs) are never touched and anything a chapter writes lands in the copy.
Kernel start-up is included: it is part of what a reader waits for.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent


def chapter_rows(chapters: Path = ROOT / "chapters", timeout: int = 600) -> list[dict]:
    """One row per notebook: seconds to execute it, and whether every cell ran."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="attnlab-bench-") as tmp:
        copy = Path(tmp) / chapters.name
        shutil.copytree(chapters, copy, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        for path in sorted(copy.glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": copy}})
            start = time.perf_counter()
            error = None
            try:
                client.execute()
            except CellExecutionError as err:
                error = str(err).strip().splitlines()[-1][:200]
            seconds = time.perf_counter() - start
            cells = sum(c.cell_type == "code" for c in nb.cells)
            rows.append(
                {"chapter": path.name, "seconds": seconds, "code_cells": cells, "ok": error is None, "error": error}
            )
    return rows
