"""Fixtures of the browser tests: Debian's Chromium through pytest-playwright, and the real
application served by uvicorn on a free localhost port, one server and one desk per test.

The reporter's page needs WebCrypto, which exists only in a secure context; ``localhost`` is
one (``127.0.0.1`` is not treated alike by every API), so pages are opened on
``http://localhost:<port>``.
"""

import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page

from hrd_reports.settings import Settings
from hrd_reports.wiring import Runtime
from tests.browser.support import PAGE_TIMEOUT_MS, Recorder, leaks_at_rest
from tests.conftest import CHEAP_ARGON2, DatabaseServer
from tests.helpers import Desk
from tests.server import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Low, so that each submission's proof of work takes milliseconds; the page still solves one.
BROWSER_POW_BITS = 8

# Where the quick exit leads. ``.invalid`` never resolves (RFC 6761); the tests that follow
# the quick exit intercept it with ``page.route``, so no test needs the network.
QUICK_EXIT_URL = "https://quick-exit.invalid/neutral"


# --- Chromium ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """The one place that decides whether browser tests can run here.

    Without Chromium they are skipped on a developer's machine (``CI`` unset), but fail
    when the ``CI`` variable is set, whatever its value: a security test that silently does
    not run is a defect there.
    """
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return str(CHROMIUM)
    reason = f"{CHROMIUM} is missing: install Debian's chromium package to run the browser tests"
    if "CI" in os.environ:
        pytest.fail(f"{reason}; CI is set, and in CI a skipped browser test is a failure")
    pytest.skip(f"{reason} (skipped because CI is unset)")


@pytest.fixture(autouse=True, scope="session")
def _browser_tests_need_chromium(chromium_executable: str) -> None:
    """Every test in this folder skips or fails by the rule above, before a browser starts."""


@pytest.fixture(scope="session")
def base_url() -> None:
    """Pages are opened by full URL on each test's own server. (This also replaces
    pytest-playwright's fallback fixture, a method that pytest 9 warns about: an error here.)
    """


@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict[str, Any], chromium_executable: str
) -> dict[str, Any]:
    # Never the browsers of `playwright install`: the distribution's Chromium, as deployed.
    return {
        **browser_type_launch_args,
        "executable_path": chromium_executable,
        "args": CHROMIUM_ARGS,
    }


# --- The desk and its live server ----------------------------------------------------------


@pytest.fixture
def settings(database_url: str, workdir: Path) -> Settings:
    """The test's desk (overrides tests/conftest.py): a cheap proof of work, and a quick-exit
    address that the tests intercept. ``runtime``, ``desk`` and ``cli_env`` all follow it."""
    return Settings(
        database_url=database_url,
        keys_dir=workdir / "keys",
        pow_difficulty_bits=BROWSER_POW_BITS,
        quick_exit_url=QUICK_EXIT_URL,
        **CHEAP_ARGON2,
    )


@pytest.fixture
def live_server(settings: Settings, runtime: Runtime, desk: Desk) -> Iterator[LiveServer]:
    """A set-up desk (``admin`` holds its keys), served until the test ends."""
    server = LiveServer(settings, runtime)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        runtime.close()


@pytest.fixture
def search_at_rest(
    workdir: Path, settings: Settings, database_server: DatabaseServer
) -> Callable[[dict[str, str]], list[str]]:
    """``search_at_rest({label: secret})``: where each secret is found at rest (see
    ``support.leaks_at_rest``); an empty list when nothing is."""
    return functools.partial(leaks_at_rest, workdir, settings, database_server)


# --- Pages ---------------------------------------------------------------------------------


@pytest.fixture
def context(new_context: Any) -> BrowserContext:
    """pytest-playwright's context, with a short timeout for every step."""
    created: BrowserContext = new_context()
    created.set_default_timeout(PAGE_TIMEOUT_MS)
    return created


@pytest.fixture
def recorder(context: BrowserContext) -> Recorder:
    """Records the ``page`` fixture's context (requests, responses, errors) from the start."""
    recorded = Recorder()
    recorded.attach(context)
    return recorded


@pytest.fixture
def no_js_page(new_context: Any) -> Page:
    """A page with JavaScript off, as in Tor Browser's "Safest" level."""
    context: BrowserContext = new_context(java_script_enabled=False)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    return context.new_page()
