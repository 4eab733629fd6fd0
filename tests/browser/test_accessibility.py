"""The built book for every reader: axe-core's WCAG 2 A and AA rules, and no sideways scroll on a phone.

Every page of _build/html (or $BOOK_HTML) is opened in headless Chromium, in the theme's light and dark
modes (the book follows the reader's system setting), once its math is typeset and its widgets drawn.
axe-core, pinned in package.json and installed by `npm ci` (`make vendor`), is injected from
node_modules/ and run with the WCAG 2.0 and 2.1 A and AA rules; any violation fails the test, listed
with its rule and the first elements it found. A second test sets a 390 px wide viewport (a phone) and
asserts that no page is wider than the window: explorers, tables and code scroll inside their own box.

    make book && .venv/bin/python -m pytest tests/browser/test_accessibility.py -v

Skips, like the other browser tests, without playwright, Chromium, a built book or axe-core.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from . import test_offline_pages as offline
from .test_offline_pages import PAGES, ROOT, file_url, is_local, wait_until_ready, watch_in_flight

browser = offline.browser  # this module's Chromium: the fixture of the offline tests (module scope)

AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PHONE = {"width": 390, "height": 844}
SHOWN_TARGETS = 3  # elements listed per violated rule
# The page's width, the window's, and the outermost elements that reach past the window's right edge
# outside any box that scrolls or clips them (what makes the page scroll sideways).
WIDTHS_JS = """() => {
  const width = document.documentElement.clientWidth;
  const right = (e) => Math.round(e.getBoundingClientRect().right);
  const contained = (e) => {
    for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
      const style = getComputedStyle(a);
      if (style.position === "fixed" || style.visibility === "hidden") return true;
      if (style.overflowX !== "visible" && right(a) <= width + 1) return true;
    }
    return false;
  };
  const past = (e) => right(e) > width + 1 && !contained(e) && getComputedStyle(e).position !== "fixed";
  const name = (e) => [e.tagName.toLowerCase(), ...e.classList].join(".");
  const outermost = Array.from(document.querySelectorAll("body *")).filter((e) => past(e) && !past(e.parentElement));
  return {
    scroll: document.documentElement.scrollWidth,
    window: width,
    too_wide: outermost.slice(0, 5).map((e) => `${name(e)} in ${name(e.parentElement)} (to ${right(e)} px)`),
  };
}"""


@contextmanager
def open_built_page(browser: Any, page_path: str, **context_options: Any) -> Iterator[Any]:
    """Open a built page over file:// in a fresh context (no network), ready: math typeset, widgets drawn."""
    context = browser.new_context(**context_options)
    try:
        context.route("**/*", lambda route: route.continue_() if is_local(route.request.url) else route.abort())
        page = context.new_page()
        in_flight: dict[Any, str] = {}
        watch_in_flight(page, in_flight)
        page.goto(file_url(page_path), wait_until="load")
        wait_until_ready(page, in_flight)
        yield page
    finally:
        context.close()


def axe_violations(page: Any) -> list[str]:
    """axe-core's WCAG 2 A/AA violations in `page`, one line each: rule id, impact, how many, first targets."""
    page.add_script_tag(path=str(AXE_JS))
    violations = page.evaluate(
        """async (tags) => {
             const options = {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]};
             const result = await axe.run(document, options);
             return result.violations.map((v) => ({
               id: v.id, impact: v.impact, help: v.help,
               targets: v.nodes.map((n) => n.target.join(" ")),
             }));
           }""",
        WCAG_TAGS,
    )
    return [
        f"{v['id']} ({v['impact']}, {len(v['targets'])}x: {v['help']}): "
        + "; ".join(v["targets"][:SHOWN_TARGETS])
        + (" ..." if len(v["targets"]) > SHOWN_TARGETS else "")
        for v in violations
    ]


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
@pytest.mark.parametrize("page_path", PAGES)
def test_axe_finds_no_wcag_violation(browser: Any, page_path: str, color_scheme: str) -> None:
    if not AXE_JS.is_file():
        pytest.skip(f"axe-core is not installed ({AXE_JS.relative_to(ROOT)} is missing): npm ci, or make vendor")
    with open_built_page(browser, page_path, color_scheme=color_scheme) as page:
        violations = axe_violations(page)
    assert not violations, f"axe-core, WCAG 2 A/AA, {color_scheme} theme:\n" + "\n".join(violations)


@pytest.mark.parametrize("page_path", PAGES)
def test_no_sideways_scroll_on_a_phone(browser: Any, page_path: str) -> None:
    with open_built_page(browser, page_path, viewport=PHONE) as page:
        widths = page.evaluate(WIDTHS_JS)
    assert widths["scroll"] <= widths["window"], (
        f"at {PHONE['width']} px the page is {widths['scroll']} px wide (window {widths['window']} px); "
        f"outermost elements past the edge: {widths['too_wide']}"
    )
