import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, delete, func, select
from sqlalchemy.exc import DBAPIError

from hrd_reports import db
from hrd_reports.db import unit_of_work
from hrd_reports.models import Base, User
from hrd_reports.wiring import Runtime
from tests.helpers import Desk, Person


def test_migrations_build_exactly_the_schema_of_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_migrating_again_is_harmless(database_url: str) -> None:
    engine = db.make_engine(database_url)
    try:
        db.migrate(engine)
        db.migrate(engine)
    finally:
        engine.dispose()


def test_sqlite_is_opened_for_durability_and_integrity(tmp_path: object) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path}/x.db")
    try:
        with engine.connect() as connection:
            pragmas = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "secure_delete")
            }
    finally:
        engine.dispose()
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "secure_delete": 1,
    }


def test_a_reader_holds_up_no_writer_and_cannot_write(runtime: Runtime, admin: Person) -> None:
    with unit_of_work(runtime.read_sessions) as reader:
        assert reader.execute(select(func.count()).select_from(User)).scalar_one() == 0
        # While the reader's snapshot is open, a writer commits (on SQLite too).
        Desk(runtime).set_up(admin)
        with pytest.raises(DBAPIError):
            reader.execute(delete(User))
