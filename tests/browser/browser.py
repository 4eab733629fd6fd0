"""Headless Debian Chromium through playwright, with the network cut off; skips when either is missing."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def chromium_path() -> str:
    """$CHROMIUM if set, else the `chromium` on PATH (Debian's); skips the test when there is none."""
    path = shutil.which(os.environ.get("CHROMIUM", "chromium")) or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("no Chromium installed: `apt-get install chromium` (Debian), or set $CHROMIUM")
    return path


@contextmanager
def chromium_page():
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
            yield page
            assert not errors, f"errors in the page: {errors}"
        finally:
            browser.close()
