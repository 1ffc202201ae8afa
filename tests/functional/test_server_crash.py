"""A server killed with SIGKILL in the middle of a load keeps every report it acknowledged,
whole, and starts again on the same desk (DESIGN.md invariant 7).

The threat: a reporter who saw "report received" deletes their draft, perhaps their phone's
traces of it, and may never be able to write it again. If the server (or the machine) dies a
moment later, that report must be in the database and open for the desk. A report that got no
answer may or may not be there, but if it is there it is whole, not a row that does not open.
"""

import time

import pytest
from sqlalchemy import text

from hrd_reports import db
from hrd_reports.settings import Settings
from tests.helpers import Desk, Person
from tests.load import Outcome, differences, prepare, read_back, run_load
from tests.server import ServerProcess, StartServer, living_members

SUBMISSIONS = 300
KILL_AFTER_ACKNOWLEDGED = SUBMISSIONS // 3
CONCURRENCY = 64


class KillAfter:
    """Kills the whole server (supervisor and workers, one signal) as soon as ``count``
    submissions have been acknowledged, while the other reporters' requests are in flight."""

    def __init__(self, server: ServerProcess, count: int) -> None:
        self.server = server
        self.count = count
        self.acknowledged = 0
        self.killed_at: float | None = None

    def __call__(self, outcome: Outcome) -> None:
        self.acknowledged += outcome.status == 201
        if self.killed_at is None and self.acknowledged >= self.count:
            self.killed_at = time.perf_counter()
            self.server.kill()


def _sqlite_file_is_sound(desk: Desk) -> bool:
    with desk.session() as session:
        return str(session.execute(text("PRAGMA integrity_check")).scalar_one()) == "ok"


@pytest.mark.slow
def test_server_killed_mid_load_keeps_every_acknowledged_report_and_restarts(
    desk: Desk, admin: Person, settings: Settings, start_server: StartServer
) -> None:
    sent = prepare(desk.intake_key(), SUBMISSIONS, label="before the crash")
    server = start_server(workers=2)
    kill = KillAfter(server, KILL_AFTER_ACKNOWLEDGED)

    result = run_load(server.url, sent, concurrency=CONCURRENCY, on_outcome=kill)

    assert kill.killed_at is not None, f"never killed: {result.counts_by_status()}"
    assert living_members(server.group) == []
    # The kill hit requests in flight, not an idle server: some were sent before it and
    # never answered.
    in_flight = [o for o in result.outcomes if not o.answered and o.started < kill.killed_at]
    assert in_flight, result.counts_by_status()
    # Every answer that came back was a 201: the load alone made no refusal and no 5xx.
    assert [o.label for o in result.outcomes if o.answered and o.status != 201] == []

    # No connection to the database is left open, this test's own closed too: the restarted
    # server is the first to open it since the crash (on SQLite, it replays the write-ahead
    # log the killed workers left behind).
    desk.runtime.engine.dispose()
    restarted = start_server(workers=2)

    stored = read_back(desk, admin)
    acknowledged = {o.prepared.report_id for o in result.acknowledged}
    # Each 201 named the report its envelope carried.
    assert [o.report_id for o in result.acknowledged] == [
        o.prepared.report_id for o in result.acknowledged
    ]
    # Every acknowledged report survived. Anything else there was sent by a reporter who got
    # no answer, and every row, acknowledged or not, is whole and opens to the words sent.
    assert acknowledged <= set(stored)
    assert (
        differences(
            stored, {item.report_id: item for item in sent}, lookup_secret=desk.secrets.lookup
        )
        == []
    )
    print(
        f"\nkilled after {len(acknowledged)} acknowledged of {SUBMISSIONS} sent: "
        f"{len(in_flight)} in flight, {len(stored) - len(acknowledged)} stored without an answer"
    )
    if db.is_sqlite(settings.database_url):
        # The workers died with the database file and its write-ahead log open; both must
        # still be sound. (PostgreSQL's files belong to its own server, which was not killed.)
        assert _sqlite_file_is_sound(desk)

    # The restarted server takes a new report, which is stored and opens like the others.
    after = prepare(desk.intake_key(), 1, label="after the crash")
    again = run_load(restarted.url, after, concurrency=1)
    assert again.failures() == [], restarted.log_tail()
    stored = read_back(desk, admin)
    assert after[0].report_id in stored
    assert (
        differences(
            stored,
            {item.report_id: item for item in [*sent, *after]},
            lookup_secret=desk.secrets.lookup,
        )
        == []
    )
