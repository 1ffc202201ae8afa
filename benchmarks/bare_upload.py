"""The upload floor of ``attachments.py``: an HTTP server that only stores chunks.

    python benchmarks/bare_upload.py DATABASE_URL PORT

One route, ``PUT /chunks/{attachment}/{index}``, reads the request's body and inserts it into
``attachment_chunks`` of ``DATABASE_URL`` (migrated, with the attachment's row already there),
one transaction and commit per chunk, in a worker thread as the application does its database
work. The engine is the application's own (``db.make_engine``: on SQLite the same pragmas, WAL
and ``synchronous = FULL``, and the same queued writer lock), and uvicorn runs as
``hrd-reports serve`` runs it (uvloop and httptools where installed, no access log). What is
left out is everything the real route adds: FastAPI's routing and validation, the middleware,
the upload's checks (is it pending, is the index in range, is the length right, was the chunk
already stored) and the count of chunks still missing.
"""

import contextlib
import sys
from collections.abc import AsyncIterator

import uvicorn
from sqlalchemy import insert
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hrd_reports import db
from hrd_reports.models import AttachmentChunk


def build_app(database_url: str) -> Starlette:
    engine = db.make_engine(database_url)

    def store(attachment: int, index: int, data: bytes) -> None:
        with engine.begin() as connection:
            connection.execute(
                insert(AttachmentChunk), {"attachment_id": attachment, "index": index, "data": data}
            )

    async def put_chunk(request: Request) -> Response:
        data = await request.body()
        attachment, index = request.path_params["attachment"], request.path_params["index"]
        await run_in_threadpool(store, attachment, index, data)
        return JSONResponse({"index": index})

    async def healthz(_request: Request) -> Response:
        return Response(b"ok")

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        engine.dispose()

    return Starlette(
        routes=[
            Route("/chunks/{attachment:int}/{index:int}", put_chunk, methods=["PUT"]),
            Route("/healthz", healthz),
        ],
        lifespan=lifespan,
    )


def main() -> None:
    database_url, port = sys.argv[1], int(sys.argv[2])
    uvicorn.run(
        build_app(database_url),
        host="127.0.0.1",
        port=port,
        access_log=False,
        server_header=False,
        date_header=False,
    )


if __name__ == "__main__":
    main()
