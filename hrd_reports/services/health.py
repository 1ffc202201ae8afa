"""The desk's health at a glance (``hrd-reports status``): what an operator checks first.

Read-only and safe on a broken desk: each part is checked on its own, so a database that
cannot be reached still lets the keys folder and the backups be reported, and nothing is
created or migrated on the way.
"""

import datetime as dt
import shutil
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from hrd_reports import db, keystore
from hrd_reports.backups.schedule import read_status
from hrd_reports.models import Attachment, AuditHead, KeyRotation
from hrd_reports.settings import Settings

# A scheduled backup older than this many periods means the schedule is not running.
_STALE_PERIODS = 2


class Level(StrEnum):
    OK = "ok"
    WARNING = "warning"
    PROBLEM = "problem"


@dataclass(frozen=True)
class Check:
    name: str
    level: Level
    detail: str
    values: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Health:
    checks: list[Check]

    @property
    def sound(self) -> bool:
        return all(check.level != Level.PROBLEM for check in self.checks)


def check_desk(*, engine: Engine, settings: Settings, now: dt.datetime) -> Health:
    checks = [_keys(settings.keys_dir), backup_check(settings, now)]
    if engine.dialect.name == "sqlite" and not _sqlite_path(settings).is_file():
        # Connecting would create an empty file: a status that changes nothing says so instead.
        missing = Check(
            "database",
            Level.PROBLEM,
            f"there is no database file at {_sqlite_path(settings)}",
            {"reachable": False},
        )
        return Health([missing, *checks, _disk(engine, settings)])
    try:
        with db.snapshot(engine) as connection:
            checks[:0] = [_database(connection)]
            if checks[0].level != Level.PROBLEM:
                checks += _desk_state(connection)
                checks.append(_storage(connection, engine, settings))
    except SQLAlchemyError as exc:
        lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        checks.insert(
            0,
            Check(
                "database",
                Level.PROBLEM,
                f"cannot be reached: {lines[0] if lines else type(exc).__name__}",
                {"reachable": False},
            ),
        )
    checks.append(_disk(engine, settings))
    return Health(checks)


def _database(connection: Connection) -> Check:
    revision, head = db.schema_revision(connection), db.head_revision()
    values: dict[str, object] = {"reachable": True, "schema": revision, "code_schema": head}
    if revision != head:
        return Check(
            "database",
            Level.PROBLEM,
            f"reachable, but at schema {revision or 'none'} where this version needs {head}: "
            "start the server or run any command to migrate it",
            values,
        )
    return Check("database", Level.OK, f"reachable, schema {revision} (current)", values)


def _keys(keys_dir: Path) -> Check:
    try:
        files = keystore.read_key_files(keys_dir)
    except FileNotFoundError:
        return Check("keys", Level.PROBLEM, f"{keys_dir} does not exist", {"sound": False})
    except (keystore.KeystoreError, OSError) as exc:
        return Check("keys", Level.PROBLEM, str(exc), {"sound": False})
    return Check(
        "keys", Level.OK, f"the folder {keys_dir} is sound ({len(files)} files)", {"sound": True}
    )


def backup_check(settings: Settings, now: dt.datetime) -> Check:
    """The scheduled backups: none set, none yet, the last one failed, or how old it is."""
    if settings.backup_dir is None:
        return Check(
            "backup",
            Level.WARNING,
            "no scheduled backups (HRD_BACKUP_DIR is unset); run `hrd-reports backup create`",
            {"scheduled": False},
        )
    status = read_status(settings.backup_dir)
    if status is None:
        return Check(
            "backup",
            Level.WARNING,
            f"no backup recorded in {settings.backup_dir} yet",
            {"scheduled": True, "last_success": None},
        )
    success = status.last_success_at
    age_hours = None if success is None else int((now - success).total_seconds() // 3600)
    values: dict[str, object] = {
        "scheduled": True,
        "last_success": status.last_success,
        "last_file": status.last_file,
        "age_hours": age_hours,
        "last_attempt": status.last_attempt,
        "last_attempt_ok": status.ok,
        "last_error": status.error,
    }
    if not status.ok:
        return Check(
            "backup",
            Level.PROBLEM,
            f"the last backup failed ({status.last_attempt}): {status.error}",
            values,
        )
    if age_hours is not None and age_hours >= _STALE_PERIODS * settings.backup_hours:
        return Check(
            "backup",
            Level.PROBLEM,
            f"the newest backup ({status.last_file}) is {age_hours} hours old",
            values,
        )
    return Check("backup", Level.OK, f"{status.last_file}, {age_hours} hours old", values)


def _desk_state(connection: Connection) -> list[Check]:
    unfinished = connection.execute(
        select(func.count()).select_from(KeyRotation).where(KeyRotation.finished.is_(False))
    ).scalar_one()
    rotation = (
        Check(
            "rotation",
            Level.WARNING,
            "a key rotation is unfinished: run `hrd-reports keys rotate` again to finish it",
            {"unfinished": True},
        )
        if unfinished
        else Check("rotation", Level.OK, "no unfinished key rotation", {"unfinished": False})
    )
    head = connection.execute(select(AuditHead.seq, AuditHead.digest)).one_or_none()
    entries, digest = (head.seq, head.digest) if head is not None else (0, None)
    audit = Check(
        "audit",
        Level.OK,
        f"{entries} entries, head {digest}",
        {"entries": entries, "head_digest": digest},
    )
    return [rotation, audit]


def _storage(connection: Connection, engine: Engine, settings: Settings) -> Check:
    files = connection.execute(
        select(func.coalesce(func.sum(Attachment.stored_size), 0))
    ).scalar_one()
    if engine.dialect.name == "postgresql":
        database = connection.execute(
            select(func.pg_database_size(func.current_database()))
        ).scalar_one()
    else:
        path = _sqlite_path(settings)
        database = sum(
            candidate.stat().st_size
            for candidate in (path, path.with_name(path.name + "-wal"))
            if candidate.exists()
        )
    return Check(
        "storage",
        Level.OK,
        f"database {_size(int(database))}, of which evidence files {_size(int(files))}",
        {"database_bytes": int(database), "evidence_bytes": int(files)},
    )


def _size(count: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def _sqlite_path(settings: Settings) -> Path:
    return Path(make_url(settings.database_url).database or "")


def _disk(engine: Engine, settings: Settings) -> Check:
    where = (
        _sqlite_path(settings).parent
        if engine.dialect.name == "sqlite"
        else settings.keys_dir.parent
    )
    try:
        usage = shutil.disk_usage(where.resolve())
    except OSError as exc:
        return Check("disk", Level.WARNING, f"cannot measure {where}: {exc.strerror}")
    gib = 1024**3
    level = Level.PROBLEM if usage.free < usage.total * 0.05 else Level.OK
    return Check(
        "disk",
        level,
        f"{usage.free / gib:.1f} GiB free of {usage.total / gib:.1f} GiB at {where.resolve()}",
        {"free_bytes": usage.free, "total_bytes": usage.total, "path": str(where.resolve())},
    )
