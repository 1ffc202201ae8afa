"""Every benchmark and the full load test, then one table of the figures that matter.

    python benchmarks/all.py [--database-url postgresql+psycopg://...] [--quick]

Runs, on SQLite and (with ``--database-url``) on PostgreSQL: key rotation at 10,000 and 100,000
reports, backup and restore of 100,000 reports, intake through the HTTP server, the dashboard's
list at 10,000 and 100,000 reports, its decrypted search, its statistics over 10,000 reports
and 50 sign-ins at once, a reporter's challenges under a flood of dashboard requests, the
upload and download of a 100 MiB evidence file; once: the reporter's browser (seal time and
page weight, and encrypting the evidence file once static/js/attachments.js is there); and the
load test, 10,000 submissions through ``hrd-reports serve --workers 2`` at concurrency 64
(``tests/functional/test_load.py``, which also checks that none is lost and none is answered
5xx). Each benchmark prints its own detailed table as it finishes; the summary at the end gives
each figure next to its floor (measured in the same run) and its target. ``--quick`` runs
everything at a small size, to check that the benchmarks work; its figures are not comparable.
Takes about 25 minutes with PostgreSQL, on two cores. See benchmarks/README.md."""

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import attachments
import backup
import browser
import cryptography
import dashboard
import desk_statistics
import flood
import intake
import rotation
import sqlalchemy
from bench_desk import backend_of

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Sizes:
    rotation: list[int]
    dashboard: list[int]
    search_at: int
    statistics: int
    list_requests: int
    logins: int
    intake: int
    load: int
    flood: int
    attachment_mib: int
    attachment_repeats: int
    backup: list[int]


FULL = Sizes(
    [10_000, 100_000],
    [10_000, 100_000],
    10_000,
    10_000,
    100,
    50,
    3_000,
    10_000,
    3_000,
    100,
    3,
    [100_000],
)
QUICK = Sizes([1_000], [2_000], 2_000, 2_000, 10, 5, 300, 500, 500, 8, 1, [1_000])


@dataclass(frozen=True)
class Row:
    measure: str
    backend: str
    figure: str
    floor: str = ""
    ratio: str = ""
    target: str = ""


def run_load(submissions: int, server_url: str | None) -> dict[str, Any]:
    """The load test of the suite, at full size: its figures, or exit if it failed."""
    env = os.environ | {"HRD_TEST_LOAD_SUBMISSIONS": str(submissions)}
    env.pop("HRD_TEST_DATABASE_URL", None)
    if server_url is not None:
        env["HRD_TEST_DATABASE_URL"] = server_url
    with tempfile.TemporaryDirectory(prefix="hrd-bench-load-") as directory:
        results = Path(directory) / "load.json"
        env["HRD_TEST_LOAD_RESULTS"] = str(results)
        print(f"{backend_of(server_url)}: load test, {submissions:,} submissions ...", flush=True)
        test = "tests/functional/test_load.py"
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", test],
            cwd=ROOT,
            env=env,
            check=False,
        )
        if run.returncode != 0:
            sys.exit(f"the load test failed on {backend_of(server_url)}: no summary")
        figures: dict[str, Any] = json.loads(results.read_text())
        return figures


def rotation_rows(results: list[rotation.Result]) -> list[Row]:
    rows = []
    for r in results:
        floor, rate = r.reports / r.floor_s, r.reports / r.rotation_s
        rows.append(
            Row(
                f"key rotation, {r.reports:,} reports",
                r.backend,
                f"{rate:,.0f} reports/s",
                f"{floor:,.0f} reports/s",
                f"{rate / floor:.2f}",
                f">= {rotation.TARGET_RATIO:.2f}",
            )
        )
    return rows


def backup_rows(results: list[backup.Result]) -> list[Row]:
    rows = []
    for r in results:
        for name, floor, phase in (
            ("backup", r.backup_floor, r.backup),
            ("restore", r.restore_floor, r.restore),
        ):
            floor_rate, rate = r.reports / floor.seconds, r.reports / phase.seconds
            rows.append(
                Row(
                    f"{name}, {r.reports:,} reports ({r.file_mib:.0f} MiB file)",
                    r.backend,
                    f"{rate:,.0f} reports/s; peak RSS {phase.peak_rss_mib:.0f} MiB",
                    f"{floor_rate:,.0f} reports/s (bare copy)",
                    f"{rate / floor_rate:.2f}",
                    f">= {backup.TARGET_RATIO:.2f}",
                )
            )
    return rows


def intake_row(r: intake.IntakeResult) -> Row:
    return Row(
        f"intake over HTTP, {r.reports:,} reports, {r.workers} workers, {r.concurrency} at once",
        r.backend,
        f"{r.http_rate:,.0f} reports/s, {r.failures} failed",
        f"{r.floor_rate:,.0f} requests/s (floor route)",
        f"{r.ratio:.2f}",
        f">= {intake.TARGET_RATIO:.2f}" if r.is_a_flood else "-",
    )


def list_row(r: dashboard.ListResult) -> Row:
    p95 = r.p95
    slowest = max(p95, key=lambda kind: p95[kind])
    first = next(iter(p95))
    return Row(
        f"report list p95, {r.reports:,} reports",
        r.backend,
        f"{dashboard.ms(p95[first])} ms first page; slowest {dashboard.ms(p95[slowest])} ms "
        f"({slowest}); server peak {r.server_peak_mib:.0f} MiB",
    )


def deep_page_row(r: dashboard.ListResult) -> Row:
    deep, first = r.deep_page_p95, r.p95["first page"]
    return Row(
        f"report list p95, page {r.deep_page:,} of {r.reports:,} by its cursor",
        r.backend,
        f"{dashboard.ms(deep)} ms",
        f"{dashboard.ms(first)} ms (first page)",
        f"{deep / first:.2f}",
        f"<= {dashboard.TARGET_DEEP_PAGE_RATIO:.1f}",
    )


def first_listing_row(r: dashboard.ListResult) -> Row:
    i = r.intake
    refused = i.answers - i.statuses[201]
    return Row(
        f"first listing of {r.reports:,} new reports, intake meanwhile",
        r.backend,
        f"{dashboard.ms(r.first_s)} ms; {i.answers} intake answers, {refused} not 201, "
        f"longest {dashboard.ms(i.longest_s)} ms",
        target="every intake answer 201",
    )


def search_row(s: dashboard.SearchResult) -> Row:
    return Row(
        f"decrypted search, {s.reports:,} reports",
        s.backend,
        f"{dashboard.ms(s.http_s)} ms",
        f"{dashboard.ms(s.floor_s)} ms",
        f"{s.http_ratio:.2f}",
        f"<= {dashboard.TARGET_SEARCH_RATIO:.1f}",
    )


def statistics_row(r: desk_statistics.Result) -> Row:
    return Row(
        f"statistics page, {r.reports:,} reports",
        r.backend,
        f"{desk_statistics.ms(r.http_s)} ms (service {desk_statistics.ms(r.service_s)} ms)",
        f"{desk_statistics.ms(r.floor_s)} ms (bare decryption)",
        f"{r.ratio:.2f}",
        f"<= {desk_statistics.TARGET_RATIO:.1f}",
    )


def logins_row(r: dashboard.LoginResult) -> Row:
    failures = sum(n for status, n in r.statuses.items() if status != 303)
    return Row(
        f"{r.logins} sign-ins at once (Argon2 {r.argon2})",
        r.backend,
        f"{failures} failed; server peak {r.peak_mib:.0f} MiB; all done in {r.wall_s:.1f} s; "
        f"/healthz within {r.health_max_s:.1f} s",
        target="0 failed",
    )


def flood_rows(results: list[flood.FloodResult]) -> list[Row]:
    return [
        Row(
            f"challenge p99 in a dashboard flood of {r.cookies}, {r.flooders} clients",
            r.backend,
            f"{r.p99(r.in_flood) * 1000:.2f} ms",
            f"{r.p99(r.at_rest) * 1000:.2f} ms at rest",
            f"{r.ratio:.2f}",
            f"<= {flood.TARGET_RATIO:.1f}",
        )
        for r in results
    ]


def page_rows(r: browser.BrowserResult) -> list[Row]:
    rows = [
        Row(
            f"/report?lang={weight.lang}, bytes transferred",
            "",
            f"{weight.transferred / 1024:.1f} KB ({len(weight.files)} requests)",
            target=f"<= {browser.TARGET_KB} KB",
        )
        for weight in r.pages
    ]
    rows.append(
        Row(
            "seal a 4 KiB report in Chromium",
            "",
            f"{r.seal_ms:.1f} ms",
            f"{r.python_seal_ms:.1f} ms (Python client)",
        )
    )
    return rows


def transfer_rows(r: attachments.TransferResult) -> list[Row]:
    target = f">= {attachments.TARGET_RATIO:.2f}; < {attachments.TARGET_GROWTH_MIB} MiB"
    up, down = r.rate(r.megabytes, r.upload_http_s), r.rate(r.megabytes, r.download_http_s)
    return [
        Row(
            f"upload of one {r.megabytes} MiB file over HTTP (reference client)",
            r.backend,
            f"{up:,.1f} MiB/s; server grew {max(r.upload_growth):.1f} MiB",
            f"{r.rate(r.megabytes, r.upload_floor_s):,.1f} MiB/s (bare route, same table)",
            f"{r.upload_ratio:.2f}",
            target,
        ),
        Row(
            f"download of one {r.megabytes} MiB file, signed in",
            r.backend,
            f"{down:,.1f} MiB/s; server grew {max(r.download_growth):.1f} MiB",
            f"{r.rate(r.megabytes, r.download_floor_s):,.1f} MiB/s (read and decrypt)",
            f"{r.download_ratio:.2f}",
            target,
        ),
    ]


def encrypt_rows(r: attachments.BrowserResult) -> list[Row]:
    heap = max(heap for _, heap in r.encrypt + r.upload)
    held = max((heap for _, heap in r.held), default=float("nan"))
    return [
        Row(
            f"encrypt one {r.megabytes} MiB file in Chromium (HRDAttachments)",
            "",
            f"{r.rate(r.encrypt):,.1f} MiB/s; JS heap held {held:.1f} MiB "
            f"(allocated, not yet collected: {heap:.1f} MiB)",
            f"{r.rate(r.floor):,.1f} MiB/s (WebCrypto AES-GCM alone)",
            f"{r.ratio:.2f}",
            f"heap < {attachments.TARGET_HEAP_MIB} MiB",
        ),
        Row(
            f"upload one {r.megabytes} MiB file from Chromium",
            "sqlite",
            f"{r.rate(r.upload):,.1f} MiB/s; server grew {max(r.server_growth):.1f} MiB",
        ),
    ]


def load_row(figures: dict[str, Any], backend: str) -> Row:
    # The test passed, so every report sent is stored and decrypts: none was lost.
    return Row(
        f"load: {figures['sent']:,} submissions, concurrency {figures['concurrency']}, "
        f"{figures['workers']} workers",
        backend,
        f"{figures['acknowledged']:,} acknowledged, 0 lost, {figures['server_errors']} 5xx; "
        f"p50 {figures['p50_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms; "
        f"{figures['throughput_per_s']:,.0f}/s",
        target="0 lost, 0 5xx",
    )


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return (
        f"{dt.datetime.now(dt.UTC).date().isoformat()}; {cpu}, {os.cpu_count()} CPUs, "
        f"{memory_kib / 1024 / 1024:.0f} GiB; {platform.platform(terse=True)}; "
        f"Python {platform.python_version()}, cryptography {cryptography.__version__}, "
        f"SQLAlchemy {sqlalchemy.__version__}"
    )


def print_summary(rows: list[Row], postgres_version: str | None, quick: bool) -> None:
    print("\n# Summary\n")
    print(machine() + (f"; PostgreSQL {postgres_version}" if postgres_version else ""))
    if quick:
        print("QUICK RUN: small sizes, to check the benchmarks work; not comparable figures.")
    print()
    print("| measure | backend | figure | floor, same run | ratio | target |")
    print("|---|---|---|---|---:|---|")
    for row in rows:
        cells = (row.measure, row.backend, row.figure, row.floor, row.ratio, row.target)
        print("| " + " | ".join(cells) + " |")


def postgres_version(server_url: str) -> str:
    engine = sqlalchemy.create_engine(server_url)
    try:
        with engine.connect() as connection:
            return str(connection.exec_driver_sql("SHOW server_version").scalar_one())
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description="Every benchmark, and one summary table.")
    parser.add_argument(
        "--database-url",
        help="also run on this PostgreSQL server (fresh databases are created on it and "
        "dropped; the one named is only connected to)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, to check it works")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    backends: list[str | None] = [None] + ([args.database_url] if args.database_url else [])
    rows: list[Row] = []
    for server_url in backends:
        rotations = [rotation.run(count, server_url) for count in sizes.rotation]
        rotation.print_table(rotations)
        rows += rotation_rows(rotations)

        backups = [backup.run(count, server_url) for count in sizes.backup]
        backup.print_table(backups)
        rows += backup_rows(backups)

        for concurrency in intake.CONCURRENCIES:
            intake_result = intake.run(sizes.intake, concurrency, 2, server_url)
            intake.print_result(intake_result)
            rows.append(intake_row(intake_result))

        lists, searches = [], []
        for count in sizes.dashboard:
            repeats = dashboard.SEARCH_REPEATS if count == sizes.search_at else 0
            listed, search = dashboard.run(count, server_url, sizes.list_requests, repeats)
            lists.append(listed)
            searches += [search] if search else []
        dashboard.print_lists(lists)
        dashboard.print_searches(searches)
        rows += [list_row(r) for r in lists]
        rows += [deep_page_row(r) for r in lists] + [first_listing_row(r) for r in lists]
        rows += [search_row(s) for s in searches]
        counted = desk_statistics.run(sizes.statistics, server_url, 5)
        desk_statistics.print_table([counted])
        rows.append(statistics_row(counted))
        logins = dashboard.run_logins(sizes.logins, server_url)
        dashboard.print_logins(logins)
        rows.append(logins_row(logins))

        floods = flood.run(sizes.flood, 4, server_url)
        flood.print_result(floods)
        rows += flood_rows(floods)

        transfer = attachments.run(sizes.attachment_mib, server_url, sizes.attachment_repeats)
        attachments.print_result(transfer)
        rows += transfer_rows(transfer)

        rows.append(load_row(run_load(sizes.load, server_url), backend_of(server_url)))

    pages = browser.measure()
    browser.print_result(pages)
    rows += page_rows(pages)
    encrypted = attachments.measure_browser(sizes.attachment_mib, sizes.attachment_repeats)
    if encrypted is not None:
        attachments.print_browser(encrypted)
        rows += encrypt_rows(encrypted)
    version = postgres_version(args.database_url) if args.database_url else None
    print_summary(rows, version, args.quick)


if __name__ == "__main__":
    main()
