"""Count what the chapters define and how wide their code is: top-level functions and classes outside the
Exercises section, and code lines wider than the page (88 characters).

    .venv/bin/python tools/chapter_stats.py            # a table per chapter
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

WIDTH = 88
ROOT = Path(__file__).resolve().parent.parent


def _code(source: str) -> str:
    """The cell's Python, with IPython magics (%pip, !cmd) blanked out."""
    lines = source.splitlines()
    return "\n".join(
        line.replace("%", "pass  #", 1) if line.lstrip().startswith(("%", "!")) else line for line in lines
    )


def stats(path: Path) -> dict:
    nb = json.loads(path.read_text())
    names, wide, exercises = [], 0, False
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and "## Exercises" in source.splitlines():
            exercises = True
        if cell["cell_type"] != "code":
            continue
        wide += sum(len(line) > WIDTH for line in source.splitlines())
        if exercises:
            continue
        for node in ast.parse(_code(source)).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.append(node.name)
    return {"definitions": names, "wide_lines": wide}


def main() -> int:
    total_defs = total_wide = 0
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        s = stats(path)
        total_defs += len(s["definitions"])
        total_wide += s["wide_lines"]
        print(f"{path.name:40s} {len(s['definitions']):3d} definitions, {s['wide_lines']:4d} lines > {WIDTH}")
        print("    " + ", ".join(s["definitions"]))
    print(f"{'all chapters':40s} {total_defs:3d} definitions, {total_wide:4d} lines > {WIDTH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
