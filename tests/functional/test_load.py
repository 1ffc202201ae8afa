"""Under load, the real server acknowledges every report, stores each one whole, and never
answers 5xx (DESIGN.md invariant 7: no report is ever lost).

64 reporters at once submit through the reference client to ``hrd-reports serve --workers 2``
on this test's database. The default size keeps CI quick on a small machine; the full run is

    HRD_TEST_LOAD_SUBMISSIONS=10000 python -m pytest tests/functional/test_load.py -s

(and the same with ``HRD_TEST_DATABASE_URL`` for PostgreSQL). With ``HRD_TEST_LOAD_RESULTS``
naming a file, the figures are also written there as one JSON object, for a benchmark runner.
"""

import json
import os
from pathlib import Path

import pytest

from hrd_reports import db
from hrd_reports.settings import Settings
from tests.helpers import Desk, Person
from tests.load import LoadResult, differences, prepare, read_back, run_load
from tests.server import StartServer

SUBMISSIONS = int(os.environ.get("HRD_TEST_LOAD_SUBMISSIONS", "400"))
CONCURRENCY = 64
WORKERS = 2


def _publish(result: LoadResult, settings: Settings) -> None:
    """The figures on standard output (seen with -s), and in HRD_TEST_LOAD_RESULTS if set."""
    figures = {
        "database": "sqlite" if db.is_sqlite(settings.database_url) else "postgresql",
        "workers": WORKERS,
        **result.figures(),
    }
    print(
        f"\nload, {figures['database']}, {WORKERS} workers, concurrency {CONCURRENCY}: "
        f"sent {figures['sent']}, acknowledged {figures['acknowledged']}, "
        f"5xx {figures['server_errors']}, other statuses {figures['other_statuses']}, "
        f"p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms, "
        f"{figures['throughput_per_s']} reports/s over {figures['elapsed_s']} s"
    )
    if target := os.environ.get("HRD_TEST_LOAD_RESULTS"):
        Path(target).write_text(json.dumps(figures) + "\n")


@pytest.mark.slow
def test_intake_under_concurrent_load_acknowledges_and_keeps_every_report(
    desk: Desk, admin: Person, settings: Settings, start_server: StartServer
) -> None:
    sent = prepare(desk.intake_key(), SUBMISSIONS, label="under load")
    server = start_server(workers=WORKERS)

    result = run_load(server.url, sent, concurrency=CONCURRENCY)
    _publish(result, settings)

    # Any answer but 201 is a failure: a 5xx is a crash the reporter sees, a 409 or 503 a
    # report the reporter must send again, perhaps from danger.
    assert result.sent == SUBMISSIONS
    assert result.failures() == [], server.log_tail()
    # Each 201 names the report it stored: the one its envelope carried.
    assert [o.report_id for o in result.acknowledged] == [
        o.prepared.report_id for o in result.acknowledged
    ]
    # Nothing lost: the database holds exactly the reports sent, each whole, byte for byte,
    # each opening for a key holder to the words its reporter wrote.
    stored = read_back(desk, admin)
    assert set(stored) == {item.report_id for item in sent}
    assert (
        differences(
            stored, {item.report_id: item for item in sent}, lookup_secret=desk.secrets.lookup
        )
        == []
    )
