"""The case workers' dashboard through the real HTTP server: the report list, the decrypted
text search against a floor measured in the same run, and many people signing in at once.

    python benchmarks/dashboard.py [--sizes 10000,100000] [--search-at 10000] [--requests 100]
                                   [--logins 50] [--database-url postgresql+psycopg://...]

- list: a vetted coordinator, signed in over HTTP, asks ``GET /dashboard/reports`` for the
  first page, a middle page, a status and an incident type, one request at a time. The first
  listing, which learns which new reports are urgent by decrypting each, is timed apart.
- search: ``GET /dashboard/reports?q=...`` for words in fewer reports than fill a page, so
  that it reads every report; the floor opens and decrypts the same reports in a bare loop.
  The target is a search at most 1.3 times the floor.
- sign-in: ``--logins`` enrolled people post the sign-in form at the same moment, with the
  production Argon2 parameters; the server's peak resident memory, wall time and failures.

The tables are the result; nothing is asserted. See benchmarks/README.md.
"""

import argparse
import asyncio
import os
import re
import statistics
import sys
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from typing import Any

import cryptography
import httpx2 as httpx
import sqlalchemy
from bench_desk import (
    CHEAP_ARGON2,
    PASSWORD,
    backend_of,
    memory_mib,
    paired_ratio,
    scratch_runtime,
    server,
    set_up_desk,
    settle,
    stored_in_chunks,
)
from dashboard_desk import (
    CHUNK,
    SEARCH_HITS,
    SEARCH_TERM,
    enrol,
    login_form,
    store_reports,
    vet,
)
from sqlalchemy import select

from hrd_reports import db
from hrd_reports.crypto.envelope import decrypt_report_body, open_dek
from hrd_reports.crypto.list_cursor import Direction, ListCursor, cursor_key, seal_cursor
from hrd_reports.crypto.pow import solve
from hrd_reports.crypto.submission import new_submission
from hrd_reports.crypto.xwing import PrivateKey, PublicKey, Sealed
from hrd_reports.models import REPORT_LIST_KEY, REPORT_LIST_ORDER, Report, Role, User
from hrd_reports.services import credentials, keyring, listing
from hrd_reports.wiring import Runtime

COORDINATOR = "bench-coordinator"
TARGET_SEARCH_RATIO = 1.3
# Runs of the search, each beside its floor: the machine's noise is as large as the margin.
SEARCH_REPEATS = 7
TARGET_DEEP_PAGE_RATIO = 2.0
DEEP_PAGE = 1_000
INTAKE_CONTENT = b'{"v":1,"incident_types":["death_threat"],"narrative":"Sent meanwhile."}'
LISTED = re.compile(r"data-report-id=")


@dataclass(frozen=True)
class ListResult:
    backend: str
    reports: int
    setup_s: float
    first_s: float
    latencies: dict[str, list[float]]
    server_peak_mib: float
    intake: "IntakeDuring"
    deep_page: int

    @property
    def p95(self) -> dict[str, float]:
        return {kind: statistics.quantiles(s, n=100)[94] for kind, s in self.latencies.items()}

    @property
    def deep_page_p95(self) -> float:
        """Page ``deep_page``'s p95, reached through its cursor."""
        return self.p95[f"page {self.deep_page:,} (cursor)"]


@dataclass(frozen=True)
class IntakeDuring:
    """A reporter's client submitting one report after another during the first listing."""

    answers: int
    statuses: Counter[int]
    longest_s: float


@dataclass(frozen=True)
class SearchResult:
    """Medians of the runs, and the ratios to the floor (``paired_ratio``)."""

    backend: str
    reports: int
    floor_s: float
    service_s: float
    http_s: float
    service_ratio: float
    http_ratio: float


@dataclass(frozen=True)
class LoginResult:
    backend: str
    logins: int
    argon2: str
    concurrency: int
    wall_s: float
    latencies: list[float]
    statuses: Counter[int]
    health_max_s: float
    before_mib: float
    peak_mib: float


def get(client: httpx.Client, path: str, expected_rows: int | None = None) -> float:
    started = time.perf_counter()
    response = client.get(path)
    elapsed = time.perf_counter() - started
    rows = len(LISTED.findall(response.text))
    if response.status_code != 200 or (expected_rows is not None and rows != expected_rows):
        # A refused or short page would flatter the figures: refuse to print them.
        sys.exit(f"GET {path}: {response.status_code}, {rows} reports listed; no result")
    return elapsed


# ---- list and search -------------------------------------------------------------------------


def deep_page(count: int) -> int:
    return min(DEEP_PAGE, max(1, -(-count // listing.PAGE_SIZE)))


def list_paths(count: int, deep_cursor: str) -> dict[str, str]:
    middle = max(1, count // listing.PAGE_SIZE // 2)
    return {
        "first page": "/dashboard/reports",
        f"page {middle} (?page=, offset)": f"/dashboard/reports?page={middle}",
        f"page {deep_page(count):,} (cursor)": f"/dashboard/reports?cursor={deep_cursor}",
        "status=open": "/dashboard/reports?status=open",
        "incident_type=detention": "/dashboard/reports?incident_type=detention",
    }


def cursor_to_page(rt: Runtime, page: int) -> tuple[str, int]:
    """The cursor the "next page" link of page ``page - 1`` carries, sealed as the list seals
    it (after the last report of that page, for the coordinator), and how many reports that
    page lists."""
    with db.unit_of_work(rt.sessions) as session:
        user_id = session.execute(select(User.id).where(User.name == COORDINATOR)).scalar_one()
        before = (page - 1) * listing.PAGE_SIZE
        total = session.execute(select(sqlalchemy.func.count()).select_from(Report)).scalar_one()
        urgent, day, row_id = session.execute(
            select(*REPORT_LIST_KEY).order_by(*REPORT_LIST_ORDER).offset(before - 1).limit(1)
        ).one()
    place = ListCursor(Direction.AFTER, bool(urgent), day, row_id)
    token = seal_cursor(place, key=cursor_key(rt.secrets.session), reader=str(user_id))
    return token, min(listing.PAGE_SIZE, total - before)


def submit_meanwhile(url: str, key: PublicKey, stop: threading.Event) -> IntakeDuring:
    """Submit reports through the reporter's API, one after another, until ``stop``."""
    statuses: Counter[int] = Counter()
    longest = 0.0
    with httpx.Client(base_url=url, timeout=None) as client:
        while not stop.is_set():
            envelope = new_submission(INTAKE_CONTENT, intake_key=key)[1].to_wire()
            started = time.perf_counter()
            challenge = client.get("/api/v1/challenge").json()
            # The flood defence raises the difficulty as this client keeps on: solved as a
            # reporter's browser would.
            token, difficulty = challenge["challenge"], challenge["difficulty"]
            body = {
                "proof_of_work": {"challenge": token, "counter": solve(token, difficulty)},
                "envelope": envelope,
            }
            status = client.post("/api/v1/reports", json=body).status_code
            longest = max(longest, time.perf_counter() - started)
            statuses[status] += 1
    return IntakeDuring(sum(statuses.values()), statuses, longest)


def measure_floor(rt: Runtime, intake_keys: dict[str, PrivateKey]) -> float:
    """Open each report's data key and decrypt its body: only the loops are timed, the rows
    are read between them in chunks."""
    columns = (
        Report.id,
        Report.public_id,
        Report.dek_suite,
        Report.dek_key_id,
        Report.sealed_dek,
        Report.body,
    )
    elapsed = 0.0
    for rows in stored_in_chunks(rt, *columns, chunk=CHUNK):
        started = time.perf_counter()
        for _id, public_id, suite, key_id, sealed_dek, body in rows:
            sealed = Sealed(suite, key_id, sealed_dek)
            dek = open_dek(sealed, report_id=public_id, holder=intake_keys[key_id])
            decrypt_report_body(dek, body, report_id=public_id)
        elapsed += time.perf_counter() - started
    return elapsed


def measure_service_search(rt: Runtime) -> float:
    """``listing.list_page`` with the text filter and its commit, without HTTP; the unlock
    (the password check a sign-in made) is not timed."""
    with db.unit_of_work(rt.sessions) as session:
        reader = credentials.unlock(
            session, name=COORDINATOR, password=PASSWORD, passwords=rt.passwords
        )
        started = time.perf_counter()
        listed = listing.list_page(
            session,
            reader=reader,
            filters=listing.ReportFilter(text=SEARCH_TERM),
            page=1,
            secrets=rt.secrets,
        )
        session.commit()
        elapsed = time.perf_counter() - started
    if len(listed.entries) != SEARCH_HITS:
        sys.exit(f"the search found {len(listed.entries)} of {SEARCH_HITS} reports; no result")
    return elapsed


def measure_search(rt: Runtime, client: httpx.Client, count: int, repeats: int) -> SearchResult:
    """Floor, search in this process and search over HTTP in turn, ``repeats`` times, so that
    a disturbance touches all three; the medians."""
    with db.unit_of_work(rt.sessions) as session:
        reader = credentials.unlock(
            session, name=COORDINATOR, password=PASSWORD, passwords=rt.passwords
        )
        intake_keys = keyring.unlock_intake_keys(
            session, user=reader.user, private_key=reader.private_key
        )
    path = "/dashboard/reports?" + urllib.parse.urlencode({"q": SEARCH_TERM})
    floor, service, http = [], [], []
    for _ in range(repeats):
        floor.append(measure_floor(rt, intake_keys))
        service.append(measure_service_search(rt))
        http.append(get(client, path, SEARCH_HITS))
    medians = (statistics.median(times) for times in (floor, service, http))
    ratios = (paired_ratio(times, floor) for times in (service, http))
    return SearchResult(backend_of(rt.settings.database_url), count, *medians, *ratios)


def run(
    count: int, server_url: str | None, requests: int, search_repeats: int
) -> tuple[ListResult, SearchResult | None]:
    backend = backend_of(server_url)
    # No proof-of-work cost for the reports submitted during the first listing: what is
    # measured is whether intake is answered, not the reporter's phone.
    with scratch_runtime(server_url, "dashboard", pow_difficulty_bits=0, **CHEAP_ARGON2) as (
        rt,
        workdir,
    ):
        print(f"{backend}: setting up {count:,} reports ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        intake_key = set_up_desk(rt)
        secret = enrol(rt, name=COORDINATOR, role=Role.COORDINATOR)
        vet(rt, COORDINATOR)
        store_reports(rt, count, intake_key)
        setup_s = time.perf_counter() - started
        with (
            server(rt.settings, workdir) as (url, pid),
            httpx.Client(base_url=url, timeout=None) as client,
        ):
            form = login_form(client.get("/dashboard/login").text, name=COORDINATOR, secret=secret)
            if client.post("/dashboard/login", data=form).status_code != 303:
                sys.exit("the coordinator could not sign in; no result")
            print(f"{backend}: first listing, intake meanwhile ...", file=sys.stderr, flush=True)
            stop = threading.Event()
            submitted: list[IntakeDuring] = []
            reporter = threading.Thread(
                target=lambda: submitted.append(submit_meanwhile(url, intake_key, stop))
            )
            reporter.start()
            try:
                first_s = get(client, "/dashboard/reports", listing.PAGE_SIZE)
            finally:
                stop.set()
                reporter.join()
            # The first listing set the urgent flag of every report.
            settle(rt)
            deep = deep_page(count)
            deep_cursor, deep_rows = cursor_to_page(rt, deep)
            paths = list_paths(count, deep_cursor)
            rows = dict.fromkeys(paths, listing.PAGE_SIZE)
            rows[f"page {deep:,} (cursor)"] = deep_rows
            latencies: dict[str, list[float]] = {kind: [] for kind in paths}
            print(f"{backend}: {requests} x {len(paths)} pages ...", file=sys.stderr)
            for path in paths.values():
                get(client, path)  # warm-up
            for _ in range(requests):
                for kind, path in paths.items():
                    latencies[kind].append(get(client, path, rows[kind]))
            server_peak = memory_mib(pid, "VmHWM")
            search = None
            if search_repeats:
                print(f"{backend}: search over {count:,} ...", file=sys.stderr, flush=True)
                search = measure_search(rt, client, count, search_repeats)
    result = ListResult(
        backend, count, setup_s, first_s, latencies, server_peak, submitted[0], deep
    )
    return result, search


# ---- many people signing in at once ----------------------------------------------------------


async def sign_in_at_once(url: str, people: dict[str, bytes]) -> tuple[float, list[Any], float]:
    """Each person loads the form first; then every form is posted at the same moment, while
    ``/healthz`` is asked four times a second to see whether the server still answers others.

    The wall time, each sign-in's status and time, and the longest ``/healthz`` answer.
    """
    clients = [httpx.AsyncClient(base_url=url, timeout=None) for _ in people]
    try:
        forms = []
        for client, (name, secret) in zip(clients, people.items(), strict=True):
            page = (await client.get("/dashboard/login")).text
            forms.append(login_form(page, name=name, secret=secret))

        async def post(client: httpx.AsyncClient, form: dict[str, str]) -> tuple[int, float]:
            started = time.perf_counter()
            response = await client.post("/dashboard/login", data=form)
            return response.status_code, time.perf_counter() - started

        async def probe(done: asyncio.Event) -> float:
            longest = 0.0
            async with httpx.AsyncClient(base_url=url, timeout=None) as client:
                while not done.is_set():
                    started = time.perf_counter()
                    await client.get("/healthz")
                    longest = max(longest, time.perf_counter() - started)
                    await asyncio.sleep(0.25)
            return longest

        done = asyncio.Event()
        prober = asyncio.create_task(probe(done))
        started = time.perf_counter()
        answers = await asyncio.gather(*map(post, clients, forms))
        wall_s = time.perf_counter() - started
        done.set()
        return wall_s, answers, await prober
    finally:
        for client in clients:
            await client.aclose()


def run_logins(count: int, server_url: str | None) -> LoginResult:
    backend = backend_of(server_url)
    # The production Argon2 parameters: the defaults, as a deployment has them.
    with scratch_runtime(server_url, "logins") as (rt, workdir):
        print(f"{backend}: enrolling {count} people ...", file=sys.stderr, flush=True)
        set_up_desk(rt)
        names = [f"bench-worker-{n:03d}" for n in range(count)]
        people = {name: enrol(rt, name=name, role=Role.CASE_WORKER) for name in names}
        settings = rt.settings
        with server(settings, workdir) as (url, pid):
            before = memory_mib(pid, "VmRSS")
            print(f"{backend}: {count} sign-ins at once ...", file=sys.stderr, flush=True)
            wall_s, answers, health_max_s = asyncio.run(sign_in_at_once(url, people))
            peak = memory_mib(pid, "VmHWM")
    argon2 = settings.argon2
    return LoginResult(
        backend,
        count,
        f"t={argon2.time_cost}, m={argon2.memory_kib // 1024} MiB, p={argon2.parallelism}",
        settings.argon2_concurrency,
        wall_s,
        [seconds for _, seconds in answers],
        Counter(status for status, _ in answers),
        health_max_s,
        before,
        peak,
    )


# ---- the tables ------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}" if seconds >= 0.1 else f"{seconds * 1000:.1f}"


def print_lists(results: list[ListResult]) -> None:
    header = (
        f"{'backend':<11}{'reports':>9}{'setup s':>9}{'first listing ms':>18}  "
        f"{'page':<25}{'p50 ms':>8}{'p95 ms':>8}{'server peak MiB':>17}"
    )
    print(f"\nreport list, one request at a time\n{header}\n{'-' * len(header)}")
    for r in results:
        lead = f"{r.backend:<11}{r.reports:>9,}{r.setup_s:>9.1f}{ms(r.first_s):>18}  "
        peak = f"{r.server_peak_mib:>17.0f}"
        for kind, seconds in r.latencies.items():
            cuts = statistics.quantiles(seconds, n=100)
            print(f"{lead}{kind:<25}{ms(cuts[49]):>8}{ms(cuts[94]):>8}{peak}")
            lead, peak = " " * len(lead), ""
    print(f"\npage {DEEP_PAGE:,} (or the last) through the cursor against the first page")
    for r in results:
        deep, first = r.deep_page_p95, r.p95["first page"]
        print(
            f"  {r.backend:<11}{r.reports:>9,}  page {r.deep_page:,}: p95 {ms(deep)} ms, "
            f"first page p95 {ms(first)} ms, ratio {deep / first:.2f}"
        )
    print(f"  target: ratio <= {TARGET_DEEP_PAGE_RATIO:.1f}")
    print("\nfirst listing (classifies every new report) while a reporter submits through intake")
    for r in results:
        i = r.intake
        statuses = ", ".join(f"{status}: {n}" for status, n in sorted(i.statuses.items()))
        print(
            f"  {r.backend:<11}{r.reports:>9,}  first listing {ms(r.first_s)} ms; intake answers "
            f"during it {i.answers} ({statuses}; 201 is stored), longest {ms(i.longest_s)} ms"
        )


def print_searches(results: list[SearchResult]) -> None:
    header = (
        f"{'backend':<11}{'reports':>9}{'floor ms':>10}{'service ms':>12}{'HTTP ms':>10}"
        f"{'service/floor':>15}{'HTTP/floor':>12}"
    )
    print(
        "\ndecrypted text search (median of runs; ratios: median of each run's against its floor)"
        f"\n{header}\n{'-' * len(header)}"
    )
    for s in results:
        print(
            f"{s.backend:<11}{s.reports:>9,}{ms(s.floor_s):>10}{ms(s.service_s):>12}"
            f"{ms(s.http_s):>10}{s.service_ratio:>15.2f}{s.http_ratio:>12.2f}"
        )
    print(f"target: HTTP/floor <= {TARGET_SEARCH_RATIO:.1f}")


def print_logins(r: LoginResult) -> None:
    failures = sum(n for status, n in r.statuses.items() if status != 303)
    answers = ", ".join(f"{status}: {n}" for status, n in sorted(r.statuses.items()))
    print(f"\n{r.logins} sign-ins at once, {r.backend}, Argon2 {r.argon2}")
    print(f"  argon2_concurrency {r.concurrency}; wall {r.wall_s:.1f} s; per sign-in ", end="")
    print(f"p50 {statistics.median(r.latencies):.1f} s, max {max(r.latencies):.1f} s")
    print(f"  answers {answers} (303 is signed in); failures {failures} (target 0)")
    print(f"  server RSS {r.before_mib:.0f} MiB before, peak {r.peak_mib:.0f} MiB")
    print(f"  longest /healthz answer meanwhile {r.health_max_s:.1f} s")


def parse_sizes(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def main() -> None:
    parser = argparse.ArgumentParser(description="The dashboard's list, search and sign-in.")
    parser.add_argument(
        "--sizes", type=parse_sizes, default=[10_000, 100_000], help="default 10000,100000"
    )
    parser.add_argument(
        "--search-at",
        type=parse_sizes,
        default=[10_000],
        help="sizes at which the search is measured too; default 10000, '' for none",
    )
    parser.add_argument("--search-repeats", type=int, default=SEARCH_REPEATS)
    parser.add_argument("--requests", type=int, default=100, help="of each page; default 100")
    parser.add_argument("--logins", type=int, default=50, help="default 50, 0 for none")
    parser.add_argument(
        "--database-url",
        help="run on this PostgreSQL server (a fresh database for each desk, dropped "
        "afterwards; the one named is only connected to); default SQLite in a temporary "
        "directory",
    )
    args = parser.parse_args()
    if args.database_url is not None and db.is_sqlite(args.database_url):
        parser.error("--database-url is for PostgreSQL; SQLite runs in a temporary directory")
    lists, searches = [], []
    for count in args.sizes:
        repeats = args.search_repeats if count in args.search_at else 0
        listed, search = run(count, args.database_url, args.requests, repeats)
        lists.append(listed)
        searches += [search] if search else []
    logins = run_logins(args.logins, args.database_url) if args.logins else None
    print(
        f"\nPython {sys.version.split()[0]}, cryptography {cryptography.__version__}, "
        f"SQLAlchemy {sqlalchemy.__version__}, {os.cpu_count()} CPUs; the server runs 1 worker"
    )
    if lists:
        print_lists(lists)
    if searches:
        print_searches(searches)
    if logins is not None:
        print_logins(logins)


if __name__ == "__main__":
    main()
