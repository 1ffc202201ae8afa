"""The dashboard's statistics over 10,000 reports, against a bare decryption of the same
reports measured in the same run.

    python benchmarks/desk_statistics.py [--reports 10000] [--repeats 5]
                                    [--database-url postgresql+psycopg://...]

A fresh desk (the database as for ``rotation.py``) with a coordinator, invited, enrolled and
vetted as in ``dashboard.py``, and N reports of the same realistic mix, stored as intake stores
them; the first listing has opened each once (a running desk's reports are past it). A fifth
of the reports still "received" are then moved into triage through the service the
dashboard calls (an audit entry each), and the desk replies to a tenth of the reports, so
that the waiting times have something to measure. Then, in turn, ``--repeats`` times:

- **floor**: a bare loop over the same reports (read in chunks between the timed loops) that
  opens each data key with the coordinator's intake key and decrypts the body, as the search
  benchmark's floor does: the decryption statistics cannot avoid, no database, no parsing.
- **service**: ``statistics.compute`` and its audit entry, in this process, without HTTP.
- **HTTP**: ``GET /dashboard/stats`` from the coordinator signed in to ``hrd-reports serve``
  (one worker), which must count all N reports.

The medians of each, and the medians of each run's ratio to the floor measured just before
it; the target is HTTP at most 1.5 times the floor. Nothing is asserted. See
benchmarks/README.md. (Not ``statistics.py``: run from this folder, that name
would stand in for the standard library's module in every benchmark that imports it.)
"""

import argparse
import datetime as dt
import os
import random
import re
import statistics as stats
import sys
import time
from dataclasses import dataclass

import cryptography
import httpx2 as httpx
import sqlalchemy
from bench_desk import (
    CHEAP_ARGON2,
    PASSWORD,
    backend_of,
    paired_ratio,
    scratch_runtime,
    server,
    set_up_desk,
    settle,
)
from dashboard import COORDINATOR, measure_floor
from dashboard_desk import enrol, login_form, store_reports, vet
from sqlalchemy import select

from hrd_reports import db
from hrd_reports.models import Report, ReportStatus, Role
from hrd_reports.services import casework, conversation, credentials, keyring, listing
from hrd_reports.services import statistics as statistics_service
from hrd_reports.services.clock import utc_today
from hrd_reports.wiring import Runtime

TARGET_RATIO = 1.5
TRIAGED_SHARE, REPLIED_SHARE = 0.2, 0.1
COUNTED = re.compile(r'data-testid="reports-count">([0-9,]+)<')


@dataclass(frozen=True)
class Result:
    backend: str
    reports: int
    setup_s: float
    floor_s: float
    service_s: float
    http_s: float
    # Each to the floor (``paired_ratio``); ``ratio`` is HTTP's, the one with the target.
    service_ratio: float
    ratio: float


def _unlock(rt: Runtime, session: sqlalchemy.orm.Session) -> credentials.UnlockedUser:
    return credentials.unlock(session, name=COORDINATOR, password=PASSWORD, passwords=rt.passwords)


def work_on_reports(rt: Runtime, count: int) -> None:
    """The first listing (which opens every new report once), then a fifth of the reports
    still "received" moved into triage and a tenth of all replied to, as the dashboard does."""
    rng = random.Random(count)  # noqa: S311 - test data, not a secret
    with db.unit_of_work(rt.sessions) as session:
        listing.list_page(
            session,
            reader=_unlock(rt, session),
            filters=listing.ReportFilter(),
            page=1,
            secrets=rt.secrets,
        )
        session.commit()
    with db.unit_of_work(rt.sessions) as session:
        received = list(
            session.execute(
                select(Report.public_id).where(Report.status == ReportStatus.RECEIVED)
            ).scalars()
        )
        every = list(session.execute(select(Report.public_id)).scalars())
    triaged = rng.sample(received, k=int(len(received) * TRIAGED_SHARE))
    replied = rng.sample(every, k=int(len(every) * REPLIED_SHARE))
    with db.unit_of_work(rt.sessions) as session:
        reader = _unlock(rt, session)
        for report_id in triaged:
            casework.update_workflow(
                session,
                reader=reader,
                report_id=report_id,
                status=ReportStatus.TRIAGE,
                priority=casework.KEEP,
                risk=None,
                secrets=rt.secrets,
            )
        for report_id in replied:
            conversation.reply(
                session,
                reader=reader,
                report_id=report_id,
                text="We read your report; a case worker will write to you.",
                secrets=rt.secrets,
            )
        session.commit()
    settle(rt)


def measure_service(rt: Runtime, count: int) -> float:
    """``statistics.compute`` in a read session and its audit entry in a write, as the page
    does; the unlock (the password check a sign-in made) is not timed."""
    with db.unit_of_work(rt.read_sessions) as session:
        reader = _unlock(rt, session)
        started = time.perf_counter()
        computed = statistics_service.compute(
            session,
            reader=reader,
            filters=statistics_service.StatisticsFilter(),
            today=utc_today(),
            min_cell=rt.settings.stats_min_cell,
        )
        with db.unit_of_work(rt.sessions) as writing:
            statistics_service.audit_computation(
                writing, reader=COORDINATOR, computed=computed, secrets=rt.secrets
            )
            writing.commit()
        elapsed = time.perf_counter() - started
    if computed.statistics.reports.count != count:
        sys.exit(f"the statistics counted {computed.statistics.reports.count}; no result")
    return elapsed


def measure_http(client: httpx.Client, count: int) -> float:
    started = time.perf_counter()
    response = client.get("/dashboard/stats?lang=en")
    elapsed = time.perf_counter() - started
    counted = COUNTED.search(response.text)
    if response.status_code != 200 or counted is None or counted.group(1) != f"{count:,}":
        # A refused or partial page would flatter the figures: refuse to print them.
        sys.exit(f"GET /dashboard/stats: {response.status_code}; no result")
    return elapsed


def run(count: int, server_url: str | None, repeats: int) -> Result:
    backend = backend_of(server_url)
    with scratch_runtime(server_url, "statistics", **CHEAP_ARGON2) as (rt, workdir):
        print(f"{backend}: setting up {count:,} reports ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        intake_key = set_up_desk(rt)
        secret = enrol(rt, name=COORDINATOR, role=Role.COORDINATOR)
        vet(rt, COORDINATOR)
        store_reports(rt, count, intake_key)
        work_on_reports(rt, count)
        setup_s = time.perf_counter() - started
        with db.unit_of_work(rt.read_sessions) as session:
            reader = _unlock(rt, session)
            intake_keys = keyring.unlock_intake_keys(
                session, user=reader.user, private_key=reader.private_key
            )
        with (
            server(rt.settings, workdir) as (url, _pid),
            httpx.Client(base_url=url, timeout=None) as client,
        ):
            form = login_form(client.get("/dashboard/login").text, name=COORDINATOR, secret=secret)
            if client.post("/dashboard/login", data=form).status_code != 303:
                sys.exit("the coordinator could not sign in; no result")
            measure_http(client, count)  # warm-up: templates, the first pages of the database
            floor, service, http = [], [], []
            print(f"{backend}: {repeats} x floor, service, HTTP ...", file=sys.stderr, flush=True)
            for _ in range(repeats):
                floor.append(measure_floor(rt, intake_keys))
                service.append(measure_service(rt, count))
                http.append(measure_http(client, count))
    medians = (stats.median(times) for times in (floor, service, http))
    ratios = (paired_ratio(times, floor) for times in (service, http))
    return Result(backend, count, setup_s, *medians, *ratios)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def print_table(results: list[Result]) -> None:
    header = (
        f"{'backend':<11}{'reports':>9}{'setup s':>9}{'floor ms':>10}{'service ms':>12}"
        f"{'HTTP ms':>10}{'service/floor':>15}{'HTTP/floor':>12}"
    )
    print(
        "\nstatistics over every report (median of runs; ratios: median of each run's against "
        f"its floor)\n{header}\n{'-' * len(header)}"
    )
    for r in results:
        print(
            f"{r.backend:<11}{r.reports:>9,}{r.setup_s:>9.1f}{ms(r.floor_s):>10}"
            f"{ms(r.service_s):>12}{ms(r.http_s):>10}{r.service_ratio:>15.2f}"
            f"{r.ratio:>12.2f}"
        )
    print(f"target: HTTP/floor <= {TARGET_RATIO:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Statistics against a bare decryption.")
    parser.add_argument("--reports", type=int, default=10_000, help="default 10000")
    parser.add_argument("--repeats", type=int, default=5, help="default 5")
    parser.add_argument(
        "--database-url",
        help="run on this PostgreSQL server (a fresh database, dropped afterwards; the one "
        "named is only connected to); default SQLite in a temporary directory",
    )
    args = parser.parse_args()
    if args.database_url is not None and db.is_sqlite(args.database_url):
        parser.error("--database-url is for PostgreSQL; SQLite runs in a temporary directory")
    result = run(args.reports, args.database_url, args.repeats)
    print(
        f"\nPython {sys.version.split()[0]}, cryptography {cryptography.__version__}, "
        f"SQLAlchemy {sqlalchemy.__version__}, {os.cpu_count()} CPUs; the server runs 1 worker; "
        f"{dt.datetime.now(dt.UTC).date().isoformat()}"
    )
    print_table([result])


if __name__ == "__main__":
    main()
