"""Key rotation throughput against a floor of bare X-Wing HPKE open + seal, in the same run.

    python benchmarks/rotation.py [--sizes 10000,100000] [--database-url postgresql+psycopg://...]

The floor opens every stored data key and seals it to another key, with no database; the
rotation is ``start_rotation``, ``reseal_all`` and ``finish_rotation`` as ``hrd-reports keys
rotate`` drives them. The target is a rotation at least 70% as fast as the floor. The table is
the result; nothing is asserted. See benchmarks/README.md.
"""

import argparse
import os
import resource
import sys
import time
from dataclasses import dataclass

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
    set_up_desk,
    settle,
    stored_in_chunks,
)
from sqlalchemy.orm import Session

from hrd_reports import db
from hrd_reports.crypto.envelope import open_dek, seal_dek
from hrd_reports.crypto.submission import new_submission
from hrd_reports.crypto.xwing import PrivateKey, Sealed
from hrd_reports.models import Report, User
from hrd_reports.services import credentials, keyring, reseal, rotation
from hrd_reports.services.clock import utc_today
from hrd_reports.wiring import Runtime

TARGET_RATIO = 0.70
# Reports are built, stored and read back for the floor in chunks, so that 100,000 of them
# are never all in memory to inflate the peak RSS reported next to the rotation.
CHUNK = 1_000
# A short report lands in the smallest padding bucket (1 KiB), as most reports do. The body
# size matters on SQLite, which rewrites the whole row when the sealed data key changes.
CONTENT = b'{"incident_types": ["death_threat"], "narrative": "A benchmark report."}'


@dataclass(frozen=True)
class Result:
    backend: str
    reports: int
    batch_size: int
    setup_s: float
    floor_s: float
    rotation_s: float
    peak_rss_mib: float


def peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def store_reports(rt: Runtime, count: int) -> None:
    """A desk with ``count`` reports stored with exactly the columns ``submit_report`` writes,
    built and inserted in chunks."""
    intake_key = set_up_desk(rt)
    today = utc_today()
    for start in range(0, count, CHUNK):
        submissions = (
            new_submission(CONTENT, intake_key=intake_key)[1]
            for _ in range(min(CHUNK, count - start))
        )
        rows = [report_row(rt, s, intake_key=intake_key, received_on=today) for s in submissions]
        insert_reports(rt, rows)
    settle(rt)


def unlock(rt: Runtime, session: Session) -> tuple[User, dict[str, PrivateKey]]:
    """The key holder and the intake keys they open, as ``keys rotate`` unlocks them."""
    holder = credentials.unlock(session, name=ADMIN, password=PASSWORD, passwords=rt.passwords)
    intake_keys = keyring.unlock_intake_keys(
        session, user=holder.user, private_key=holder.private_key
    )
    return holder.user, intake_keys


def rotate(rt: Runtime) -> float:
    """Rotate as ``keys rotate`` does; time everything after the holder's unlock (a login)."""
    with db.unit_of_work(rt.sessions) as session:
        holder, intake_keys = unlock(rt, session)
        started = time.perf_counter()
        start = rotation.start_rotation(
            session, holder=holder, intake_keys=intake_keys, secrets=rt.secrets
        )
        session.commit()
    damaged = reseal.reseal_all(
        rt.sessions,
        rotation_id=start.rotation_id,
        intake_keys=intake_keys,
        batch_size=rt.settings.rotation_batch_size,
        secrets=rt.secrets,
    )
    with db.unit_of_work(rt.sessions) as session:
        end = rotation.finish_rotation(
            session,
            rotation_id=start.rotation_id,
            actor=ADMIN,
            retire_old=False,
            secrets=rt.secrets,
            damaged=damaged,
        )
        session.commit()
    elapsed = time.perf_counter() - started
    if damaged or end.left_on_old_keys:
        # Numbers from a rotation that skipped reports would flatter it: refuse to print them.
        sys.exit(f"rotation left {end.left_on_old_keys} reports on the old key; no result")
    return elapsed


def measure_floor(rt: Runtime) -> float:
    """Open every stored data key and seal it to another key: the crypto alone, no database.

    Only the loops are timed; the keys are read between them in chunks, so that the floor
    holds no more in memory than a rotation does.
    """
    with db.unit_of_work(rt.sessions) as session:
        _holder, intake_keys = unlock(rt, session)
    recipient = PrivateKey.generate().public
    columns = (Report.id, Report.public_id, Report.dek_suite, Report.dek_key_id, Report.sealed_dek)
    elapsed = 0.0
    for rows in stored_in_chunks(rt, *columns, chunk=CHUNK):
        started = time.perf_counter()
        for _id, public_id, suite, key_id, sealed_dek in rows:
            holder = intake_keys[key_id]
            dek = open_dek(Sealed(suite, key_id, sealed_dek), report_id=public_id, holder=holder)
            seal_dek(dek, report_id=public_id, recipient=recipient)
        elapsed += time.perf_counter() - started
    return elapsed


def run(count: int, server_url: str | None) -> Result:
    backend = backend_of(server_url)
    with scratch_runtime(server_url, "rotation", **CHEAP_ARGON2) as (rt, _workdir):
        print(f"{backend}: setting up {count:,} reports ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        store_reports(rt, count)
        setup_s = time.perf_counter() - started
        # The floor first, while the database is quiet: after a rotation, PostgreSQL's
        # checkpointer and autovacuum work on the other core would slow the floor down.
        print(f"{backend}: floor over {count:,} data keys ...", file=sys.stderr, flush=True)
        floor_s = measure_floor(rt)
        print(f"{backend}: rotating {count:,} reports ...", file=sys.stderr, flush=True)
        rotation_s = rotate(rt)
        peak = peak_rss_mib()
        batch = rt.settings.rotation_batch_size
    return Result(backend, count, batch, setup_s, floor_s, rotation_s, peak)


def print_table(results: list[Result]) -> None:
    print(
        f"\nPython {sys.version.split()[0]}, cryptography {cryptography.__version__}, "
        f"SQLAlchemy {sqlalchemy.__version__}, {os.cpu_count()} CPUs"
    )
    header = (
        f"{'backend':<11}{'reports':>9}{'setup s':>9}{'floor/s':>10}{'rotation/s':>12}"
        f"{'ratio':>7}{'rotation s':>12}{'batch':>7}{'peak RSS MiB':>14}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        floor_rate, rotation_rate = r.reports / r.floor_s, r.reports / r.rotation_s
        print(
            f"{r.backend:<11}{r.reports:>9,}{r.setup_s:>9.1f}{floor_rate:>10,.0f}"
            f"{rotation_rate:>12,.0f}{rotation_rate / floor_rate:>7.2f}{r.rotation_s:>12.2f}"
            f"{r.batch_size:>7}{r.peak_rss_mib:>14.0f}"
        )
    print(f"target: rotation/floor >= {TARGET_RATIO:.2f}")


def parse_sizes(text: str) -> list[int]:
    return [int(part) for part in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description="Key rotation throughput against its floor.")
    parser.add_argument(
        "--sizes", type=parse_sizes, default=[10_000, 100_000], help="default 10000,100000"
    )
    parser.add_argument(
        "--database-url",
        help="run on this PostgreSQL server (a fresh database is created and dropped for each "
        "size; the one named is only connected to); default SQLite in a temporary directory",
    )
    args = parser.parse_args()
    if args.database_url is not None and db.is_sqlite(args.database_url):
        parser.error("--database-url is for PostgreSQL; SQLite runs in a temporary directory")
    results = [run(count, args.database_url) for count in args.sizes]
    print_table(results)


if __name__ == "__main__":
    main()
