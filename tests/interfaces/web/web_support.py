"""Browser tests' fixtures: a real uvicorn server on 127.0.0.1 (in a thread) over the small city, and
Debian's chromium (``/usr/bin/chromium``; ``make test`` installs it) driven by Playwright — never
Playwright's own browser download. Every request a page makes that does not go to the local server
is recorded and aborted, and ``new_page`` fails the test if there was any.

The fixtures live here rather than in a conftest.py so that no second ``conftest`` module shadows
the API tests' one when the whole suite is collected; test modules import them by name.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn

from ennakoiva.interfaces.api import create_app
from ennakoiva.platform.platform import Platform, build_platform
from ennakoiva.platform.settings import Settings

__all__ = ["ARTIFACTS", "CHROMIUM", "CHROMIUM_ARGS", "PASSWORD", "LiveServer", "browser", "live_server", "login",
           "new_page", "running_server", "shot"]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parents[3] / "test-artifacts"
PASSWORD = "browser-demo-password"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]


@dataclass
class LiveServer:
    url: str
    platform: Platform
    outside: list[str] = field(default_factory=list)


def login(page, username: str) -> None:
    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state()


def shot(page, name: str) -> None:
    """A full-page screenshot once every image (charts and maps are SVG drawn on the server) has loaded."""
    for img in page.locator("img").all():
        img.scroll_into_view_if_needed()
    # polled from Python: wait_for_function compiles its predicate in the page with eval, which the
    # pages' CSP (script-src 'self', no unsafe-eval) rightly refuses while the page is still loading
    deadline = time.monotonic() + 60
    while not page.evaluate("() => Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"):
        if time.monotonic() > deadline:
            raise AssertionError(f"images on {page.url} did not load in 60 s")
        time.sleep(0.1)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(folder: Path, city: Path, **extra: Any) -> Iterator[LiveServer]:
    """A real uvicorn on 127.0.0.1 (in a thread) over ``city``, with a fresh operational store in ``folder``."""
    settings = Settings(db_url=f"sqlite:///{folder / 'store.sqlite3'}", audit_key_file=folder / "audit.key",
                        audit_checkpoint_file=folder / "checkpoints.jsonl", aggregates_file=folder / "overview.json",
                        sms_simulator_file=folder / "sms.sqlite3", demo_password=PASSWORD, **extra)
    platform = build_platform(settings, city=city)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(platform), host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        yield LiveServer(f"http://127.0.0.1:{port}", platform)
    finally:
        server.should_exit = True
        thread.join(10)
        platform.close()


@pytest.fixture(scope="module")
def live_server(small_city, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running_server(tmp_path_factory.mktemp("browser"), small_city.db) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def new_page(browser, live_server: LiveServer) -> Iterator[object]:
    """A factory of pages in fresh contexts; fails the test if any request left localhost."""
    ARTIFACTS.mkdir(exist_ok=True)
    contexts = []
    outside: list[str] = []
    console_errors: list[str] = []   # script errors and Content-Security-Policy violations

    def guard(route) -> None:
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost") or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    def make(lang: str = "fi") -> object:
        context = browser.new_context(base_url=live_server.url, locale={"fi": "fi-FI", "sv": "sv-FI"}.get(
            lang, "en-GB"), viewport={"width": 1200, "height": 900})
        context.route("**/*", guard)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: console_errors.append(str(exc)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not outside, f"requests left localhost: {outside}"
    # a refused page (403) logs its status as a console error; anything else is a real error
    errors = [e for e in console_errors if "status of 403" not in e and "status of 401" not in e]
    assert not errors, f"browser console errors (CSP violations or script errors): {errors}"

