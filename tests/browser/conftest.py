"""Browser tests: Debian's chromium driven by Playwright against the real server (waitress).

Playwright never downloads a browser here: it launches the ``chromium`` found on PATH. Without
one, these tests skip locally and fail under CI (``.ci/run`` installs it). Every page a test
opens is checked for console errors (CSP violations included) and uncaught exceptions, and
screenshots land in tests/artifacts/screenshots for a person to look at (not committed).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import service_missing

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
               "--disable-component-update", "--disable-default-apps", "--disable-extensions", "--no-first-run",
               "--disable-sync", "--metrics-recording-only", "--mute-audio"]


@pytest.fixture
def backend() -> str:
    """The browser drives one server; SQLite is enough (the services are tested on both backends)."""
    return "sqlite"


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Debian chromium for the session."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        service_missing("chromium", FileNotFoundError("no chromium on PATH (apt-get install chromium)"))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=LAUNCH_ARGS)
        yield browser
        browser.close()


class Page:
    """A Playwright page bound to the live server, collecting console errors and taking screenshots."""

    def __init__(self, context: Any, base: str, name: str) -> None:
        self.context = context
        self.page = context.new_page()
        self.base = base
        self.name = name
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        self.page.on("dialog", self._dialog)
        self.accept_dialogs = True

    def _console(self, message: Any) -> None:
        if message.type == "error" and not self._expected(message.text):
            self.errors.append(f"console: {message.text}")

    @staticmethod
    def _expected(text: str) -> bool:
        # A page answered with an error status is logged by chromium as a failed resource load.
        return bool(re.search(r"Failed to load resource: the server responded with a status of (4\d\d)", text))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.accept() if self.accept_dialogs else dialog.dismiss()

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base + path)

    def shot(self, label: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{self.name}-{label}.png"), full_page=True)

    def __getattr__(self, item: str) -> Any:
        return getattr(self.page, item)


@pytest.fixture
def browser_context(chromium, live_server) -> Iterator[Any]:
    context = chromium.new_context(base_url=live_server.url, accept_downloads=True,
                                   viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def ui(browser_context, live_server, request) -> Iterator[Page]:
    """A page of the running server; the test fails if the page logged an error."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", request.node.name)
    page = Page(browser_context, live_server.url, name)
    yield page
    assert not page.errors, page.errors


def log_in(ui: Page, username: str = "alice", password: str = "correct horse") -> None:
    ui.goto("/auth/login")
    ui.fill("#username", username)
    ui.fill("#password", password)
    ui.click("button[type=submit]")
    ui.wait_for_url("**/dashboard")
