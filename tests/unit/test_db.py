import contextlib
import datetime as dt
import re
import stat
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, Select, create_engine, delete, func, insert, select, text
from sqlalchemy.exc import DBAPIError

from hrd_reports import db
from hrd_reports.crypto.list_cursor import Direction, ListCursor
from hrd_reports.db import unit_of_work
from hrd_reports.models import (
    REPORT_LIST_ORDER,
    Base,
    Report,
    ReportMessage,
    SpentChallenge,
    User,
)
from hrd_reports.services import listing
from hrd_reports.wiring import Runtime
from tests.helpers import Desk, Person


def test_migrations_build_exactly_the_schema_of_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection, warnings.catch_warnings():
            # SQLAlchemy cannot reflect an index on an expression; the next test checks it.
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
            warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expr")
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


@pytest.mark.parametrize(
    ("query", "index"),
    [
        # The migration's index and the dashboard's ORDER BY are the same expression.
        (select(Report.id).order_by(*REPORT_LIST_ORDER).limit(26), "ix_reports_list_order"),
        # Every listing looks for the reports nobody has opened yet, among all of them.
        (
            select(Report.id).where(Report.follows_form.is_(None)).order_by(Report.id),
            "ix_reports_unclassified",
        ),
        # And counts those that do not follow the form.
        (
            select(func.count()).select_from(
                select(Report.id).where(Report.follows_form.is_(False)).subquery()
            ),
            "ix_reports_off_form",
        ),
        # The navigation's count of unread reporters' messages, on every dashboard page.
        (
            select(func.count()).select_from(ReportMessage).where(ReportMessage.unread.is_(True)),
            "ix_report_messages_unread",
        ),
    ],
    ids=["list order", "unclassified", "off form", "unread messages"],
)
def test_report_list_queries_are_read_from_their_index(
    database_url: str, query: Select[tuple[int]], index: str
) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            compiled = query.compile(connection, compile_kwargs={"literal_binds": True})
            if connection.dialect.name == "sqlite":
                plan = " ".join(
                    str(row[-1])
                    for row in connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
                )
                assert re.search(rf"USING (COVERING )?INDEX {index}\b", plan), plan
                assert "TEMP B-TREE" not in plan
            else:
                # An empty table would be scanned; forbid that, so the plan shows whether the
                # index can serve this query at all.
                connection.execute(text("SET LOCAL enable_seqscan = off"))
                connection.execute(text("SET LOCAL enable_sort = off"))
                plan = " ".join(
                    str(row[0]) for row in connection.execute(text(f"EXPLAIN {compiled}"))
                )
                assert index in plan, plan
    finally:
        engine.dispose()


@pytest.mark.parametrize("direction", list(Direction))
@pytest.mark.parametrize("urgent_or_unknown", [True, False])
def test_report_list_page_by_cursor_is_read_from_the_index_onwards_from_its_place(
    database_url: str, direction: Direction, urgent_or_unknown: bool
) -> None:
    # Not read from the start of the index and filtered: that would walk every report of the
    # pages before, as OFFSET did.
    place = ListCursor(direction, urgent_or_unknown, dt.date(2026, 3, 20), 5000)
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            query = select(Report).order_by(*REPORT_LIST_ORDER)
            segments = listing.seek(query, place, dialect=connection.dialect.name)
            for segment in segments:
                compiled = segment.limit(51).compile(
                    connection, compile_kwargs={"literal_binds": True}
                )
                if connection.dialect.name == "sqlite":
                    plan = " ".join(
                        str(row[-1])
                        for row in connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
                    )
                    assert "SEARCH reports USING INDEX ix_reports_list_order" in plan, plan
                    assert "TEMP B-TREE" not in plan, plan
                else:
                    connection.execute(text("SET LOCAL enable_seqscan = off"))
                    connection.execute(text("SET LOCAL enable_sort = off"))
                    plan = " ".join(
                        str(row[0]) for row in connection.execute(text(f"EXPLAIN {compiled}"))
                    )
                    assert "ix_reports_list_order" in plan, plan
                    assert "Index Cond: (ROW(" in plan, plan
                    assert "Sort" not in plan, plan
    finally:
        engine.dispose()


def test_migrating_again_is_harmless(database_url: str) -> None:
    engine = db.make_engine(database_url)
    try:
        db.migrate(engine)
        with engine.begin() as connection:
            connection.execute(insert(SpentChallenge).values(nonce_hash=b"\x01" * 32, window=1))
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        db.migrate(engine)
        with engine.connect() as connection:
            assert (
                connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
                == version
            )
            kept = connection.execute(select(func.count()).select_from(SpentChallenge)).scalar()
            assert kept == 1
    finally:
        engine.dispose()
    assert version is not None


def test_sqlite_is_opened_for_durability_and_integrity(tmp_path: Path) -> None:
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


def test_sqlite_writers_queue_on_a_private_lock_file_and_never_nest_in_one_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "WRITER_WAIT_SECONDS", 0.2)
    engine = db.make_engine(f"sqlite:///{tmp_path}/queue.db")
    try:
        db.migrate(engine)
        lock = tmp_path / "queue.db-writer.lock"
        assert stat.S_IMODE(lock.stat().st_mode) == 0o600
        sessions = db.make_session_factory(engine)
        with unit_of_work(sessions) as outer:
            outer.execute(select(func.count()).select_from(User))
            # A second writer in the same thread would wait for itself: refused after a wait.
            with unit_of_work(sessions) as inner, pytest.raises(db.DatabaseBusy):
                inner.execute(select(func.count()).select_from(User))
    finally:
        engine.dispose()


@contextlib.contextmanager
def lock_held_elsewhere(engine: Engine, database_url: str) -> Iterator[None]:
    """What a long write elsewhere does: on SQLite another writer of this process holds the
    writer lock; on PostgreSQL another connection holds a lock on the users table."""
    if db.is_sqlite(database_url):
        with unit_of_work(db.make_session_factory(engine)) as holder:
            holder.execute(select(func.count()).select_from(User))  # takes the writer lock
            yield
        return
    other = create_engine(database_url)
    try:
        with other.connect() as connection:
            connection.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
            yield
            connection.rollback()
    finally:
        other.dispose()


def _write_in_a_thread(engine: Engine, outcome: list[BaseException | None]) -> threading.Thread:
    def write() -> None:
        try:
            with unit_of_work(db.make_session_factory(engine)) as session:
                session.execute(delete(User).where(User.name == "nobody"))
                session.commit()
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - collected, then asserted
            outcome.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    return writer


def test_a_write_waiting_for_a_lock_held_elsewhere_gives_up_busy_when_the_engine_closes(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stopping server must not be kept alive by requests queued behind a long write.
    monkeypatch.setattr(db, "WRITER_WAIT_SECONDS", 600.0)  # they would wait that long
    waiting = db.WaitingWriters()
    engine = db.make_engine(database_url, waiting=waiting)
    try:
        outcome: list[BaseException | None] = []
        with lock_held_elsewhere(engine, database_url):
            writer = _write_in_a_thread(engine, outcome)
            # Told to give up (again, until it has begun to wait), it gives up.
            for _ in range(400):
                if outcome or not writer.is_alive():
                    break
                waiting.release_all()
                writer.join(0.05)
            assert len(outcome) == 1
            assert isinstance(outcome[0], db.DatabaseBusy)
        # Released, the engine is usable again, and a writer that comes later gets its turn.
        later: list[BaseException | None] = []
        _write_in_a_thread(engine, later).join(30)
        assert later == [None]
    finally:
        engine.dispose()


def test_a_write_waiting_longer_than_the_bound_for_a_lock_held_elsewhere_is_busy(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not a request that hangs for as long as someone else holds a lock: a 503 to retry.
    monkeypatch.setattr(db, "WRITER_WAIT_SECONDS", 0.5)
    engine = db.make_engine(database_url)
    try:
        outcome: list[BaseException | None] = []
        with lock_held_elsewhere(engine, database_url):
            _write_in_a_thread(engine, outcome).join(60)
        assert len(outcome) == 1
        assert isinstance(outcome[0], db.DatabaseBusy)
    finally:
        engine.dispose()


def test_sqlite_writers_in_many_threads_all_commit_even_when_some_end_on_other_threads(
    tmp_path: Path,
) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path}/many.db")
    try:
        db.migrate(engine)
        sessions = db.make_session_factory(engine)
        failures: list[BaseException] = []

        with unit_of_work(sessions) as session:
            session.execute(text("CREATE TABLE t (n INTEGER)"))
            session.commit()

        def write(number: int) -> None:
            try:
                with unit_of_work(sessions) as session:
                    session.execute(text("INSERT INTO t VALUES (:n)"), {"n": number})
                    session.commit()
            except BaseException as exc:  # noqa: BLE001 - collected, then asserted
                failures.append(exc)

        def refuse_elsewhere(number: int) -> None:
            # As a web framework may: the transaction begins here and is rolled back by
            # another thread; the lock must not stay held by a thread that left.
            session = sessions()
            session.execute(text("INSERT INTO t VALUES (:n)"), {"n": -number})
            ender = threading.Thread(target=session.close)
            ender.start()
            ender.join(timeout=30)

        threads = [
            threading.Thread(target=refuse_elsewhere if n % 5 == 0 else write, args=(n,))
            for n in range(40)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        with unit_of_work(sessions) as session:
            count = session.execute(text("SELECT count(*) FROM t")).scalar_one()
        assert failures == []
        assert count == 32  # the eight rolled back elsewhere left nothing, and held nothing
    finally:
        engine.dispose()


def test_a_database_error_names_no_value_bound_to_its_statement(database_url: str) -> None:
    # An error's message reaches logs: it must not carry what was bound to the statement.
    engine = db.make_engine(database_url)
    try:
        with engine.begin() as connection, pytest.raises(DBAPIError) as refused:
            connection.execute(
                text("INSERT INTO no_such_table (name) VALUES (:name)"),
                {"name": "CANARY-typed-password"},
            )
    finally:
        engine.dispose()
    assert "CANARY" not in str(refused.value)
    assert "hidden" in str(refused.value)


def test_one_server_at_a_time_lets_one_process_do_a_chore_and_the_next_after_it(
    runtime: Runtime,
) -> None:
    engine = runtime.engine
    with db.one_server_at_a_time(engine, "housekeeping") as first:
        assert first is True
        # Another server's attempt (a lock of its own: another connection, another open file).
        with db.one_server_at_a_time(engine, "housekeeping") as second:
            assert second is False
        # Other chores are not held up by this one.
        with db.one_server_at_a_time(engine, "backup") as other:
            assert other is True
    with db.one_server_at_a_time(engine, "housekeeping") as after:
        assert after is True
