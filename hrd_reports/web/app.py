"""``create_app(settings)``: the one place where the web application is put together."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from starlette.middleware.gzip import GZipMiddleware

from hrd_reports import __version__
from hrd_reports.db import DatabaseBusy
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
from hrd_reports.web import reporter, reporter_api, setup
from hrd_reports.web.deps import ReadSession
from hrd_reports.web.headers import SecurityHeadersMiddleware
from hrd_reports.web.middleware import AccessLog, BodySizeLimit
from hrd_reports.web.pages import Pages
from hrd_reports.web.reporter import ServerSealedLimit
from hrd_reports.wiring import Runtime, build_runtime


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
    app.state.pages = Pages(settings)
    app.state.server_sealed_limit = ServerSealedLimit(settings.server_sealed_per_minute)
    # The last added is the outermost: security headers reach every response, a 413 included,
    # and the log sees every request.
    app.add_middleware(BodySizeLimit)
    app.add_middleware(AccessLog)
    app.add_middleware(SecurityHeadersMiddleware, onion_location=settings.onion_location)
    # Static files only are compressed (the bundle shrinks from 65 to 18 KB, for reporters on
    # slow or metered connections). Pages are not: one that shows a receipt, or hands a
    # reporter's own words back, must not leak them through its compressed size (BREACH).
    static_files = StaticFiles(directory=resource_dir("static"))
    app.mount("/static", GZipMiddleware(static_files, minimum_size=512), name="static")
    app.include_router(reporter.router)
    app.include_router(reporter_api.router)
    reporter_api.add_openapi_route(app)
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

    async def invalid_request(_request: Request, exc: Exception) -> JSONResponse:
        # Where and what, never the submitted value: it may be a report's words.
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        detail = [
            {"loc": [str(part) for part in error["loc"]], "msg": error["msg"]} for error in errors
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    async def busy(_request: Request, _exc: Exception) -> JSONResponse:
        return JSONResponse(
            {"detail": "the server is busy; please try again in a moment"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    app.add_exception_handler(DatabaseBusy, busy)
    app.add_exception_handler(ServiceError, refused)
    app.add_exception_handler(IntegrityError, collided)
    app.add_exception_handler(RequestValidationError, invalid_request)


def app_from_environment() -> FastAPI:
    """Uvicorn's factory: each worker reads ``HRD_*`` once, at its start."""
    return create_app(Settings())
