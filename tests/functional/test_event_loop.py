"""No request waits on the event loop: a flood of dashboard requests never stalls reporters.

The threat: the event loop is the one thread that answers every request. A dashboard request
that did its database work there, with SQLite's writer lock held by intake (or by anyone),
held up every reporter's request until the lock came free: two clients looping on the
dashboard with made-up session cookies froze the whole server, and it no longer answered
even SIGTERM. Whatever a request waits for (the database, Argon2), it waits in a worker
thread, and reads that need no writer lock do not take it.
"""

import asyncio
import contextlib
import secrets
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from hrd_reports import db
from hrd_reports.crypto.passwords import PasswordProtection
from hrd_reports.crypto.sessions import SessionToken
from hrd_reports.models import Role
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.web.auth import SESSION_COOKIE_PLAIN
from hrd_reports.wiring import Runtime
from tests.dashboard_support import Clock, StaffBrowser, enrol, install_clock, sign_in
from tests.helpers import Desk, Person, hidden_value, post_report, query_inbox, report_content
from tests.server import LiveServer

ARGON2_METHODS = ("verify_password", "verify_dummy", "hash_password", "protect_seed")
# The invitation form as posted to a link that leads nowhere.
MADE_UP_ENROLMENT = {
    "password": "x" * 12,
    "password_again": "x" * 12,
    "totp_secret": "A" * 32,
    "code": "123456",
}


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return install_clock(monkeypatch)


@dataclass
class LoopWatch:
    """Every SQL statement and Argon2 computation, by whether it ran on the event loop that
    serves the application (the loops requests arrive on; another loop of this process, such
    as the browser tests' Playwright keeps in the main thread, is not the app's)."""

    app: Any
    loops: set[asyncio.AbstractEventLoop] = field(default_factory=set)
    statements: Counter[bool] = field(default_factory=Counter)
    argon2: Counter[bool] = field(default_factory=Counter)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.loops.add(asyncio.get_running_loop())
        await self.app(scope, receive, send)

    def on_the_apps_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() in self.loops
        except RuntimeError:
            return False  # a worker thread runs no loop

    def statement(self, *_args: Any) -> None:
        self.statements[self.on_the_apps_loop()] += 1


@pytest.fixture
def watched(
    runtime: Runtime, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LoopWatch]:
    watch = LoopWatch(create_app(settings, runtime=runtime))
    event.listen(runtime.engine, "before_cursor_execute", watch.statement)
    for name in ARGON2_METHODS:
        original = getattr(PasswordProtection, name)

        def recorded(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            watch.argon2[watch.on_the_apps_loop()] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(PasswordProtection, name, recorded)
    yield watch
    event.remove(runtime.engine, "before_cursor_execute", watch.statement)


def _made_up_cookie() -> str:
    """A session cookie of the server's shape that the server never issued."""
    return SessionToken.new().cookie_value(secret=secrets.token_bytes(32))


def test_no_database_statement_or_argon2_runs_on_the_event_loop(
    desk: Desk, admin: Person, watched: LoopWatch, fake_clock: Clock
) -> None:
    app = watch = watched
    coordinator = enrol(desk, desk.add_vetted("cora", Role.COORDINATOR, by=admin), Role.COORDINATOR)
    worker = enrol(desk, desk.add_vetted("wes", Role.CASE_WORKER, by=admin), Role.CASE_WORKER)
    reporter = TestClient(app)
    # The reporter's side: pages, the API, a report and the inbox.
    for path in ("/", "/report", "/inbox", "/api/v1/challenge", "/api/v1/intake-key"):
        assert reporter.get(path).status_code == 200, path
    receipt, created = post_report(reporter, report_content("watched on the loop"))
    assert created.status_code == 201
    report_id = created.json()["report_id"]
    assert query_inbox(reporter, receipt).status_code == 200
    # Sign-ins refused and accepted, invitations that lead nowhere, made-up cookies.
    stranger = TestClient(app)
    form = stranger.get("/dashboard/login").text
    refused = stranger.post(
        "/dashboard/login",
        data={
            "name": "nobody",
            "password": "not a password anyone has",
            "code": "123456",
            "form_token": hidden_value(form, "form_token"),
        },
    )
    assert refused.status_code == 401
    stranger.cookies.set(SESSION_COOKIE_PLAIN, _made_up_cookie())
    assert stranger.get("/dashboard/reports", follow_redirects=False).status_code == 303
    assert stranger.get(f"/dashboard/invitation/{secrets.token_urlsafe(32)}").status_code == 404
    posted = stranger.post(
        f"/dashboard/invitation/{secrets.token_urlsafe(32)}",
        data=MADE_UP_ENROLMENT,
    )
    assert posted.status_code == 404
    # Signed-in people: pages, a change, a refusal by role (audited), a stale form token, a
    # session old enough to be touched again, and signing out.
    cora = StaffBrowser(app, coordinator, fake_clock)
    cora.page("/dashboard/reports")
    cora.report(report_id)
    cora.post(f"/dashboard/reports/{report_id}/notes", note="a note, written on the loop?")
    wes = StaffBrowser(app, worker, fake_clock)
    assert wes.client.get("/dashboard/audit").status_code == 403
    # A worklist, and an address with no page, whose error page names who is signed in.
    wes.page("/dashboard")
    missing = wes.client.get("/dashboard/no/such/page")
    assert (missing.status_code, "wes (case worker)" in missing.text) == (404, True)
    stale = wes.client.post(
        "/dashboard/logout", data={"csrf_token": "stale"}, follow_redirects=False
    )
    assert stale.status_code == 403
    fake_clock.advance(120)
    cora.page("/dashboard/users")
    cora.post("/dashboard/logout")
    assert reporter.get("/no/such/page").status_code == 404

    # Every statement and every Argon2 computation ran in a worker thread, none on the loop.
    assert watch.loops
    assert watch.statements[False] > 0
    assert watch.argon2[False] > 0
    assert (watch.statements[True], watch.argon2[True]) == (0, 0)


# ---- the writer lock held by someone else ---------------------------------------------------


@contextlib.contextmanager
def writer_lock_held(settings: Settings) -> Iterator[None]:
    """What a long write does to everyone else, from another connection: SQLite's one writer
    lock (``BEGIN IMMEDIATE``), or on PostgreSQL the audit chain's head, on which every
    audited change waits."""
    url = make_url(settings.database_url)
    if db.is_sqlite(settings.database_url):
        assert url.database is not None
        holder = sqlite3.connect(url.database, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT id FROM audit_head FOR UPDATE"))
            yield
            connection.rollback()
    finally:
        engine.dispose()


class DashboardEntered:
    """An ASGI wrapper that says when the first dashboard request has reached the app."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.entered = threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/dashboard"):
            self.entered.set()
        await self.app(scope, receive, send)


@pytest.fixture
def served(
    settings: Settings, runtime: Runtime, desk: Desk
) -> Iterator[tuple[LiveServer, DashboardEntered]]:
    wrappers: list[DashboardEntered] = []

    def wrap(app: Any) -> DashboardEntered:
        wrappers.append(DashboardEntered(app))
        return wrappers[0]

    server = LiveServer(settings, runtime, wrap=wrap)
    server.start()
    try:
        yield server, wrappers[0]
    finally:
        server.stop()


REPORTER_PATHS = ("/api/v1/challenge", "/report", "/", "/api/v1/intake-key")


def _while_dashboard_requests_run(
    server: LiveServer,
    entered: DashboardEntered,
    dashboard_request: Callable[[httpx.Client], httpx.Response],
    *,
    count: int = 6,
) -> tuple[list[int], list[int]]:
    """Reporter requests sent once dashboard requests are in the server: the statuses of
    both, all taken before the caller releases the writer lock."""
    answers: list[int] = []

    def flood() -> None:
        with httpx.Client(base_url=server.origin, timeout=120) as client:
            answers.extend(dashboard_request(client).status_code for _ in range(count))

    flooding = threading.Thread(target=flood)
    flooding.start()
    try:
        assert entered.entered.wait(60), "no dashboard request reached the server"
        with httpx.Client(base_url=server.origin, timeout=120) as reporter:
            reporter_answers = [reporter.get(path).status_code for path in REPORTER_PATHS]
    finally:
        flooding.join(180)
    return reporter_answers, answers


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param(lambda _desk: _made_up_cookie(), id="made-up cookie"),
        pytest.param(
            lambda _desk: ".".join(secrets.token_urlsafe(n) for n in (16, 32)),
            id="cookie of the old shape",
        ),
        pytest.param(
            # Issued by this server (it passes the HMAC), for a session that does not exist:
            # resuming it is a database read, which must not wait for the writer.
            lambda desk: SessionToken.new().cookie_value(secret=desk.secrets.session),
            id="issued cookie of no session",
        ),
    ],
)
def test_dashboard_requests_while_the_writer_lock_is_held_do_not_stall_reporters(
    served: tuple[LiveServer, DashboardEntered],
    settings: Settings,
    desk: Desk,
    cookie: Callable[[Desk], str],
) -> None:
    server, entered = served
    value = cookie(desk)

    def dashboard(client: httpx.Client) -> httpx.Response:
        return client.get("/dashboard/reports", headers={"Cookie": f"hrd-session={value}"})

    with writer_lock_held(settings):
        reporter, dashboard_answers = _while_dashboard_requests_run(server, entered, dashboard)

    assert reporter == [200] * len(REPORTER_PATHS)
    # Sent to sign in, at once: none waited for the lock (or failed waiting for it).
    assert dashboard_answers == [303] * 6


def test_invitation_posts_while_the_writer_lock_is_held_do_not_stall_reporters(
    served: tuple[LiveServer, DashboardEntered], settings: Settings
) -> None:
    server, entered = served

    def invitation(client: httpx.Client) -> httpx.Response:
        return client.post(
            f"/dashboard/invitation/{secrets.token_urlsafe(32)}",
            data=MADE_UP_ENROLMENT,
        )

    with writer_lock_held(settings):
        reporter, dashboard_answers = _while_dashboard_requests_run(server, entered, invitation)

    assert reporter == [200] * len(REPORTER_PATHS)
    assert dashboard_answers == [404] * 6


def test_signed_in_pages_that_only_read_do_not_wait_for_the_writer_lock(
    served: tuple[LiveServer, DashboardEntered],
    settings: Settings,
    desk: Desk,
    admin: Person,
    fake_clock: Clock,
) -> None:
    server, entered = served
    cora = enrol(desk, desk.add_vetted("cora", Role.COORDINATOR, by=admin), Role.COORDINATOR)
    with httpx.Client(base_url=server.origin, timeout=120) as browser:
        assert sign_in(browser, cora, fake_clock) == 303  # type: ignore[arg-type]
        cookie = browser.cookies.get(SESSION_COOKIE_PLAIN)
    assert cookie is not None

    def people_page(client: httpx.Client) -> httpx.Response:
        return client.get("/dashboard/users", headers={"Cookie": f"hrd-session={cookie}"})

    with writer_lock_held(settings):
        reporter, pages = _while_dashboard_requests_run(server, entered, people_page, count=3)

    assert reporter == [200] * len(REPORTER_PATHS)
    assert pages == [200] * 3
