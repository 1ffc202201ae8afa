"""The database a benchmark runs on: a SQLite file, or a fresh PostgreSQL database."""

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@contextlib.contextmanager
def fresh_database(server_url: str | None, workdir: Path, name: str) -> Iterator[str]:
    """A SQLite file ``<name>.db`` in ``workdir``, or a new PostgreSQL database on
    ``server_url``, dropped afterwards (the role needs the right to create databases)."""
    if server_url is None:
        yield f"sqlite:///{workdir / (name + '.db')}"
        return
    database = f"hrd_bench_{name}_{uuid.uuid4().hex[:8]}"
    server = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    try:
        yield make_url(server_url).set(database=database).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        server.dispose()
