"""Engines, sessions and migrations, for SQLite (default) and PostgreSQL."""

import contextlib
import fcntl
import functools
import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.orm import Session, sessionmaker

# Set on the engine behind read-only sessions (see ``make_session_factory``).
_READ_ONLY = "hrd_read_only"
# An execution option: the results in PostgreSQL's binary format, for a scan of every report's
# ciphertext (bytea as its bytes, not hex text written by the server and parsed back here).
# Every column such a scan reads (bytea, uuid, text, integer, date, boolean) loads to the same
# Python value in either format. SQLite has one format and ignores it.
BINARY_RESULTS = "hrd_binary_results"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


# Threads of this process wait here, in turn, for their write transaction; then one at a time
# they take the lock file, where other processes' writers wait. A transaction may end on
# another thread than it began on (a web framework may roll back in its own thread), which
# a lock owned by the connection, not the thread, allows.
_process_writer = threading.Lock()
WRITER_WAIT_SECONDS = 30.0
# How often a waiting writer looks whether its engine is closing (the server is stopping).
_CLOSING_CHECK_SECONDS = 0.25


class DatabaseBusy(Exception):
    """No write transaction could start in time."""


class WaitingWriters:
    """Tells the database work still waiting that its engine is being closed.

    On SQLite, writers that were queued for the writer lock when ``release_all`` was called
    give up; on PostgreSQL, the statements running on the connections in use then are
    cancelled (one still waiting for a row lock would otherwise wait for as long as its
    holder). A stopping server is then not kept alive by requests queued behind a long
    write. Work that starts afterwards waits as usual: an engine may be used again once
    disposed.
    """

    def __init__(self) -> None:
        self.generation = 0
        self._in_use: set[Any] = set()
        self._lock = threading.Lock()

    def release_all(self) -> None:
        self.generation += 1
        with self._lock:
            in_use = list(self._in_use)
        for connection in in_use:
            # psycopg's cancel: a request to the server, from any thread; an error here only
            # means that the statement or the connection has ended meanwhile.
            with contextlib.suppress(Exception):
                connection.cancel()

    def watch(self, engine: Engine) -> None:
        """Keep track of ``engine``'s connections while they are checked out of its pool."""

        @event.listens_for(engine, "checkout")
        def _checked_out(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
            with self._lock:
                self._in_use.add(dbapi_connection)

        @event.listens_for(engine, "checkin")
        def _checked_in(dbapi_connection: Any, _record: Any) -> None:
            with self._lock:
                self._in_use.discard(dbapi_connection)


class QueuedWriterConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions queue instead of polling.

    SQLite lets one writer in at a time and makes the others poll with growing sleeps: under
    load a request can sleep past its timeout and fail, or wait far longer than the writer
    ahead of it needed. Here writers wait on a lock (threads of this process) and on an
    exclusive ``flock`` of a file beside the database (other processes), and wake the moment
    it is free; the kernel releases the file lock if a process dies.
    """

    # This engine's waiting writers (see ``WaitingWriters``).
    waiting: WaitingWriters | None = None

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self._lock_path = None if str(database) == ":memory:" else f"{database}-writer.lock"
        self._lock_fd: int | None = None
        self._holding = False

    def begin_write(self) -> None:
        if not self._wait_for_process_writer():
            # Also what a write opened inside another write on the same thread meets,
            # instead of waiting for itself for ever.
            raise DatabaseBusy("the database stayed busy; try again")
        self._holding = True
        try:
            if self._lock_path is not None:
                if self._lock_fd is None:
                    self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            self.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            self._release()
            # Another program that does not queue here (the sqlite3 shell, a backup tool)
            # held the lock past the busy timeout: busy, as for a writer of this server.
            if "locked" in str(exc) or "busy" in str(exc):
                raise DatabaseBusy("the database stayed busy; try again") from exc
            raise
        except BaseException:
            self._release()
            raise

    def _wait_for_process_writer(self) -> bool:
        deadline = time.monotonic() + WRITER_WAIT_SECONDS
        generation = self.waiting.generation if self.waiting is not None else 0
        while self.waiting is None or self.waiting.generation == generation:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            # Woken the moment the lock is free; the timeout only bounds how late a closing
            # engine is noticed.
            if _process_writer.acquire(timeout=min(remaining, _CLOSING_CHECK_SECONDS)):
                return True
        return False

    def _release(self) -> None:
        if not self._holding:
            return
        self._holding = False
        try:
            if self._lock_fd is not None:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        finally:
            _process_writer.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        self._release()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        super().close()


def make_engine(url: str, *, waiting: WaitingWriters | None = None) -> Engine:
    """An engine for ``url``; ``waiting`` lets the work that waits on it be told to give up
    (see ``WaitingWriters``)."""
    # hide_parameters: a database error's message (and any log of it) names the statement but
    # not the values bound to it, which could be a name typed where a password was meant, or
    # a lookup hash; nothing a client sent is repeated in an exception or a log.
    if not is_sqlite(url):
        engine = create_engine(
            url,
            pool_pre_ping=True,
            hide_parameters=True,
            # No statement waits for a lock longer than a SQLite writer waits for its turn:
            # then it is "busy" (503), not a request that hangs as long as the lock is held.
            connect_args={"options": f"-c lock_timeout={int(WRITER_WAIT_SECONDS * 1000)}"},
        )
        event.listen(engine, "handle_error", _busy_when_postgresql_gave_up)
        # The PostgreSQL driver is loaded only by a desk that uses it. Loaded at import on a
        # SQLite desk too, it made /healthz answer 0.34 s instead of 0.10-0.18 s at the
        # longest while 50 people signed in at once (benchmarks/dashboard.py, same machine).
        from psycopg.pq import Format  # noqa: PLC0415

        event.listen(
            engine,
            "before_cursor_execute",
            functools.partial(_binary_results_when_asked, Format.BINARY),
        )
        if waiting is not None:
            waiting.watch(engine)
        return engine
    engine = create_engine(
        url,
        connect_args={
            "timeout": 30,
            # A class of this engine's own: ``waiting`` reaches only this engine's writers.
            "factory": type(
                "EngineWriterConnection", (QueuedWriterConnection,), {"waiting": waiting}
            ),
        },
        hide_parameters=True,
    )

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" below decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        # FULL: an acknowledged report survives not only a crash of the process but of the
        # machine (DESIGN.md invariant 7).
        cursor.execute("PRAGMA synchronous = FULL")
        # Removed rows (a withdrawn report, a destroyed grant) are overwritten, not left in
        # free pages of the file.
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection: Any) -> None:
        # Take the write lock at the start: a transaction that reads the audit head or the
        # active key and then writes can never act on a stale read. Read-only units take a
        # snapshot instead, so a long audit verification never holds up a report.
        if connection.get_execution_options().get(_READ_ONLY, False):
            connection.exec_driver_sql("BEGIN DEFERRED")
        else:
            connection.connection.dbapi_connection.begin_write()

    return engine


# SQLSTATEs of a statement that gave up waiting: its lock timeout (55P03), or cancelled
# because the server is stopping (57014).
_GAVE_UP = frozenset({"55P03", "57014"})


def _busy_when_postgresql_gave_up(context: ExceptionContext) -> None:
    state = getattr(context.original_exception, "sqlstate", None)
    if state in _GAVE_UP:
        raise DatabaseBusy("the database stayed busy; try again") from context.original_exception


def _binary_results_when_asked(
    binary: Any,
    _connection: Connection,
    cursor: Any,
    _statement: str,
    _params: Any,
    context: Any,
    _many: bool,
) -> None:
    if context is not None and context.execution_options.get(BINARY_RESULTS, False):
        cursor.format = binary


def checkpoint_deleted(engine: Engine) -> None:
    """Move what a destroying transaction overwrote from SQLite's WAL into the database file.

    Until a checkpoint, the write-ahead log still holds the pages a withdrawn report was
    written in. A TRUNCATE checkpoint copies the overwritten pages into the file and empties
    the log; if readers keep it busy, the next automatic checkpoint does it. PostgreSQL has
    no such file to empty; ``shred_deleted_reports`` is its counterpart.
    """
    if engine.dialect.name != "sqlite":
        return
    # Outside any transaction (SQLAlchemy would open one, and a checkpoint cannot run in it).
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.close()
    finally:
        raw.close()


# The tables where a report's data key lives (sealed to the desk's key, and to its case
# worker): rewritten, a destroyed report's files, messages and notes that linger in the free
# space of other tables are ciphertext that no key can open any more.
_REPORT_KEY_TABLES = ("reports", "report_grants")


def shred_deleted_reports(engine: Engine) -> None:
    """PostgreSQL: rewrite the tables that hold reports' keys, so that a destroyed report's
    rows leave their files.

    A deleted row stays in its page after a plain VACUUM, which marks the space free but does
    not overwrite it: a copy of the data directory would still hold the report and its sealed
    key. VACUUM FULL writes the live rows to new files and removes the old ones. It locks the
    two tables while it runs (seconds on a large desk; a submission waiting longer is refused
    as busy and sent again by the reporter's page), so it runs once after a purge, not after
    each withdrawal. SQLite overwrites deleted rows itself (``secure_delete``).
    """
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"VACUUM FULL {', '.join(_REPORT_KEY_TABLES)}")


@contextmanager
def one_server_at_a_time(engine: Engine, chore: str) -> Iterator[bool]:
    """Whether this process may do ``chore`` now (True) or another server process is doing it
    (False): a PostgreSQL advisory lock, or an exclusive ``flock`` of a file beside a SQLite
    database; held for the ``with`` block, and released if the process dies.

    Several servers on one database (or several workers of one) each run the scheduled chores
    (purges, backups, notifications); done by all at once, a backup would be written twice and
    a mail sent twice. Never waits: whoever does not get the lock skips this round.
    """
    if engine.dialect.name == "postgresql":
        key = int.from_bytes(
            hashlib.sha256(f"hrd-reports:{chore}".encode()).digest()[:8], "big", signed=True
        )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            held = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
            if not held.scalar_one():
                yield False
                return
            try:
                yield True
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield True
        return
    descriptor = os.open(f"{database}-{chore}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def make_session_factory(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """Sessions for units of work; ``read_only`` ones cannot write (PostgreSQL refuses it)."""
    if not read_only:
        return sessionmaker(engine, expire_on_commit=False)
    options = {_READ_ONLY: True}
    if engine.dialect.name == "postgresql":
        options["postgresql_readonly"] = True
    return sessionmaker(engine.execution_options(**options), expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: committed by the caller, rolled back if anything escapes."""
    session = factory()
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("hrd_reports").joinpath("migrations"))
    )
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (safe to run at every start)."""
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection that reads one consistent state of the whole database, and cannot write.

    A backup reads table after table while the desk goes on working: without one snapshot it
    could hold a report without its grant, or an audit head without its last entry. On
    SQLite a read transaction in WAL mode sees one snapshot, taken at its first read, and
    holds no writer up; on PostgreSQL, REPEATABLE READ gives the same for the transaction.
    """
    if engine.dialect.name == "postgresql":
        options: dict[str, Any] = {
            "isolation_level": "REPEATABLE READ",
            "postgresql_readonly": True,
        }
    else:
        options = {_READ_ONLY: True}
    with engine.connect().execution_options(**options) as connection, connection.begin():
        yield connection


def schema_revision(connection: Connection) -> str | None:
    """The migration the database is at, or None if it has never been migrated."""
    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest migration this version of the code knows."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("the package holds no migration")
    return head
