"""Scheduled backups: one every ``HRD_BACKUP_HOURS`` into ``HRD_BACKUP_DIR``, the last
``HRD_BACKUP_KEEP`` kept, and the outcome of the last attempt in a small status file there.

File names carry the day only (``hrd-backup-2026-12-07-01.hrdb``): the order of backups is
all anyone needs from them. The status file records the last attempt and the last success
to the minute, for ``hrd-reports status`` and the administrators' page to show how old the
newest backup is and why the last one failed.
"""

import datetime as dt
import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from hrd_reports.backups.create import write_backup, write_backup_file
from hrd_reports.db import one_server_at_a_time
from hrd_reports.wiring import Runtime

logger = logging.getLogger(__name__)

STATUS_FILE = "backup-status.json"

_NAME = re.compile(r"^hrd-backup-(\d{4}-\d{2}-\d{2})-(\d{2,})\.hrdb$")
# After a failure, try again this soon rather than a whole period later.
RETRY_AFTER = dt.timedelta(hours=1)
# How often the scheduler looks whether a backup is due.
CHECK_SECONDS = 300.0
STOP_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class BackupStatus:
    last_attempt: str  # ISO 8601 UTC, to the minute
    ok: bool
    error: str | None
    last_success: str | None
    last_file: str | None

    @property
    def last_attempt_at(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.last_attempt)

    @property
    def last_success_at(self) -> dt.datetime | None:
        return None if self.last_success is None else dt.datetime.fromisoformat(self.last_success)


def read_status(backup_dir: Path) -> BackupStatus | None:
    """The last attempt's outcome, or None when none was recorded (or the file is damaged)."""
    try:
        document = json.loads((backup_dir / STATUS_FILE).read_text("utf-8"))
        return BackupStatus(
            last_attempt=str(document["last_attempt"]),
            ok=bool(document["ok"]),
            error=document.get("error"),
            last_success=document.get("last_success"),
            last_file=document.get("last_file"),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_status(backup_dir: Path, status: BackupStatus) -> None:
    partial = backup_dir / f".{STATUS_FILE}.partial"
    partial.write_text(json.dumps(asdict(status), indent=2) + "\n", "utf-8")
    partial.replace(backup_dir / STATUS_FILE)


def is_due(status: BackupStatus | None, *, every: dt.timedelta, now: dt.datetime) -> bool:
    if status is None:
        return True
    wait = every if status.ok else min(every, RETRY_AFTER)
    return now - status.last_attempt_at >= wait


def backup_files(backup_dir: Path) -> list[Path]:
    """The scheduled backups in the folder, oldest first."""
    found = [
        (match.group(1), int(match.group(2)), path)
        for path in backup_dir.iterdir()
        if (match := _NAME.match(path.name))
    ]
    return [path for _, _, path in sorted(found)]


def _next_name(backup_dir: Path, today: dt.date) -> Path:
    taken = [
        int(match.group(2))
        for path in backup_dir.iterdir()
        if (match := _NAME.match(path.name)) and match.group(1) == today.isoformat()
    ]
    return backup_dir / f"hrd-backup-{today.isoformat()}-{max(taken, default=0) + 1:02d}.hrdb"


def _minute(moment: dt.datetime) -> str:
    return moment.replace(second=0, microsecond=0).isoformat()


def _failure_text(exc: Exception) -> str:
    # First line only: a database error's next lines are SQL. Messages of this package and of
    # the database never hold a secret or a report.
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else 'no message'}"[:300]


def back_up_now(rt: Runtime, backup_dir: Path, *, now: dt.datetime) -> BackupStatus | None:
    """Write one backup, delete the oldest past ``HRD_BACKUP_KEEP``, record the outcome.

    Returns None when another process of this desk is writing one right now (several
    workers, or several servers on one PostgreSQL database, each run a scheduler; the lock
    lets one of them through).
    """
    backup_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with one_server_at_a_time(rt.engine, "backup") as ours:
        if not ours:
            return None
        previous = read_status(backup_dir)
        for abandoned in backup_dir.glob(".hrd-backup-*.partial"):
            abandoned.unlink(missing_ok=True)
        try:
            path = _next_name(backup_dir, now.date())
            write_backup_file(
                path,
                lambda out: write_backup(
                    rt.engine, out=out, secrets=rt.secrets, keys_dir=rt.settings.keys_dir
                ),
            )
            for old in backup_files(backup_dir)[: -rt.settings.backup_keep]:
                old.unlink()
        except Exception as exc:  # noqa: BLE001 - any failure is recorded and shown, not raised
            logger.error("the scheduled backup failed: %s", _failure_text(exc))  # noqa: TRY400 - no traceback: it could hold values
            status = BackupStatus(
                last_attempt=_minute(now),
                ok=False,
                error=_failure_text(exc),
                last_success=previous.last_success if previous else None,
                last_file=previous.last_file if previous else None,
            )
        else:
            status = BackupStatus(
                last_attempt=_minute(now),
                ok=True,
                error=None,
                last_success=_minute(now),
                last_file=path.name,
            )
        _write_status(backup_dir, status)
        return status


class BackupScheduler:
    """A daemon thread that writes a backup whenever one is due, until ``stop``.

    A thread of its own rather than the event loop: a backup reads the whole database and
    writes a large file, which must not block a request.
    """

    def __init__(self, rt: Runtime, clock: Callable[[], dt.datetime]) -> None:
        if rt.settings.backup_dir is None:
            raise ValueError("no backup folder is set")
        self._rt = rt
        self._dir = rt.settings.backup_dir
        self._every = dt.timedelta(hours=rt.settings.backup_hours)
        self._clock = clock
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hrd-backups", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        # A backup under way when the server stops is abandoned: its file has a hidden
        # ``.partial`` name, never taken for a backup, and is removed at the next one.
        self._thread.join(timeout=STOP_WAIT_SECONDS)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                now = self._clock()
                if is_due(read_status(self._dir), every=self._every, now=now):
                    back_up_now(self._rt, self._dir, now=now)
            except Exception as exc:  # noqa: BLE001 - the thread must live on to try again
                logger.error("the backup scheduler failed: %s", _failure_text(exc))  # noqa: TRY400 - no traceback: it could hold values
            self._stopping.wait(CHECK_SECONDS)
