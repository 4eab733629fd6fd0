"""Sphinx extension: every page of the book passes axe-core's WCAG 2 A and AA rules and fits a phone.

Listed under `sphinx: local_extensions` in _config.yml; tests/browser/test_accessibility.py checks the
built pages. It does two things:

- adds tools/accessibility_static/accessibility.css to every page (contrast of the exercises' check
  results, inline code that wraps at 390 px);
- once the HTML is written, mends markup that Sphinx, docutils, myst-nb and the theme write and that
  axe-core rejects (the `FIXES` below). Each fix is a regular expression applied to every page; running
  it twice changes nothing, and a page it does not match is left as it is.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.util import logging

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "accessibility_static"
CSS = "accessibility.css"

# (what axe-core reports, pattern, replacement)
FIXES: list[tuple[str, re.Pattern[str], str]] = [
    # docutils marks each citation of a bibliography `role="doc-biblioentry"` (deprecated in DPUB-ARIA
    # 1.1) inside a `role="list"`, which then has no list items: a list item is what each entry is.
    (
        "aria-deprecated-role, aria-required-children: the bibliography's entries",
        re.compile(r'(<div class="citation"[^>]*?) role="doc-biblioentry"'),
        r'\1 role="listitem"',
    ),
    # myst-nb's hidden-cell toggles are named "Toggle hidden content" but read "Show code cell source":
    # without the label the name is the visible text.
    (
        "label-content-name-mismatch: the toggles of hidden cells",
        re.compile(r'<summary aria-label="Toggle hidden content">'),
        "<summary>",
    ),
    # The theme's search field button shows "Search Ctrl+K" and is named "Search".
    (
        "label-content-name-mismatch: the search button",
        re.compile(r'(<button class="[^"]*\bsearch-button-field\b[^"]*"[^>]*?) aria-label="Search"'),
        r"\1",
    ),
    # The colour-mode button (named "Color mode") holds three icons titled Light, Dark and System
    # Settings; Font Awesome turns each title into the text of an SVG, which then no longer matches the
    # name. Untitled, the icons are decorative (aria-hidden) and the button keeps its name.
    (
        "label-content-name-mismatch: the colour-mode button",
        re.compile(r'(<i class="theme-switch\b[^"]*"[^>]*?) title="[^"]*"'),
        r"\1",
    ),
]


def add_static_path(app: Sphinx, config: Config) -> None:
    # Sphinx copies static files only when it writes pages: a config value that changes with the CSS
    # makes it rewrite them (and copy the CSS) after an edit of the CSS alone.
    config.accessibility_css_fingerprint = hashlib.sha256((STATIC / CSS).read_bytes()).hexdigest()
    config.html_static_path = [*config.html_static_path, str(STATIC)]


def mend_pages(app: Sphinx, exception: Exception | None) -> None:
    """Apply FIXES to every HTML page the builder wrote."""
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    counts = dict.fromkeys((what for what, _, _ in FIXES), 0)
    for path in outdir.rglob("*.html"):
        if path.relative_to(outdir).parts[0] in {"_static", "_sources", "_images"}:
            continue
        text = path.read_text(encoding="utf-8")
        mended = text
        for what, pattern, replacement in FIXES:
            mended, n = pattern.subn(replacement, mended)
            counts[what] += n
        if mended != text:
            path.write_text(mended, encoding="utf-8")
    logger.info("accessibility: %s", "; ".join(f"{what} ({n})" for what, n in counts.items()))


def setup(app: Sphinx) -> dict[str, object]:
    app.add_config_value("accessibility_css_fingerprint", "", "html")  # set by add_static_path
    app.connect("config-inited", add_static_path)
    app.add_css_file(CSS)
    app.connect("build-finished", mend_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
