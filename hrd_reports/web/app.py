"""``create_app(settings)``: the one place where the web application is put together."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from hrd_reports import __version__
from hrd_reports.i18n import locale
from hrd_reports.resources import resource_dir
from hrd_reports.services.errors import (
    AuthenticationFailed,
    Conflict,
    DataIntegrityError,
    Forbidden,
    Invalid,
    NotFound,
    ServiceError,
)
from hrd_reports.settings import Settings
from hrd_reports.web import setup
from hrd_reports.web.deps import ReadSession
from hrd_reports.web.headers import SecurityHeadersMiddleware
from hrd_reports.wiring import Runtime, build_runtime


def _templates() -> Jinja2Templates:
    # Links are written as paths (``url_for(...).path``), never absolute URLs: the same page
    # then works behind a TLS-terminating proxy and on a Tor onion address.
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(resource_dir("templates")),
        # Everything a person typed is text, never markup.
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    current = locale()
    environment.install_gettext_translations(current.translations, newstyle=True)  # type: ignore[attr-defined]
    environment.globals.update(lang=current.code, direction=current.direction)
    return Jinja2Templates(env=environment)


def create_app(settings: Settings, *, runtime: Runtime | None = None) -> FastAPI:
    runtime = runtime or build_runtime(settings, migrate=False)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        runtime.close()

    app = FastAPI(
        title="hrd-reports",
        version=__version__,
        lifespan=lifespan,
        # The dashboard's API description is not public; the reporter API publishes its own.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.runtime = runtime
    app.state.templates = _templates()
    app.add_middleware(SecurityHeadersMiddleware)
    app.mount("/static", StaticFiles(directory=resource_dir("static")), name="static")
    app.include_router(setup.router)
    _add_refusal_handlers(app)

    @app.get("/healthz")
    def health(session: ReadSession) -> dict[str, str]:
        session.execute(text("SELECT 1"))
        return {"status": "ok"}

    return app


_REFUSAL_STATUS: dict[type[ServiceError], int] = {
    Invalid: 400,
    AuthenticationFailed: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    # Stored data failed its check: not the client's doing, and nothing to retry.
    DataIntegrityError: 500,
}


def _add_refusal_handlers(app: FastAPI) -> None:
    """A refusal raised by a service becomes its 4xx with the service's one-line message."""

    async def refused(_request: Request, exc: Exception) -> JSONResponse:
        status = next(
            (code for kind, code in _REFUSAL_STATUS.items() if isinstance(exc, kind)), 400
        )
        message = exc.message if isinstance(exc, ServiceError) else str(exc)
        return JSONResponse({"detail": message}, status_code=status)

    async def collided(_request: Request, _exc: Exception) -> JSONResponse:
        # Two requests changed the same rows at once; the one that lost changed nothing.
        return JSONResponse(
            {"detail": "someone changed the same records at the same moment; try again"},
            status_code=409,
        )

    app.add_exception_handler(ServiceError, refused)
    app.add_exception_handler(IntegrityError, collided)


def app_from_environment() -> FastAPI:
    """Uvicorn's factory: each worker reads ``HRD_*`` once, at its start."""
    return create_app(Settings())
