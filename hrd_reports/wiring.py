"""Builds what the CLI and the web share, from one ``Settings``, once at start-up."""

import os
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hrd_reports import db, keystore
from hrd_reports.crypto.passwords import PasswordProtection
from hrd_reports.services import desk
from hrd_reports.settings import Settings


class StartupError(Exception):
    """The server cannot start safely; the message says why and what to do."""


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    secrets: keystore.ServerSecrets
    passwords: PasswordProtection

    def close(self) -> None:
        self.engine.dispose()


def build_runtime(settings: Settings, *, migrate: bool = True) -> Runtime:
    # Whatever this process creates (database, journals, key files) is private to its user.
    os.umask(0o077)
    engine = db.make_engine(settings.database_url)
    try:
        if migrate:
            db.migrate(engine)
        sessions = db.make_session_factory(engine)
        with db.unit_of_work(sessions) as session:
            set_up = desk.is_set_up(session)
        secrets = keystore.load_or_create(settings.keys_dir, may_create=not set_up)
    except keystore.KeystoreError as exc:
        engine.dispose()
        raise StartupError(str(exc)) from exc
    except BaseException:
        engine.dispose()
        raise
    passwords = PasswordProtection(pepper=secrets.pepper, params=settings.argon2)
    return Runtime(
        settings=settings, engine=engine, sessions=sessions, secrets=secrets, passwords=passwords
    )
