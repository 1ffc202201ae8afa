"""SIGTERM ends the server within its graceful timeout, in the middle of a load and of a
flood of dashboard requests, and every report it acknowledged is kept whole.

The threat: a server that ignores SIGTERM gets SIGKILLed by its operator or service manager;
a server that stops without finishing what it acknowledged loses reports. Once, a backlog of
dashboard requests blocked the event loop, and SIGTERM went unanswered until a kill.
"""

import contextlib
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hrd_reports import db
from hrd_reports.cli.desk import GRACEFUL_SHUTDOWN_SECONDS
from hrd_reports.crypto.sessions import SessionToken
from hrd_reports.settings import Settings
from tests.helpers import Desk, Person
from tests.load import Outcome, differences, prepare, read_back, run_load
from tests.server import STOP_SECONDS, ServerProcess, StartServer

SUBMISSIONS = 300
TERMINATE_AFTER_ACKNOWLEDGED = SUBMISSIONS // 3
CONCURRENCY = 64


class TerminateAfter:
    """SIGTERM to the whole server once ``count`` submissions have been acknowledged, while
    the other reporters' requests are in flight; with ``lock_first``, that is done while
    another connection holds the database's writer lock, so writes are left waiting."""

    def __init__(
        self, server: ServerProcess, count: int, *, lock_first: Callable[[], None] | None = None
    ) -> None:
        self.server = server
        self.count = count
        self.lock_first = lock_first
        self.acknowledged = 0
        self.sent = False

    def __call__(self, outcome: Outcome) -> None:
        self.acknowledged += outcome.status == 201
        if not self.sent and self.acknowledged >= self.count:
            self.sent = True
            if self.lock_first is not None:
                self.lock_first()
            self.server.terminate()


def flood_dashboard(url: str, stop: threading.Event, answered: list[int]) -> None:
    """Dashboard requests with made-up session cookies, in a loop, until the server is gone."""
    cookie = SessionToken.new().cookie_value(secret=secrets.token_bytes(32))
    with httpx.Client(base_url=url, timeout=30) as client:
        while not stop.is_set():
            try:
                response = client.get(
                    "/dashboard/reports", headers={"Cookie": f"hrd-session={cookie}"}
                )
            except httpx.TransportError:
                return
            answered.append(response.status_code)


def _sigterm_mid_load_failures(
    desk: Desk,
    admin: Person,
    start_server: StartServer,
    *,
    lock_first: Callable[[], None] | None = None,
    unlock: Callable[[], None] | None = None,
    within: float,
) -> list[str]:
    """SIGTERM in the middle of a load and of a dashboard flood, then the server started again
    to read back what it stored: one line per way that went wrong, empty when the server
    ended within ``within`` seconds, answered every request it took, and kept every report it
    acknowledged."""
    sent = prepare(desk.intake_key(), SUBMISSIONS, label="before SIGTERM")
    server = start_server(workers=2)
    stop, flood_answers = threading.Event(), []
    floods = [
        threading.Thread(target=flood_dashboard, args=(server.url, stop, flood_answers))
        for _ in range(2)
    ]
    for flood in floods:
        flood.start()
    terminate = TerminateAfter(server, TERMINATE_AFTER_ACKNOWLEDGED, lock_first=lock_first)
    try:
        result = run_load(server.url, sent, concurrency=CONCURRENCY, on_outcome=terminate)
        status = server.exit_status(within=within)
    finally:
        if unlock is not None:
            unlock()
        stop.set()
        for flood in floods:
            flood.join(60)

    # Without a SIGTERM there is no shutdown to judge.
    if not terminate.sent:
        return [f"SIGTERM was never sent: {result.counts_by_status()}"]
    # Ended, supervisor and workers, not left for a SIGKILL (None: some still ran after
    # ``within``). A server that did not end is not started again to read back its reports.
    if status != 0:
        return [f"the server's exit status is {status}, not 0: {server.log_tail()}"]
    failures = []
    # The flood was answered, and only by the dashboard's redirect to its sign-in page.
    if set(flood_answers) != {303}:
        failures.append(f"the dashboard flood's answers: {sorted(set(flood_answers))}, not [303]")
    # Every answer that came back was a 201, or, for a request the stopping server cut off,
    # a 503 that asks to try again; the rest found no server to connect to.
    unexpected = [o.label for o in result.outcomes if o.answered and o.status not in {201, 503}]
    if unexpected:
        failures.append(f"submissions answered other than 201 or 503: {unexpected}")

    desk.runtime.engine.dispose()
    start_server(workers=2)
    stored = read_back(desk, admin)
    acknowledged = {o.prepared.report_id for o in result.acknowledged}
    if len(acknowledged) < TERMINATE_AFTER_ACKNOWLEDGED:
        failures.append(f"only {len(acknowledged)} reports acknowledged before SIGTERM")
    lost = acknowledged - set(stored)
    if lost:
        failures.append(f"acknowledged but not stored: {sorted(map(str, lost))}")
    sent_by_id = {item.report_id: item for item in sent}
    return failures + differences(stored, sent_by_id, lookup_secret=desk.secrets.lookup)


@pytest.mark.slow
def test_sigterm_mid_load_ends_the_server_and_keeps_every_acknowledged_report(
    desk: Desk, admin: Person, start_server: StartServer
) -> None:
    # Within the graceful timeout and the time a stopping worker takes to close: a bound on
    # a hang, not a speed.
    within = GRACEFUL_SHUTDOWN_SECONDS + STOP_SECONDS
    assert _sigterm_mid_load_failures(desk, admin, start_server, within=within) == []


@pytest.mark.slow
def test_sigterm_while_writes_wait_for_a_held_lock_still_ends_the_server(
    desk: Desk, admin: Person, settings: Settings, start_server: StartServer
) -> None:
    # Held from just before SIGTERM until the server has ended: the writes in flight cannot
    # finish, and the server must still stop (it once could not even notice the signal).
    within = GRACEFUL_SHUTDOWN_SECONDS + db.WRITER_WAIT_SECONDS + STOP_SECONDS
    with lock_holder(settings) as (lock, unlock):
        failures = _sigterm_mid_load_failures(
            desk, admin, start_server, lock_first=lock, unlock=unlock, within=within
        )
    assert failures == []


@contextlib.contextmanager
def lock_holder(
    settings: Settings,
) -> Iterator[tuple[Callable[[], None], Callable[[], None]]]:
    """Another program's connection, and how it takes and releases the lock that storing a
    report waits for: SQLite's writer lock, or PostgreSQL's lock on the reports table."""
    url = make_url(settings.database_url)
    if db.is_sqlite(settings.database_url):
        assert url.database is not None
        holder = sqlite3.connect(url.database, isolation_level=None, check_same_thread=False)

        def take() -> None:
            holder.execute("BEGIN IMMEDIATE")

        def release() -> None:
            if holder.in_transaction:
                holder.execute("ROLLBACK")

        try:
            yield take, release
        finally:
            holder.close()
        return
    engine = create_engine(url)
    connection = engine.connect()

    def lock_reports() -> None:
        connection.execute(text("LOCK TABLE reports IN ACCESS EXCLUSIVE MODE"))

    try:
        yield lock_reports, connection.rollback
    finally:
        connection.close()
        engine.dispose()
