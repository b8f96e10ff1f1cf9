"""The browser for UI tests: Debian's Chromium (/usr/bin/chromium) under Playwright,
never a browser downloaded at run time. If it is missing the tests fail and say how
to install it. Sync (gateway tests) and async (end-to-end staff console) alike.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser as AsyncBrowser
from playwright.async_api import async_playwright
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}. Install Debian's package: "
            "`sudo apt-get update && sudo apt-get install -y chromium` (or run scripts/ensure-chromium.sh). "
            "Do not use `playwright install`.",
            pytrace=False,
        )


@contextmanager
def chromium() -> Iterator[Browser]:
    """Chromium under sync Playwright."""
    require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@asynccontextmanager
async def async_chromium() -> AsyncIterator[AsyncBrowser]:
    """Chromium under async Playwright."""
    require_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


def new_page(browser: Browser, errors: list[str]) -> Page:
    """A page in a fresh context; JavaScript errors and console errors land in `errors`."""
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return page
