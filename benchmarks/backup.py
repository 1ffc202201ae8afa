"""Backup and restore of a whole desk against a floor of a bare copy of the same rows.

    python benchmarks/backup.py [--sizes 100000] [--database-url postgresql+psycopg://...]

For each size a desk with N reports is stored as intake stores them. Then, each phase in a
fresh process of its own (so that its peak RSS is its own, not the set-up's):

- **backup floor**: every row of every table read through SQLAlchemy Core and its values
  written to a file as they are: no JSON, no base64, no MAC.
- **backup**: ``write_backup_file`` as ``hrd-reports backup create`` calls it.
- **restore floor**: every row of every table read from the desk and inserted through
  SQLAlchemy Core into a fresh, migrated database, in one transaction.
- **restore**: ``restore_backup`` into a fresh database, as ``hrd-reports backup restore``
  calls it (the file read twice: once to check its MAC, once to load it).

The result is reports per second of each and its ratio to its floor. Nothing is asserted.
"""

import argparse
import multiprocessing
import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cryptography
import sqlalchemy
from bench_desk import (
    ADMIN,
    CHEAP_ARGON2,
    PASSWORD,
    backend_of,
    insert_reports,
    report_row,
    scratch_runtime,
    settle,
)
from scratch_database import fresh_database
from sqlalchemy import select

from hrd_reports import db
from hrd_reports.backups.create import write_backup, write_backup_file
from hrd_reports.backups.restore import restore_backup
from hrd_reports.crypto.recovery import decode_recovery_key
from hrd_reports.crypto.submission import new_submission
from hrd_reports.keystore import load_or_create
from hrd_reports.models import Base
from hrd_reports.services import desk, keyring
from hrd_reports.services.clock import utc_today
from hrd_reports.wiring import Runtime

# The file format's own work (JSON, base64, SHA-256 and HMAC on writing; the same checked
# twice, then decoded, on restoring) may cost as much again as the bare copy, not more.
TARGET_RATIO = 0.50
CHUNK = 1_000
# A short report lands in the smallest padding bucket (1 KiB), as most reports do.
CONTENT = b'{"incident_types": ["death_threat"], "narrative": "A benchmark report."}'


@dataclass(frozen=True)
class Phase:
    seconds: float
    peak_rss_mib: float


@dataclass(frozen=True)
class Result:
    backend: str
    reports: int
    file_mib: float
    backup_floor: Phase
    backup: Phase
    restore_floor: Phase
    restore: Phase


def _peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _in_own_process(target: str, *args: object) -> Phase:
    """Run ``target(*args)`` (a function of this module) in a fresh interpreter: its time
    and its own peak RSS."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        seconds, peak = pool.apply(_timed, (target, *args))
    return Phase(seconds, peak)


def _timed(target: str, *args: object) -> tuple[float, float]:
    function = globals()[target]
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started, _peak_rss_mib()


def bare_dump(database_url: str, out: str) -> None:
    engine = db.make_engine(database_url)
    try:
        with db.snapshot(engine) as connection, open(out, "wb") as stream:
            for table in Base.metadata.sorted_tables:
                result = connection.execution_options(stream_results=True, yield_per=500).execute(
                    select(table)
                )
                for row in result:
                    for value in row:
                        stream.write(value if isinstance(value, bytes) else str(value).encode())
    finally:
        engine.dispose()


def real_backup(database_url: str, keys_dir: str, out: str) -> None:
    engine = db.make_engine(database_url)
    try:
        secrets = load_or_create(Path(keys_dir), may_create=False)
        write_backup_file(
            Path(out),
            lambda stream: write_backup(
                engine, out=stream, secrets=secrets, keys_dir=Path(keys_dir)
            ),
        )
    finally:
        engine.dispose()


def bare_copy(source_url: str, target_url: str) -> None:
    source, target = db.make_engine(source_url), db.make_engine(target_url)
    try:
        db.migrate(target)
        with db.snapshot(source) as reading, target.begin() as writing:
            writing.execute(sqlalchemy.delete(Base.metadata.tables["audit_head"]))
            for table in Base.metadata.sorted_tables:
                result = reading.execution_options(stream_results=True, yield_per=1000).execute(
                    select(table)
                )
                for rows in result.mappings().partitions(1000):
                    writing.execute(table.insert(), [dict(row) for row in rows])
    finally:
        source.dispose()
        target.dispose()


def real_restore(backup: str, recovery_key: str, target_url: str, keys_dir: str) -> None:
    engine = db.make_engine(target_url)
    try:
        restore_backup(
            engine,
            path=Path(backup),
            recovery_key=decode_recovery_key(recovery_key),
            keys_dir=Path(keys_dir),
        )
    finally:
        engine.dispose()


def run(count: int, server_url: str | None) -> Result:
    backend = backend_of(server_url)
    with scratch_runtime(server_url, "backup", **CHEAP_ARGON2) as (rt, workdir):
        print(f"{backend}: setting up {count:,} reports ...", file=sys.stderr, flush=True)
        recovery_text = _store(rt, count)
        url, keys = rt.settings.database_url, str(rt.settings.keys_dir)
        rt.close()
        print(f"{backend}: backup floor and backup ...", file=sys.stderr, flush=True)
        backup_floor = _in_own_process("bare_dump", url, str(workdir / "bare.dump"))
        backup_file = workdir / "desk.hrdb"
        backup = _in_own_process("real_backup", url, keys, str(backup_file))
        (workdir / "bare.dump").unlink()
        print(f"{backend}: restore floor and restore ...", file=sys.stderr, flush=True)
        with (
            fresh_database(server_url, workdir, "floor") as floor_url,
            fresh_database(server_url, workdir, "restored") as restored_url,
        ):
            restore_floor = _in_own_process("bare_copy", url, floor_url)
            restore = _in_own_process(
                "real_restore",
                str(backup_file),
                recovery_text,
                restored_url,
                str(workdir / "restored-keys"),
            )
        size = backup_file.stat().st_size / (1024 * 1024)
    return Result(backend, count, size, backup_floor, backup, restore_floor, restore)


def _store(rt: Runtime, count: int) -> str:
    """A desk set up as ``init`` sets it up, with ``count`` reports stored as intake stores
    them, in chunks; its recovery key."""
    with db.unit_of_work(rt.sessions) as session:
        setup = desk.set_up_desk(
            session,
            admin_name=ADMIN,
            admin_password=PASSWORD,
            passwords=rt.passwords,
            secrets=rt.secrets,
        )
        session.commit()
        intake_key = keyring.intake_public_key(
            keyring.active_intake_key(session), secrets=rt.secrets
        )
    today = utc_today()
    for start in range(0, count, CHUNK):
        submissions = (
            new_submission(CONTENT, intake_key=intake_key)[1]
            for _ in range(min(CHUNK, count - start))
        )
        insert_reports(
            rt, [report_row(rt, s, intake_key=intake_key, received_on=today) for s in submissions]
        )
    settle(rt)
    return setup.recovery_key


def print_table(results: list[Result]) -> None:
    print(
        f"\nPython {sys.version.split()[0]}, cryptography {cryptography.__version__}, "
        f"SQLAlchemy {sqlalchemy.__version__}, {os.cpu_count()} CPUs"
    )
    header = (
        f"{'backend':<11}{'reports':>9}{'file MiB':>10}{'phase':>9}{'floor/s':>10}"
        f"{'rate/s':>10}{'ratio':>7}{'floor RSS':>11}{'peak RSS MiB':>14}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        for name, floor, phase in (
            ("backup", r.backup_floor, r.backup),
            ("restore", r.restore_floor, r.restore),
        ):
            floor_rate, rate = r.reports / floor.seconds, r.reports / phase.seconds
            print(
                f"{r.backend:<11}{r.reports:>9,}{r.file_mib:>10.0f}{name:>9}{floor_rate:>10,.0f}"
                f"{rate:>10,.0f}{rate / floor_rate:>7.2f}{floor.peak_rss_mib:>11.0f}"
                f"{phase.peak_rss_mib:>14.0f}"
            )
    print(f"target: rate/floor >= {TARGET_RATIO:.2f}, peak RSS flat in the number of reports")


def main() -> None:
    parser = argparse.ArgumentParser(description="Backup and restore against a bare copy.")
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[100_000],
        help="default 100000",
    )
    parser.add_argument(
        "--database-url",
        help="run on this PostgreSQL server (fresh databases are created and dropped); "
        "default SQLite in a temporary directory",
    )
    args = parser.parse_args()
    if args.database_url is not None and db.is_sqlite(args.database_url):
        parser.error("--database-url is for PostgreSQL; SQLite runs in a temporary directory")
    results = [run(count, args.database_url) for count in args.sizes]
    print_table(results)


if __name__ == "__main__":
    main()
