"""Builds what the CLI and the web share, from one ``Settings``, once at start-up."""

import datetime as dt
import os
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from hrd_reports import db, keystore
from hrd_reports.crypto.passwords import PasswordProtection
from hrd_reports.services import desk
from hrd_reports.services.attachments import AttachmentLimits
from hrd_reports.settings import Settings


class StartupError(Exception):
    """The server cannot start safely; the message says why and what to do."""


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    # For units of work that only read (status, verification): no write lock on SQLite.
    read_sessions: sessionmaker[Session]
    secrets: keystore.ServerSecrets
    passwords: PasswordProtection
    waiting_writers: db.WaitingWriters = field(default_factory=db.WaitingWriters)

    @property
    def attachment_limits(self) -> AttachmentLimits:
        return AttachmentLimits(
            max_file_bytes=self.settings.attachment_max_bytes,
            per_report=self.settings.attachments_per_report,
            storage_bytes=self.settings.attachment_storage_bytes,
            upload_expiry=dt.timedelta(hours=self.settings.upload_expiry_hours),
        )

    def close(self) -> None:
        # Requests still queued for the database's writer lock give up (503) instead of
        # keeping a stopping server alive.
        self.waiting_writers.release_all()
        self.engine.dispose()


def build_runtime(settings: Settings, *, migrate: bool = True) -> Runtime:
    # Whatever this process creates (database, journals, key files) is private to its user.
    os.umask(0o077)
    waiting_writers = db.WaitingWriters()
    try:
        engine = db.make_engine(settings.database_url, waiting=waiting_writers)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise StartupError(
            f"HRD_DATABASE_URL is not a usable database URL ({type(exc).__name__}); use "
            "sqlite:///FILE or postgresql+psycopg://USER@HOST:PORT/DATABASE"
        ) from exc
    try:
        if migrate:
            db.migrate(engine)
        sessions = db.make_session_factory(engine)
        read_sessions = db.make_session_factory(engine, read_only=True)
        with db.unit_of_work(read_sessions) as session:
            set_up = desk.is_set_up(session)
        secrets = keystore.load_or_create(settings.keys_dir, may_create=not set_up)
    except keystore.KeystoreError as exc:
        engine.dispose()
        raise StartupError(str(exc)) from exc
    except OSError as exc:
        engine.dispose()
        raise StartupError(f"{settings.keys_dir}: {exc.strerror or exc}") from exc
    except BaseException:
        engine.dispose()
        raise
    passwords = PasswordProtection(pepper=secrets.pepper, params=settings.argon2)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=sessions,
        read_sessions=read_sessions,
        secrets=secrets,
        passwords=passwords,
        waiting_writers=waiting_writers,
    )
