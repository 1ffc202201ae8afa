"""Every dependency a route can ask for, as ``Annotated`` aliases."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from hrd_reports.db import unit_of_work
from hrd_reports.web.pages import Pages
from hrd_reports.wiring import Runtime


# Plain look-ups are ``async``: FastAPI runs a synchronous dependency in a worker thread,
# a hop that costs more than the look-up itself on every request.
async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_session(request: Request) -> Iterator[Session]:
    # The route commits once, before it answers; anything not committed is rolled back.
    with unit_of_work(request.app.state.runtime.sessions) as session:
        yield session


def get_read_session(request: Request) -> Iterator[Session]:
    # For routes that only read: on SQLite they never wait for, or hold up, a writer.
    with unit_of_work(request.app.state.runtime.read_sessions) as session:
        yield session


async def get_pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
DbSession = Annotated[Session, Depends(get_session)]
ReadSession = Annotated[Session, Depends(get_read_session)]
PagesDep = Annotated[Pages, Depends(get_pages)]
