"""Restoring a backup into an empty database and an empty keys folder (``backup restore``).

Only into an empty target: merging a backup into a desk that has data would mix two audit
chains and two sets of secrets, and overwriting one would destroy reports. Anything else is
refused before anything is changed.

The file is read twice: once whole, to check its MAC with the recovery key before a single
row is written; then again to load it, in one transaction that commits only when that second
reading has ended with the same check (the file could have changed in between). An
interrupted restore therefore leaves the database empty, and the keys folder absent.
"""

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Connection, Engine, Integer, delete, func, inspect, select, text
from sqlalchemy.orm import Session

from hrd_reports import db, keystore
from hrd_reports.backups.create import BackupRefused
from hrd_reports.backups.fileformat import (
    BackupFormatError,
    BackupReader,
    RowBatch,
    columns_of,
    decode_value,
)
from hrd_reports.crypto.binding import Bound, check_record_binding
from hrd_reports.crypto.chain import GENESIS
from hrd_reports.crypto.xwing import PrivateKey
from hrd_reports.models import AuditHead, Base, RecoveryKey
from hrd_reports.services import audit

_AUDIT_HEAD = "audit_head"
_ALEMBIC = "alembic_version"


class TargetNotEmpty(BackupRefused):
    """The database or keys folder already holds something; nothing was changed."""


@dataclass(frozen=True)
class RestoreOutcome:
    backup_id: uuid.UUID
    created_on: str
    source_backend: str
    rows: dict[str, int]
    audit_entries: int


def target_problem(engine: Engine, keys_dir: Path) -> str | None:
    """Why the database or keys folder cannot take a restore, or None if both are empty."""
    if not keystore.is_empty_or_absent(keys_dir):
        return f"{keys_dir} is not empty; a backup restores only into an empty keys folder"
    with engine.connect() as connection:
        return _database_problem(connection)


def _database_problem(connection: Connection) -> str | None:
    for name in inspect(connection).get_table_names():
        if name == _ALEMBIC:
            continue
        if name == _AUDIT_HEAD:
            # The one row every migrated database starts with: the chain's genesis.
            rows = connection.execute(select(AuditHead.seq, AuditHead.digest)).all()
            if all(row.seq == 0 and row.digest == GENESIS for row in rows):
                continue
            return "the database is not empty: its audit log has entries"
        table = Base.metadata.tables.get(name)
        count = connection.execute(
            select(func.count()).select_from(table if table is not None else text(f'"{name}"'))
        ).scalar_one()
        if count:
            return f"the database is not empty (table {name} has rows)"
    return None


def restore_backup(
    engine: Engine, *, path: Path, recovery_key: PrivateKey, keys_dir: Path
) -> RestoreOutcome:
    problem = target_problem(engine, keys_dir)
    if problem is not None:
        raise TargetNotEmpty(f"{problem}; nothing was changed")
    with path.open("rb") as stream:
        reader = BackupReader(stream)
        _check_revision(reader.header.schema_revision)
        key_files = reader.unlock(recovery_key).key_files
        for _batch in reader.batches():
            pass
    secrets = {
        name: keystore.parse_secret(key_files.get(f"{name}.key", b""), name=f"{name}.key")
        for name in ("audit", "binding")
    }
    db.migrate(engine)
    staged = keystore.stage_key_files(keys_dir, key_files)
    try:
        with path.open("rb") as stream, engine.begin() as connection:
            reader = _load(connection, stream, recovery_key, secrets=secrets)
    except BaseException:
        keystore.discard_staged(staged)
        raise
    keystore.install_staged(staged, keys_dir)
    header = reader.header
    return RestoreOutcome(
        backup_id=header.backup_id,
        created_on=header.created_on.isoformat(),
        source_backend=header.source_backend,
        rows=reader.row_counts,
        audit_entries=header.audit_entries + 1,
    )


def _refuse_unless_empty(connection: Connection) -> None:
    problem = _database_problem(connection)
    if problem is not None:
        raise TargetNotEmpty(f"{problem}; nothing was changed")


def _load(
    connection: Connection,
    stream: BinaryIO,
    recovery_key: PrivateKey,
    *,
    secrets: dict[str, bytes],
) -> BackupReader:
    """Every row, the sequences, and the restore's audit entry, in the caller's transaction."""
    # Checked again under the write transaction: nothing wrote in between.
    _refuse_unless_empty(connection)
    reader = BackupReader(stream)
    reader.unlock(recovery_key)
    connection.execute(delete(AuditHead))
    for batch in reader.batches():
        _insert(connection, batch)
    _reset_sequences(connection)
    _check_recovery_key(connection, recovery_key, binding_secret=secrets["binding"])
    header = reader.header
    with Session(bind=connection) as session:
        audit.record(
            session,
            audit_secret=secrets["audit"],
            actor="restore",
            action="desk.restore",
            subject=str(header.backup_id),
            detail={
                "backup_id": str(header.backup_id),
                "created_on": header.created_on.isoformat(),
                "source_backend": header.source_backend,
                "recovery_key": recovery_key.key_id,
            },
        )
    return reader


def _check_revision(revision: str) -> None:
    head = db.head_revision()
    if revision != head:
        # Rows are loaded into this version's tables as they are: a backup of another schema
        # would not fit them.
        raise BackupRefused(
            f"this backup is of schema {revision} and this version of hrd-reports has schema "
            f"{head}: restore it with the version of hrd-reports that wrote it, then upgrade"
        )


def _insert(connection: Connection, batch: RowBatch) -> None:
    table = Base.metadata.tables.get(batch.table)
    if table is None or columns_of(table) != batch.columns:
        raise BackupFormatError(f"the backup's table {batch.table} does not fit this schema")
    types = [column.type for column in table.columns]
    names = [name for name, _ in batch.columns]
    try:
        rows: list[dict[str, Any]] = [
            {
                name: decode_value(codec, column_type, value)
                for (name, codec), column_type, value in zip(batch.columns, types, row, strict=True)
            }
            for row in batch.rows
        ]
    except (ValueError, TypeError) as exc:
        raise BackupFormatError(
            f"the backup's table {batch.table} holds a malformed value"
        ) from exc
    if rows and names:
        connection.execute(table.insert(), rows)


def _reset_sequences(connection: Connection) -> None:
    """Rows came with their ids; PostgreSQL's sequences must start after them."""
    if connection.dialect.name != "postgresql":
        return
    for table in Base.metadata.sorted_tables:
        primary = list(table.primary_key.columns)
        if (
            len(primary) != 1
            or primary[0].autoincrement is False
            or not isinstance(primary[0].type, Integer)
        ):
            continue
        highest = select(func.max(primary[0])).scalar_subquery()
        connection.execute(
            select(
                func.setval(
                    func.pg_get_serial_sequence(table.name, primary[0].name),
                    func.coalesce(highest, 0) + 1,
                    False,
                )
            )
        )


def _check_recovery_key(
    connection: Connection, recovery_key: PrivateKey, *, binding_secret: bytes
) -> None:
    """The key that opened the backup must be the desk's own recovery key, as it recorded it.

    Ties the rows to the sealed secrets: rows of one desk with the secrets of another would
    restore into a desk where nobody signs in.
    """
    row = connection.execute(
        select(RecoveryKey.__table__).where(RecoveryKey.id == recovery_key.key_id)
    ).one_or_none()
    if row is None or row.public_key != recovery_key.public.raw:
        raise BackupRefused("this recovery key is not the one the backed-up desk recorded")
    check_record_binding(
        binding_secret,
        kind=Bound.RECOVERY_KEY,
        owner=(row.id,),
        material=row.public_key,
        binding=row.key_binding,
    )
