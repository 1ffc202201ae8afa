"""The intake floor: the cheapest server that durably accepts a sealed report.

A bare Starlette route that reads the request's body and inserts it, one transaction per
request, with the durability the desk promises: on SQLite, WAL with ``synchronous=FULL`` and
``secure_delete``; on PostgreSQL (psycopg, autocommit), the server's synchronous commit. An
answer is sent only once its row is durable. Nothing else: no parsing, no checks, no
framework but Starlette. ``benchmarks/intake.py`` runs it under uvicorn beside the desk and
loads both with the same client in the same run; the desk's reports per second over this
route's requests per second is the intake ratio.

    FLOOR_DATABASE_URL=floor.sqlite3 uvicorn intake_floor:app --port 8765 --no-access-log
    FLOOR_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/floor uvicorn intake_floor:app ...

On SQLite it is the floor route the issue measured (``intake_floor.py`` beside the design
notes), with a ``/healthz`` for the benchmark to wait on, and the same route on psycopg.
"""

import os
import sqlite3
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

DATABASE = os.environ.get("FLOOR_DATABASE_URL", "intake-floor.sqlite3")
CREATE = "create table if not exists reports (id text primary key, body bytea not null)"


def connect() -> Any:
    if DATABASE.startswith("postgresql"):
        import psycopg  # noqa: PLC0415 - only the PostgreSQL floor needs it

        # Autocommit: each insert is its own transaction, and commit waits for the WAL's
        # flush (synchronous_commit is on, the server's default and the desk's).
        connection = psycopg.connect(DATABASE, autocommit=True)
        connection.execute(CREATE)
        return connection
    database = sqlite3.connect(DATABASE, isolation_level=None, check_same_thread=False)
    database.execute("pragma journal_mode=wal")
    database.execute("pragma synchronous=full")
    database.execute("pragma secure_delete=on")
    database.execute(CREATE.replace("bytea", "blob"))
    return database


connection = connect()
INSERT = (
    "insert into reports (id, body) values (%s, %s)"
    if DATABASE.startswith("postgresql")
    else "insert into reports (id, body) values (?, ?)"
)


async def submit(request: Request) -> JSONResponse:
    body = await request.body()
    report_id = str(uuid.uuid4())
    connection.execute(INSERT, (report_id, body))
    return JSONResponse({"id": report_id}, status_code=201)


async def healthz(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(
    routes=[
        Route("/api/v1/reports", submit, methods=["POST"]),
        Route("/healthz", healthz),
    ]
)
