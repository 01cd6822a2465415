"""Headless Chromium for tests: Debian's ``chromium`` driven by Playwright, never a downloaded browser.

>>> def test_page(chromium_page):
...     page = chromium_page.page
...     page.goto(url)
...     chromium_page.screenshot("status-page")      # test-output/status-page.png

The test is skipped, with the reason, when ``/usr/bin/chromium`` (or ``$CHROMIUM``) is absent or
Playwright is not installed. Every request to anything but loopback is refused and recorded, so a
page that reaches for a CDN fails visibly instead of silently depending on the network; console
errors and uncaught exceptions of the page are recorded too.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTPUT_DIR = ROOT / "test-output"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
NAV_TIMEOUT_MS = 30_000


@dataclass
class ChromiumPage:
    page: Any  # playwright.sync_api.Page
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    refused_requests: list[str] = field(default_factory=list)

    def screenshot(self, name: str) -> Path:
        """A full-page PNG under test-output/ (gitignored), named for the test."""
        OUTPUT_DIR.mkdir(exist_ok=True)
        path = OUTPUT_DIR / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def chromium_or_skip() -> Any:
    """The ``playwright.sync_api`` module, or a skip that says what to install."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's chromium package (apt-get install chromium) "
                    "to run the browser tests")
    return pytest.importorskip("playwright.sync_api", reason="the browser tests need the playwright package")


@pytest.fixture
def chromium_page(tmp_path: Path) -> Iterator[ChromiumPage]:
    """A page in a fresh headless Chromium profile; the browser is closed after the test."""
    sync_api = chromium_or_skip()
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900}, timeout=NAV_TIMEOUT_MS,
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(NAV_TIMEOUT_MS)
            wrapped = ChromiumPage(page)

            def guard(route: Any) -> None:
                url = route.request.url
                host = urllib.parse.urlsplit(url).hostname or ""
                if url.startswith(("data:", "blob:", "about:")) or host in LOOPBACK:
                    route.continue_()
                else:
                    wrapped.refused_requests.append(url)
                    route.abort()

            context.route("**/*", guard)
            page.on("console", lambda msg: wrapped.console_errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc: wrapped.page_errors.append(str(exc)))
            yield wrapped
        finally:
            context.close()
