"""The book's sources keep their promises: one repository URL, Binder's pins, a Colab install cell."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPO_URL = CONFIG["repository"]["url"]
INSTALL = re.compile(r"except ImportError:\s*\n\s*%pip install --quiet \"attnlab\[book\] @ git\+(?P<url>\S+)\"")


def pins(path: Path) -> dict[str, str]:
    lines = [ln.strip() for ln in path.read_text().splitlines()]
    return dict(ln.split("==") for ln in lines if ln and not ln.startswith(("#", "-")))


def notebooks() -> list[Path]:
    return [ROOT / "book" / "intro.md", *sorted((ROOT / "chapters").glob("*.ipynb"))]


def first_code_cell(path: Path) -> str:
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        return "".join(next(c for c in cells if c["cell_type"] == "code")["source"])
    return path.read_text().split("```{code-cell} ipython3", 1)[1].split("```", 1)[0]


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_first_cell_installs_attnlab_from_the_configured_repository(path):
    match = INSTALL.search(first_code_cell(path))
    assert match, f"{path.name}: the first code cell must install attnlab when it is missing (Colab)"
    assert match["url"] == REPO_URL, f"{path.name} installs from {match['url']}, _config.yml says {REPO_URL}"


def test_one_repository_url_everywhere():
    assert REPO_URL.startswith("https://")
    assert f"git clone {REPO_URL}" in (ROOT / "book" / "how_to_use.md").read_text()
    launch = CONFIG["launch_buttons"]
    assert launch["binderhub_url"] and launch["colab_url"]
    assert CONFIG["html"]["use_repository_button"] and CONFIG["html"]["use_download_button"]


def test_binder_pins_agree_with_requirements_and_take_cpu_torch():
    binder, main = pins(ROOT / "binder" / "requirements.txt"), pins(ROOT / "requirements.txt")
    assert binder.pop("torch") == main["torch"] + "+cpu"
    assert "download.pytorch.org/whl/cpu" in (ROOT / "binder" / "requirements.txt").read_text()
    for name, version in binder.items():
        if name in main:
            assert version == main[name], f"binder pins {name}=={version}, requirements.txt {main[name]}"
    assert "pip install --no-deps -e ." in (ROOT / "binder" / "postBuild").read_text()


def test_ci_and_publishing_call_the_same_make_targets():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in (ROOT / ".ci" / "run").read_text()
    workflow = (ROOT / ".github" / "workflows" / "book.yml").read_text()
    assert "run: make test" in workflow and "run: make book" in workflow


def test_every_included_source_file_exists():
    """The chapters show package code with {literalinclude}: a moved module must not break the build."""
    pattern = re.compile(r"\{literalinclude\}\s+(\S+)")
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            for target in pattern.findall("".join(cell["source"])):
                assert (path.parent / target).is_file(), f"{path.name} includes {target}, which does not exist"


@pytest.mark.parametrize("path", sorted((ROOT / "chapters").glob("*.ipynb")), ids=lambda p: p.name)
def test_no_stored_output_shows_a_failed_exercise_and_no_cell_runs_a_worked_solution(path):
    """An untouched stub is stored neutral ("your answer goes here"), never as a red failure; a worked
    solution is behind reveal(id), or in the "Worked answers" at the end of the page, never run in a
    hidden cell right under its task."""
    cells = json.loads(path.read_text())["cells"]
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        texts = [
            "".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", ""))
            for out in cell.get("outputs", [])
        ]
        if "# your code here" in source and "check(" in source:  # an untouched stub, checked
            assert any("your answer goes here" in t for t in texts), f"{path.name} cell {index}: stub not neutral"
            assert not any(": not yet" in t for t in texts), f"{path.name} cell {index} stores a failed stub"
        assert not ("check(" in source and "assert result.passed" in source), (
            f"{path.name} cell {index} runs a worked solution under its task: use reveal(id)"
        )
    exercises = next((i for i, c in enumerate(cells) if "## Exercises" in "".join(c["source"])), len(cells))
    answers = next((i for i, c in enumerate(cells) if "## Worked answers" in "".join(c["source"])), len(cells))
    hidden = [
        i
        for i, c in enumerate(cells[exercises:answers], start=exercises)
        if c["cell_type"] == "code" and "hide-input" in c.get("metadata", {}).get("tags", [])
    ]
    assert not hidden, f"{path.name}: hidden worked cells {hidden} run right under their tasks"


@pytest.mark.parametrize("path", sorted((ROOT / "chapters").glob("*.ipynb")), ids=lambda p: p.name)
def test_every_stored_figure_has_an_alt_text(path):
    """A figure's alt text is its cell's `mystnb.image.alt` metadata. Without one, Sphinx writes the image's
    file name as the alt, which tells a screen reader nothing and still passes a check for a non-empty alt."""
    missing = []
    for index, cell in enumerate(json.loads(path.read_text())["cells"]):
        figures = [out for out in cell.get("outputs", []) if any(k.startswith("image/") for k in out.get("data", {}))]
        alt = cell.get("metadata", {}).get("mystnb", {}).get("image", {}).get("alt", "")
        if figures and len(alt.split()) < 8:  # a sentence, at least
            missing.append(index)
    assert not missing, f"{path.name}: figures without an alt text (cell metadata mystnb.image.alt) in cells {missing}"
