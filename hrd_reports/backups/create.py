"""Writing a backup of the whole desk, and checking one (``backup create`` / ``verify``)."""

import os
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Engine, select

from hrd_reports import db, keystore
from hrd_reports.backups.fileformat import (
    BackupHeader,
    BackupReader,
    BackupWriter,
    SealedCopy,
)
from hrd_reports.crypto.backups import new_backup_secrets, seal_backup_secrets
from hrd_reports.crypto.xwing import PrivateKey
from hrd_reports.models import AuditHead, Base, RecoveryKey
from hrd_reports.services import keyring
from hrd_reports.services.clock import utc_today


class BackupRefused(Exception):
    """A backup cannot be written or restored as asked; the message says why."""


@dataclass(frozen=True)
class BackupSummary:
    backup_id: uuid.UUID
    created_on: str
    schema_revision: str
    audit_entries: int
    rows: dict[str, int]
    size: int


def write_backup(
    engine: Engine,
    *,
    out: BinaryIO,
    secrets: keystore.ServerSecrets,
    keys_dir: Path,
) -> BackupSummary:
    """Dump one consistent snapshot of every table, with ``keys/`` sealed to the recovery key."""
    key_files = keystore.read_key_files(keys_dir)
    backup_secrets = new_backup_secrets(key_files)
    backup_id = uuid.uuid4()
    with db.snapshot(engine) as connection:
        revision = db.schema_revision(connection)
        if revision is None:
            raise BackupRefused("the database has no schema yet; there is nothing to back up")
        recovery_rows = connection.execute(select(RecoveryKey.__table__)).all()
        if not recovery_rows:
            raise BackupRefused("this desk is not set up yet; there is nothing to back up")
        sealed = []
        for row in recovery_rows:
            # Sealed only to a recovery key the desk recorded (its binding checks): a row
            # slipped into the database must not receive the server secrets.
            recovery = RecoveryKey(
                id=row.id, public_key=row.public_key, key_binding=row.key_binding
            )
            public = keyring.recovery_public_key(recovery, secrets=secrets)
            sealed.append(
                SealedCopy(
                    recovery_key_id=public.key_id,
                    sealed=seal_backup_secrets(
                        backup_secrets, backup_id=backup_id, recovery_key=public
                    ),
                )
            )
        audit_entries = connection.execute(select(AuditHead.seq)).scalar() or 0
        header = BackupHeader(
            backup_id=backup_id,
            # The day only: when a backup was made says nothing a person needs to the second.
            created_on=utc_today(),
            schema_revision=revision,
            source_backend=engine.dialect.name,
            audit_entries=audit_entries,
            sealed=tuple(sealed),
        )
        with BackupWriter(out, header=header, backup_secrets=backup_secrets) as writer:
            for table in Base.metadata.sorted_tables:
                writer.start_table(table)
                query = select(table).order_by(*table.primary_key.columns)
                # Streamed (a server-side cursor on PostgreSQL): 100,000 reports never sit in
                # memory at once.
                streamed = connection.execution_options(stream_results=True, yield_per=500)
                for row in streamed.execute(query):
                    writer.add_row(row)
            rows = writer.finish()
    return BackupSummary(
        backup_id=backup_id,
        created_on=header.created_on.isoformat(),
        schema_revision=revision,
        audit_entries=audit_entries,
        rows=rows,
        size=out.tell(),
    )


def write_backup_file(path: Path, write: Callable[[BinaryIO], BackupSummary]) -> BackupSummary:
    """Write a backup to a new file at ``path`` (mode 0600), whole or not at all.

    Written beside it under a temporary name and linked into place only when complete and
    synced: a crash or a full disk never leaves a file at ``path`` that looks like a backup,
    and an existing file is never overwritten.
    """
    if path.exists():
        raise BackupRefused(f"{path} already exists; choose a new file")
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    try:
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise BackupRefused(f"cannot create {path}: {exc.strerror}") from None
    try:
        with os.fdopen(descriptor, "wb") as out:
            summary = write(out)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(partial, path)
        except FileExistsError:
            raise BackupRefused(f"{path} already exists; choose a new file") from None
    finally:
        partial.unlink(missing_ok=True)
    return summary


@dataclass(frozen=True)
class VerifyOutcome:
    backup_id: uuid.UUID
    created_on: str
    schema_revision: str
    source_backend: str
    audit_entries: int
    rows: dict[str, int]
    # True only with the recovery key: the MAC was checked and the secrets opened.
    authenticated: bool
    key_files: list[str]


def verify_backup(stream: BinaryIO, *, recovery_key: PrivateKey | None) -> VerifyOutcome:
    """Read a whole backup: its structure and SHA-256 always, its MAC and secrets with a key.

    Raises ``BackupFormatError`` (damaged) or a ``CryptoError`` (altered, or another key).
    """
    reader = BackupReader(stream)
    key_files: list[str] = []
    if recovery_key is not None:
        key_files = sorted(reader.unlock(recovery_key).key_files)
    for _batch in reader.batches():
        pass
    header = reader.header
    return VerifyOutcome(
        backup_id=header.backup_id,
        created_on=header.created_on.isoformat(),
        schema_revision=header.schema_revision,
        source_backend=header.source_backend,
        audit_entries=header.audit_entries,
        rows=reader.row_counts,
        authenticated=reader.macs_checked,
        key_files=key_files,
    )
