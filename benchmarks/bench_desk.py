"""What every benchmark starts from: a scratch desk (database, keys, an administrator), reports
stored as intake stores them, and the real server in a subprocess."""

import contextlib
import datetime as dt
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
from scratch_database import fresh_database
from sqlalchemy import insert, select

from hrd_reports import db
from hrd_reports.crypto.receipts import lookup_hash
from hrd_reports.crypto.submission import Submission
from hrd_reports.crypto.xwing import PublicKey
from hrd_reports.models import Report, ReportStatus
from hrd_reports.services import desk, keyring
from hrd_reports.settings import Settings
from hrd_reports.wiring import Runtime, build_runtime

ADMIN = "bench-admin"
PASSWORD = "benchmark password, not a secret"
# Cheap Argon2 where a sign-in or unlock is not what is measured (the sign-in benchmark
# uses the production parameters).
CHEAP_ARGON2: dict[str, Any] = {
    "insecure_argon2_for_tests": True,
    "argon2_time_cost": 1,
    "argon2_memory_kib": 64,
    "argon2_parallelism": 1,
}


def backend_of(server_url: str | None) -> str:
    return "sqlite" if server_url is None or db.is_sqlite(server_url) else "postgresql"


@contextlib.contextmanager
def scratch_runtime(
    server_url: str | None, name: str, **settings: Any
) -> Iterator[tuple[Runtime, Path]]:
    """A runtime on a fresh database (SQLite in a temporary directory, or a new database on
    the PostgreSQL server ``server_url``) with its own keys/, and that directory."""
    with (
        tempfile.TemporaryDirectory(prefix="hrd-bench-") as workdir,
        fresh_database(server_url, Path(workdir), name) as database_url,
    ):
        rt = build_runtime(
            Settings(database_url=database_url, keys_dir=Path(workdir) / "keys", **settings)
        )
        try:
            yield rt, Path(workdir)
        finally:
            rt.close()


def set_up_desk(rt: Runtime) -> PublicKey:
    """The desk set up as ``hrd-reports`` sets it up; its intake public key."""
    with db.unit_of_work(rt.sessions) as session:
        desk.set_up_desk(
            session,
            admin_name=ADMIN,
            admin_password=PASSWORD,
            passwords=rt.passwords,
            secrets=rt.secrets,
        )
        session.commit()
        return keyring.intake_public_key(keyring.active_intake_key(session), secrets=rt.secrets)


def report_row(
    rt: Runtime,
    submission: Submission,
    *,
    intake_key: PublicKey,
    status: ReportStatus = ReportStatus.RECEIVED,
    received_on: dt.date,
) -> dict[str, Any]:
    """Exactly the columns ``services.intake.submit_report`` writes, for a bulk insert that
    skips only its per-report checks and round trips (not what a benchmark measures)."""
    return {
        "public_id": submission.report_id,
        "envelope_version": submission.version,
        "body": submission.body,
        "dek_key_id": intake_key.key_id,
        "dek_suite": submission.suite,
        "sealed_dek": submission.sealed_dek,
        "reporter_key": submission.reporter_key,
        "message_key": submission.message_key,
        "lookup_hash": lookup_hash(submission.lookup_token, lookup_secret=rt.secrets.lookup),
        "server_sealed": False,
        "status": status,
        "received_on": received_on,
    }


def insert_reports(rt: Runtime, rows: list[dict[str, Any]]) -> None:
    with db.unit_of_work(rt.sessions) as session:
        session.execute(insert(Report), rows)
        session.commit()


def stored_in_chunks(rt: Runtime, *columns: Any, chunk: int = 1_000) -> Iterator[list[Any]]:
    """Every report's ``columns`` (the first must be ``Report.id``), ``chunk`` rows at a time,
    each chunk read in a transaction of its own: a floor times only its loop over a chunk, and
    never holds every report in memory."""
    after_id = 0
    while True:
        with db.unit_of_work(rt.read_sessions) as session:
            query = select(*columns).where(Report.id > after_id).order_by(Report.id).limit(chunk)
            rows = list(session.execute(query).all())
        if not rows:
            return
        yield rows
        after_id = rows[-1][0]


def paired_ratio(times: list[float], floors: list[float]) -> float:
    """The median of each run's time against the floor measured just before it: the machine's
    speed drifts over a minute by as much as a target's margin, and moves both sides of each
    ratio alike."""
    return statistics.median(time / floor for time, floor in zip(times, floors, strict=True))


def settle(rt: Runtime) -> None:
    """On PostgreSQL, vacuum and checkpoint after a mass change, as a running desk's
    autovacuum and checkpointer would have by then: neither then starts in the middle of a
    measurement."""
    if db.is_sqlite(rt.settings.database_url):
        return
    with rt.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE reports")
        connection.exec_driver_sql("CHECKPOINT")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def memory_mib(pid: int, field: str) -> float:
    """``VmRSS`` (resident now) or ``VmHWM`` (peak resident) of a process (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


def server_env(settings: Settings) -> dict[str, str]:
    """The environment that gives ``hrd-reports serve`` the same desk as ``settings``."""
    return os.environ | {
        "HRD_DATABASE_URL": settings.database_url,
        "HRD_KEYS_DIR": str(settings.keys_dir),
        "HRD_INSECURE_ARGON2_FOR_TESTS": str(settings.insecure_argon2_for_tests).lower(),
        "HRD_ARGON2_TIME_COST": str(settings.argon2_time_cost),
        "HRD_ARGON2_MEMORY_KIB": str(settings.argon2_memory_kib),
        "HRD_ARGON2_PARALLELISM": str(settings.argon2_parallelism),
        "HRD_POW_DIFFICULTY_BITS": str(settings.pow_difficulty_bits),
        "HRD_POW_FLOOD_PER_HOUR": str(settings.pow_flood_per_hour),
        "HRD_ATTACHMENT_MAX_MB": str(settings.attachment_max_mb),
    }


@contextlib.contextmanager
def server(settings: Settings, workdir: Path, *, workers: int = 1) -> Iterator[tuple[str, int]]:
    """``hrd-reports serve`` on the desk of ``settings``; its URL and pid (with one worker,
    the process that serves, whose memory can be read)."""
    port = free_port()
    command = [sys.executable, "-m", "hrd_reports", "serve", "--port", str(port)]
    command += ["--workers", str(workers)]
    with serving(command, port, env=server_env(settings), workdir=workdir) as pid:
        yield f"http://127.0.0.1:{port}", pid


@contextlib.contextmanager
def serving(
    command: list[str], port: int, *, env: dict[str, str], workdir: Path, log: str = "server.log"
) -> Iterator[int]:
    """``command``, an HTTP server listening on ``port`` with a ``/healthz``, started in a
    subprocess and stopped afterwards; its pid once it answers."""
    # The server's log goes to a file: a pipe nobody reads fills up and stalls the server.
    log_file = (workdir / log).open("ab")
    # A session of its own: one signal to its process group ends the workers with it.
    process = subprocess.Popen(
        command,
        cwd=workdir,
        env=env,
        stdout=log_file,
        stderr=log_file,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            time.sleep(0.05)
        else:
            log_file.flush()
            sys.exit("the server did not start:\n" + (workdir / log).read_text()[-2000:])
        yield process.pid
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        finally:
            # Whatever did not stop in time (a worker stuck in a request) is not left behind.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            log_file.close()
