"""The built book in headless Chromium: nothing from the network, math typeset, every widget rendered.

Each page of _build/html is opened twice, over file:// and over http://127.0.0.1 (the handler of
`python -m http.server`, in a thread). A request that leaves the machine is blocked and fails the test,
as do failed requests, HTTP errors, console errors and uncaught exceptions. Then every `.math` element
must hold MathJax output and every widget view an element the widget manager drew.

    make book && .venv/bin/python -m pytest tests/browser -v

Needs the `playwright` package (pip; do not run `playwright install`) and a Chromium at
PATH (or $CHROMIUM); $BOOK_HTML points at another built site. Skips when any is missing.
Page-specific interactions (a slider that must move a plot, a click that must redraw) go in
INTERACTIONS, written with the helpers below.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from .browser import CHROMIUM_ARGS, chromium_path

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html"))
LOCAL_SCHEMES = {"file", "data", "blob", "about"}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
TIMEOUT_MS = 20_000
# Console errors known to be harmless, as regular expressions. Keep this empty if you can.
IGNORED_CONSOLE_ERRORS: list[re.Pattern[str]] = []
VIEW_SCRIPT = 'script[type="application/vnd.jupyter.widget-view+json"]'


def built_pages() -> list[str]:
    """Every HTML page of the built site, relative to it, except redirects."""
    if not (SITE / "index.html").is_file():
        return []
    pages = []
    for path in sorted(SITE.rglob("*.html")):
        rel = path.relative_to(SITE).as_posix()
        if rel.startswith(("_static/", "_sources/", "_images/")):
            continue
        if 'http-equiv="Refresh"' in path.read_text(encoding="utf-8", errors="replace")[:2000]:
            continue  # index.html: a redirect to the first page
        pages.append(rel)
    return pages


PAGES = built_pages() or [pytest.param(None, marks=pytest.mark.skip(reason=f"no built book in {SITE}: make book"))]


# ----------------------------------------------------------------------------------------------------
# Fixtures: one Chromium for the module and one local http server for the session


# Module scope: each test module starts and stops its own Chromium, so that the sync playwright of one
# module has stopped before another module's (tests/browser/browser.py's chromium_page) starts.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is not installed (pip install playwright)"
    )
    executable = chromium_path()
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def http_root() -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def file_url(page_path: str = "") -> str:
    """The built page's address over file://."""
    return SITE.resolve().as_uri() + "/" + page_path


@pytest.fixture(params=["file", "http"])
def site_root(request: pytest.FixtureRequest) -> str:
    if request.param == "file":
        return file_url()
    return request.getfixturevalue("http_root")


# ----------------------------------------------------------------------------------------------------
# Helpers, for the tests below and for page-specific checks


@dataclass
class PageRecord:
    """What a page did while it loaded and ran."""

    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # left the machine: always a failure
    failed: list[str] = field(default_factory=list)
    http_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    in_flight: dict[Any, str] = field(default_factory=dict)  # started, not yet finished or failed

    def problems(self) -> list[str]:
        return [
            *(f"network request (blocked): {url}" for url in self.blocked),
            *(f"failed request: {entry}" for entry in self.failed),
            *(f"HTTP error: {entry}" for entry in self.http_errors),
            *(f"console error: {text}" for text in self.console_errors),
            *(f"uncaught exception: {text}" for text in self.page_errors),
        ]


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or (parts.scheme in {"http", "https"} and parts.hostname in LOCAL_HOSTS)


@contextmanager
def open_page(browser: Any, url: str) -> Iterator[tuple[Any, PageRecord]]:
    """Open `url` in a fresh browser context that blocks and records every non-local request.

    Waits for the load event, MathJax's first typeset and the widget views; yields (page, record).
    """
    record = PageRecord()
    context = browser.new_context()
    try:

        def route(route: Any) -> None:
            if is_local(route.request.url):
                route.continue_()
            else:
                record.blocked.append(route.request.url)
                route.abort("internetdisconnected")

        def on_failed(request: Any) -> None:
            if is_local(request.url):
                record.failed.append(f"{request.url} ({request.failure})")

        def on_response(response: Any) -> None:
            if response.status >= 400:
                record.http_errors.append(f"{response.url} ({response.status})")

        def on_console(message: Any) -> None:
            if message.type == "error" and not any(p.search(message.text) for p in IGNORED_CONSOLE_ERRORS):
                record.console_errors.append(f"{message.text} [{message.location.get('url', '')}]")

        context.route("**/*", route)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("request", lambda request: record.requests.append(request.url))
        watch_in_flight(page, record.in_flight)
        page.on("requestfailed", on_failed)
        page.on("response", on_response)
        page.on("console", on_console)
        page.on("pageerror", lambda error: record.page_errors.append(str(error)))
        page.goto(url, wait_until="load")
        wait_until_ready(page, record.in_flight)
        yield page, record
    finally:
        context.close()


def watch_in_flight(page: Any, in_flight: dict[Any, str]) -> None:
    """Keep `in_flight` holding the page's requests that have started and not finished or failed."""
    page.on("request", lambda request: in_flight.__setitem__(request, request.url))
    page.on("requestfinished", lambda request: in_flight.pop(request, None))
    page.on("requestfailed", lambda request: in_flight.pop(request, None))


def wait_for_quiet(page: Any, in_flight: dict[Any, str], quiet_ms: int = 500) -> None:
    """Wait until no request has been in flight for `quiet_ms`; on a timeout, fail naming what still is.

    Playwright's own "networkidle" (which its authors advise against in tests) once never fired in CI
    for a page that loads in 4 s here, and said nothing about why; this wait says which requests hang.
    """
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    quiet_since = None
    while True:
        now = time.monotonic()
        if in_flight:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= quiet_ms / 1000:
            return
        if now > deadline:
            pending = sorted(set(in_flight.values()))
            raise AssertionError(
                f"the page's network was not quiet for {quiet_ms} ms within {TIMEOUT_MS / 1000:.0f} s; "
                f"in flight: {pending or 'nothing now (requests kept starting)'}"
            )
        page.wait_for_timeout(50)  # lets playwright deliver the page's events


def wait_until_ready(page: Any, in_flight: dict[Any, str]) -> None:
    """Wait for MathJax's first typeset, every widget view drawn (or failed) and a quiet network.

    `in_flight` is a dict that `watch_in_flight` has kept since before the page was opened.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.evaluate("async () => { if (window.MathJax && MathJax.startup) await MathJax.startup.promise; }")
    if page.locator(VIEW_SCRIPT).count():
        # On a timeout, assert_widgets_rendered says which views are empty.
        with contextlib.suppress(PlaywrightTimeout):
            page.wait_for_function(
                """(selector) => Array.from(document.querySelectorAll(selector)).every((script) => {
                     const area = script.previousElementSibling;
                     if (!area || !area.classList.contains("widget-subarea")) return false;
                     const view = area.firstElementChild;
                     return view && (view.childElementCount > 0 || view.textContent.trim() !== "");
                   })""",
                arg=VIEW_SCRIPT,
                timeout=TIMEOUT_MS,
            )
    wait_for_quiet(page, in_flight)


def assert_no_problems(record: PageRecord) -> None:
    problems = record.problems()
    assert not problems, "\n".join(problems)


def assert_math_typeset(page: Any) -> int:
    """Every Sphinx math element holds MathJax output and no MathJax error. Returns how many there are."""
    result = page.evaluate(
        """() => {
             const math = Array.from(document.querySelectorAll("div.math, span.math"));
             return {
               total: math.length,
               raw: math.filter((m) => !m.querySelector("mjx-container")).map((m) => m.textContent.slice(0, 80)),
               errors: Array.from(document.querySelectorAll("mjx-merror")).map((e) => e.textContent.slice(0, 80)),
             };
           }"""
    )
    assert not result["raw"], f"math left untypeset (is MathJax loaded?): {result['raw']}"
    assert not result["errors"], f"MathJax errors: {result['errors']}"
    return result["total"]


def assert_widgets_rendered(page: Any) -> int:
    """Every widget view in the page was drawn: no empty placeholder, no error widget, no stale text.

    Returns the number of widget views.
    """
    result = page.evaluate(
        """(selector) => {
             const scripts = Array.from(document.querySelectorAll(selector));
             const empty = [];
             scripts.forEach((script, i) => {
               const area = script.previousElementSibling;
               const view = area && area.classList.contains("widget-subarea") ? area.firstElementChild : null;
               const drawn = view && (view.childElementCount > 0 || view.textContent.trim() !== "");
               const box = view ? view.getBoundingClientRect() : null;
               if (!drawn || !box || box.width === 0 || box.height === 0) {
                 empty.push(`view ${i}: ${script.textContent}`);
               }
             });
             const text = document.body.innerText;
             return {
               views: scripts.length,
               empty,
               errors: Array.from(document.querySelectorAll(".jupyter-widgets-error-widget"))
                 .map((e) => e.innerText.slice(0, 200)),
               loading: /Loading widget|Error displaying widget/.test(text),
             };
           }""",
        VIEW_SCRIPT,
    )
    assert not result["empty"], "widget views not drawn:\n" + "\n".join(result["empty"])
    assert not result["errors"], f"error widgets: {result['errors']}"
    assert not result["loading"], "a 'Loading widget...' / 'Error displaying widget' placeholder is left"
    return result["views"]


def drag_slider(page: Any, slider: Any, fraction: float) -> None:
    """Drag an ipywidgets slider (a `.widget-slider` locator) to `fraction` (0..1) of its track."""
    track = slider.locator(".noUi-base")
    handle = slider.locator(".noUi-handle").first
    track_box, handle_box = track.bounding_box(), handle.bounding_box()
    assert track_box and handle_box, "the slider is not visible"
    handle.scroll_into_view_if_needed()
    track_box, handle_box = track.bounding_box(), handle.bounding_box()
    y = handle_box["y"] + handle_box["height"] / 2
    page.mouse.move(handle_box["x"] + handle_box["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(track_box["x"] + fraction * track_box["width"], y, steps=8)
    page.mouse.up()


def slider_value(slider: Any) -> str:
    return slider.locator(".noUi-handle").first.get_attribute("aria-valuetext") or ""


def assert_click_changes(page: Any, target: Any, watched: Any | None = None) -> None:
    """Clicking `target` changes the HTML of `watched` (default: `target`) within the timeout."""
    watched = watched or target
    before = watched.inner_html()
    target.click()
    page.wait_for_function("([el, before]) => el.innerHTML !== before", arg=[watched.element_handle(), before])


def explorer_fills(explorer: Any) -> list[str]:
    return explorer.locator("rect[data-row]").evaluate_all("rs => rs.map(r => r.getAttribute('fill'))")


def intro_explorer(page: Any) -> None:
    """The intro's explorer answers a reader with no kernel: a new training stage, then a query row."""
    explorer = page.locator(".attnlab-explorer").first
    assert explorer.locator("rect[data-row]").count() == 81  # 9 words: "the big dog that ran chased a small cat"
    trained = explorer_fills(explorer)
    explorer.locator("select[aria-label='training']").select_option(label="untrained")
    assert explorer_fills(explorer) != trained, "choosing a training stage did not redraw the map"
    assert explorer.locator(".attnlab-bar").count() == 0
    explorer.locator("rect[data-row='5'][data-col='0']").click()  # the verb, "chased"
    assert explorer.locator(".attnlab-bar").count() == 9
    assert "chased" in explorer.locator(".attnlab-hint").inner_text()
    assert explorer.locator(".attnlab-live").is_hidden()  # no kernel: no free-value input
    intro_sentence(page)


# The page's embedded widget state: every model's state, as the widget manager reads it.
WIDGET_STATE_JS = """() => JSON.parse(document.querySelector(
    'script[type="application/vnd.jupyter.widget-state+json"]').textContent).state"""


def intro_sentence(page: Any) -> None:
    """The intro's second explorer runs the trained head on a typed sentence in the page: the drawn weights
    equal its Python twin's (float64, from the same weights; tests/test_widgets.py ties it to PyTorch)."""
    import torch

    from attnlab.widgets import SentenceExplorer

    explorer = page.locator(".attnlab-explorer").nth(1)
    box = explorer.get_by_role("textbox", name="your sentence")
    states = page.evaluate(WIDGET_STATE_JS).values()
    reader = next(m["state"]["data"]["reader"] for m in states if "reader" in m["state"].get("data", {}))
    twin = SentenceExplorer(reader)
    for text in ("the big dog that ran chased a small cat", "a red fox, that hid, never pushed the zebra"):
        box.fill(text)  # an input event, as typing
        _, skipped = twin.words(text)
        drawn = explorer.locator(".attnlab-sentence svg").evaluate("s => Array.from(s.attnlabValues)")
        expected = twin.weights(text).reshape(-1)
        torch.testing.assert_close(torch.tensor(drawn, dtype=torch.float64), expected, atol=1e-5, rtol=0)
        assert explorer.locator(".attnlab-skipped").count() == len(skipped)
    assert skipped, "the unknown word should be skipped"
    box.fill("")
    assert explorer.locator(".attnlab-empty").count() == 1


def stored_scores(notebook: str) -> dict:
    """The data of the first explorer in `notebook`'s stored widget state that carries raw scores."""
    nb = json.loads((ROOT / notebook).read_text(encoding="utf-8"))
    state = nb["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    return next(m["state"]["data"] for m in state.values() if m["state"].get("data", {}).get("mode") == "scores")


def self_attention_explorer(page: Any) -> None:
    """Chapter 1: the temperature slider recomputes the trained lookup layer's weights in the page, equal
    to attnlab's from the stored scores; the scaling, a view and a query redraw the map."""
    import torch

    import attnlab

    explorer = page.locator(".attnlab-explorer").first
    assert explorer.locator("rect[data-row]").count() == 144
    assert explorer.locator("select[aria-label='temperature']").count() == 0  # a slider, not a menu
    slider = explorer.locator("input[type='range'][aria-label='temperature']")
    shown = explorer.locator(".attnlab-temperature output")
    assert shown.inner_text() == "τ = 1"
    weights = explorer_fills(explorer)
    slider.focus()
    page.keyboard.press("End")  # the keyboard reaches the slider's end: τ = 16
    assert shown.inner_text() == "τ = 16" and slider.get_attribute("aria-valuetext") == "τ = 16"
    assert explorer_fills(explorer) != weights, "a new temperature did not redraw the weights"
    drawn = explorer.locator(".attnlab-detail svg").evaluate("s => Array.from(s.attnlabValues)")
    data = stored_scores("chapters/01_self_attention.ipynb")
    scores = torch.tensor(data["scores"][0], dtype=torch.float64).reshape(12, 12)
    expected = attnlab.attention_weights(scores, torch.eye(12, dtype=torch.float64), scale=32**-0.5 / 16)
    torch.testing.assert_close(torch.tensor(drawn, dtype=torch.float64), expected.reshape(-1), atol=1e-6, rtol=0)
    hot = explorer_fills(explorer)
    explorer.get_by_label("scale by 1/√d_k (d_k = 32)").click()
    assert explorer_fills(explorer) != hot, "turning the scaling off did not redraw the weights"
    explorer.locator("select[aria-label='show']").select_option(label="raw scores")
    raw = explorer_fills(explorer)
    slider.focus()
    page.keyboard.press("Home")
    assert shown.inner_text() == "τ = 0.0625"
    assert explorer_fills(explorer) == raw, "raw scores must not depend on the temperature"
    explorer.locator("rect[data-row='7'][data-col='0']").click()
    assert explorer.locator(".attnlab-bar").count() == 12


def multi_head_explorers(page: Any) -> None:
    """Chapter 2: the translator's map follows training; the head grid follows training and the chosen head."""
    translator = page.locator(".attnlab-explorer").filter(has_not=page.locator(".attnlab-grid")).first
    trained = explorer_fills(translator)
    translator.locator("select[aria-label='training']").select_option(label="untrained")
    assert explorer_fills(translator) != trained
    grid = page.locator(".attnlab-explorer").filter(has=page.locator(".attnlab-grid")).first
    assert grid.locator(".attnlab-grid .attnlab-panel").count() == 2
    large = grid.locator(".attnlab-detail")
    head0 = explorer_fills(large)
    grid.locator(".attnlab-grid .attnlab-panel").nth(1).click()
    assert grid.locator(".attnlab-chosen").get_attribute("data-head") == "1"
    assert explorer_fills(large) != head0, "choosing head 1 did not redraw the large map"
    grid.locator("rect[data-row='2'][data-col='0']").first.click()
    assert grid.locator(".attnlab-query[visibility='visible']").count() == 3  # both heads and the large map
    before = explorer_fills(grid)
    grid.locator("select[aria-label='training']").select_option(label="untrained")
    assert explorer_fills(grid) != before


def masking_explorer(page: Any) -> None:
    """Chapter 3: choosing a mask redraws the map; masked pairs are grey in the scaled scores."""
    explorer = page.locator(".attnlab-explorer").first
    open_map = explorer_fills(explorer)
    explorer.locator("select[aria-label='mask']").select_option(label="causal · 12 real tokens")
    assert explorer_fills(explorer) != open_map, "choosing the causal mask did not redraw the map"
    explorer.locator("select[aria-label='show']").select_option(label="scaled scores")
    fills = explorer_fills(explorer)
    assert fills.count("#bbbbbb") == 12 * 11 // 2, "the causal mask's upper triangle should be grey"
    explorer.locator("select[aria-label='mask']").select_option(label="padding · 5 real + 7 pad")
    assert explorer_fills(explorer).count("#bbbbbb") == 12 * 7


def vit_explorer(page: Any) -> None:
    """Chapter 4: clicking an image overlays the class token's attention on it; a head recolours it."""
    explorer = page.locator(".attnlab-explorer").first
    assert explorer.locator("canvas").count() == 8
    assert explorer.locator(".attnlab-selected").count() == 0
    explorer.locator(".attnlab-frame").nth(2).click()
    assert explorer.locator(".attnlab-selected").get_attribute("data-frame") == "2"
    overlay = explorer.locator(".attnlab-frame").nth(2).locator(".attnlab-overlay div")
    head0 = overlay.evaluate_all("ds => ds.map(d => d.style.background)")
    assert len(head0) == 64 and all(c not in ("", "transparent") for c in head0)
    explorer.locator("select[aria-label='head']").select_option("1")
    assert overlay.evaluate_all("ds => ds.map(d => d.style.background)") != head0


def video_explorer(page: Any) -> None:
    """Chapter 5's vote model: a frame's patches from its class token, then its message token; it opens on
    block 2's CFA map, learned, which differs from block 1's uniform one; another video."""
    explorer = page.locator(".attnlab-explorer").last
    frames = explorer.locator(".attnlab-frame")
    assert frames.count() == 6
    frames.nth(3).click()
    assert explorer.locator(".attnlab-selected").get_attribute("data-frame") == "3"
    overlay = frames.nth(3).locator(".attnlab-overlay div")
    seen_from_class = overlay.evaluate_all("ds => ds.map(d => d.style.background)")
    assert len(seen_from_class) == 4 and all(c not in ("", "transparent") for c in seen_from_class)
    explorer.locator("select[aria-label='patches seen from']").select_option("1")
    assert overlay.evaluate_all("ds => ds.map(d => d.style.background)") != seen_from_class
    fills = "rs => rs.map(r => r.getAttribute('fill'))"
    assert explorer.locator("select[aria-label='layer']").input_value() == "1"  # it opens on block 2
    block_2 = explorer.locator("svg.attnlab-map rect[data-row]").evaluate_all(fills)  # the frame → frame map
    assert len(block_2) == 36 and len(set(block_2)) > 1  # block 2's CFA was learned: several colours
    explorer.locator("select[aria-label='layer']").select_option("0")
    assert len(set(explorer.locator("svg.attnlab-map rect[data-row]").evaluate_all(fills))) == 1  # block 1: uniform
    pixels = "cs => cs.map(c => c.toDataURL())"
    before = explorer.locator("canvas").evaluate_all(pixels)
    explorer.locator("select[aria-label='video']").select_option("1")
    assert explorer.locator("canvas").evaluate_all(pixels) != before


# Page-specific interactions, run over file:// and http after the generic checks: one per explorer.
INTERACTIONS: dict[str, Callable[[Any], None]] = {
    "book/intro.html": intro_explorer,
    "chapters/01_self_attention.html": self_attention_explorer,
    "chapters/02_multi_head_attention.html": multi_head_explorers,
    "chapters/03_masking.html": masking_explorer,
    "chapters/04_residual_attention.html": vit_explorer,
    "chapters/05_cross_frame_attention.html": video_explorer,
}


# ----------------------------------------------------------------------------------------------------
# Tests


VENDORED = ROOT / "_vendor_static" / "vendor" / "require-paths.js"


@pytest.mark.parametrize("page_path", PAGES)
def test_page_offline(browser: Any, site_root: str, page_path: str) -> None:
    if not VENDORED.is_file():
        pytest.skip("the book was built without Node/npm, so its pages load MathJax and widgets from CDNs")
    with open_page(browser, site_root + page_path) as (page, record):
        assert record.requests, "the page made no requests at all"
        assert_no_problems(record)  # first: a blocked or failed script is why math or widgets are missing
        assert_math_typeset(page)
        assert_widgets_rendered(page)
        if page_path in INTERACTIONS:
            INTERACTIONS[page_path](page)
            wait_for_quiet(page, record.in_flight)
            assert_no_problems(record)


@pytest.mark.parametrize("page_path", PAGES)
def test_every_image_has_alt_text(browser: Any, page_path: str) -> None:
    with open_page(browser, file_url(page_path)) as (page, _):
        missing = page.eval_on_selector_all(
            "img, svg[role='img']:not([aria-hidden='true'])",  # aria-hidden: decorative icons
            # an alt that is a file name is what Sphinx writes when a notebook cell gives none
            """els => els.filter(e => {
                        if (e.tagName !== 'IMG') return !e.querySelector('title');
                        const alt = (e.getAttribute('alt') || '').trim();
                        return !alt || /\\.(png|jpe?g|gif|svg|webp)$/i.test(alt);
                      })
                      .map(e => e.outerHTML.slice(0, 120))""",
        )
        assert not missing, f"images without alt text (or with a file name as their alt): {missing}"


def test_search_finds_the_books_words(browser: Any, site_root: str) -> None:
    with open_page(browser, site_root + "search.html?q=softmax") as (page, record):
        page.wait_for_selector("#search-results ul.search li", timeout=TIMEOUT_MS)
        hits = page.locator("#search-results ul.search li a").all_inner_texts()
        assert any("Notation" in hit for hit in hits), f"searching 'softmax' found {hits}"
        assert_no_problems(record)


def test_navigation_shows_the_parts(browser: Any) -> None:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    with open_page(browser, file_url("book/intro.html")) as (page, _):
        captions = page.locator(".bd-sidebar .caption-text").all_inner_texts()
        assert captions == [part["caption"] for part in toc["parts"]]


def test_the_site_stays_small() -> None:
    if not (SITE / "index.html").is_file():
        pytest.skip(f"no built book in {SITE}: make book")
    size = sum(p.stat().st_size for p in SITE.rglob("*") if p.is_file())
    assert size < 40 * 2**20, f"_build/html is {size / 2**20:.1f} MB; copy only what pages load (limit 40 MB)"


# ----------------------------------------------------------------------------------------------------
# Chapter 3's mask editor: the page recomputes the weights offline (its values are checked against
# attnlab to 1e-6 in test_mask_editor_js.py; here, that the built page's editor works at all)

MASK_EDITOR_PAGE = "chapters/03_masking.html"


def mask_editor(page: Any) -> None:
    """A click and a key press mask and unmask a pair; causal and padding recompute the weights; a row
    masked by hand gets zeros and says so; the conventions panel follows."""
    editor = page.locator(".attnlab-explorer").filter(has=page.locator("table.attnlab-mask-grid")).first
    assert editor.locator("button.attnlab-cell").count() == 12 * 12
    grid = editor.locator("table.attnlab-mask-grid")

    def weights() -> list[list[float]]:
        flat = grid.evaluate("t => Array.from(t.attnlabValues)")
        return [flat[i * 12 : (i + 1) * 12] for i in range(12)]

    start = weights()
    assert all(abs(sum(row) - 1) < 1e-6 for row in start), "every row of the open editor must sum to 1"
    hf = editor.locator(".attnlab-hf")
    assert hf.inner_text() == "attention_mask = [[" + ", ".join(["1"] * 12) + "]]"
    pair = editor.locator("button[data-row='0'][data-col='1']")
    pair.click()
    assert weights()[0][1] == 0 and abs(sum(weights()[0]) - 1) < 1e-6
    assert "No per-key attention_mask" in hf.inner_text()
    pair.press("Space")  # unmask it again, from the keyboard
    assert weights() == start
    editor.get_by_label("causal (query i sees keys 0..i)").check()
    assert all(w == 0 for i, row in enumerate(weights()) for w in row[i + 1 :]), "causal: zeros above the diagonal"
    assert "adds the causal part itself" in hf.inner_text()
    editor.locator(".attnlab-padding input").fill("8")
    assert all(w == 0 for row in weights() for w in row[8:]), "8 real keys: zeros on keys 8..11"
    assert "[[1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]]" in hf.inner_text()
    editor.locator("button[data-row='0'][data-col='0']").click()  # query 0's only visible key
    assert weights()[0] == [0] * 12
    assert editor.locator(".attnlab-empty").inner_text().startswith("Query “0:")


def test_chapter_3_mask_editor_recomputes_offline(browser: Any, site_root: str) -> None:
    if MASK_EDITOR_PAGE not in built_pages():
        pytest.skip(f"no built {MASK_EDITOR_PAGE} in {SITE}: make book")
    if not VENDORED.is_file():
        pytest.skip("the book was built without Node/npm, so its pages load MathJax and widgets from CDNs")
    with open_page(browser, site_root + MASK_EDITOR_PAGE) as (page, record):
        assert_widgets_rendered(page)
        mask_editor(page)
        wait_for_quiet(page, record.in_flight)
        assert_no_problems(record)
