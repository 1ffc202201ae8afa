"""``create_app(settings)``: the one place where the web application is put together."""

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.middleware.gzip import GZipMiddleware

from hrd_reports import __version__
from hrd_reports.db import DatabaseBusy, checkpoint_deleted, unit_of_work
from hrd_reports.i18n import N_
from hrd_reports.resources import resource_dir
from hrd_reports.services import audit, messaging
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
from hrd_reports.web import dashboard, dashboard_admin, reporter, reporter_api, setup
from hrd_reports.web.auth import Argon2Slots, FormTokenInvalid, NotAllowed, SignInRequired
from hrd_reports.web.deps import ReadSession
from hrd_reports.web.headers import SecurityHeadersMiddleware
from hrd_reports.web.middleware import AccessLog, BodySizeLimit
from hrd_reports.web.pages import Notice, Pages
from hrd_reports.web.reporter import ServerSealedLimit
from hrd_reports.wiring import Runtime, build_runtime


def create_app(settings: Settings, *, runtime: Runtime | None = None) -> FastAPI:
    runtime = runtime or build_runtime(settings, migrate=False)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        purging = None
        if settings.withdrawal_grace_days > 0:
            # A report kept for its grace period must not outlive it because nobody ran the
            # purge command: the server purges too, at start and every hour.
            await _purge_withdrawn_now(runtime)
            purging = asyncio.create_task(_purge_withdrawn_hourly(runtime))
        yield
        if purging is not None:
            purging.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purging
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
    app.state.argon2_slots = Argon2Slots(settings.argon2_concurrency)
    # The last added is the outermost: security headers reach every response, a 413 included,
    # and the log sees every request.
    app.add_middleware(BodySizeLimit)
    app.add_middleware(AccessLog)
    app.add_middleware(
        SecurityHeadersMiddleware,
        onion_location=settings.onion_location,
        public_https=settings.public_url_is_https,
    )
    # Static files only are compressed (the bundle shrinks from 65 to 18 KB, for reporters on
    # slow or metered connections). Pages are not: one that shows a receipt, or hands a
    # reporter's own words back, must not leak them through its compressed size (BREACH).
    static_files = StaticFiles(directory=resource_dir("static"))
    app.mount("/static", GZipMiddleware(static_files, minimum_size=512), name="static")
    app.include_router(reporter.router)
    app.include_router(reporter_api.router)
    reporter_api.add_openapi_route(app)
    app.include_router(setup.router)
    app.include_router(dashboard.router)
    app.include_router(dashboard_admin.router)
    _add_refusal_handlers(app)
    _add_dashboard_handlers(app)

    @app.get("/healthz")
    def health(session: ReadSession) -> dict[str, str]:
        session.execute(text("SELECT 1"))
        return {"status": "ok"}

    return app


logger = logging.getLogger("hrd_reports.web")
PURGE_INTERVAL_SECONDS = 3600


def _purge_withdrawn(runtime: Runtime) -> None:
    with unit_of_work(runtime.sessions) as session:
        messaging.purge_withdrawn(
            session,
            grace=dt.timedelta(days=runtime.settings.withdrawal_grace_days),
            actor="server",
            secrets=runtime.secrets,
        )
        session.commit()
    checkpoint_deleted(runtime.engine)


async def _purge_withdrawn_now(runtime: Runtime) -> None:
    try:
        await run_in_threadpool(_purge_withdrawn, runtime)
    except Exception:  # noqa: BLE001 - a busy database must not stop the server or the loop
        logger.warning("purging withdrawn reports failed; trying again in an hour")


async def _purge_withdrawn_hourly(runtime: Runtime) -> None:
    while True:
        await asyncio.sleep(PURGE_INTERVAL_SECONDS)
        await _purge_withdrawn_now(runtime)


_REFUSAL_STATUS: dict[type[ServiceError], int] = {
    Invalid: 400,
    AuthenticationFailed: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    # Stored data failed its check: not the client's doing, and nothing to retry.
    DataIntegrityError: 500,
}


def _status_of(exc: Exception) -> int:
    return next((code for kind, code in _REFUSAL_STATUS.items() if isinstance(exc, kind)), 400)


async def _json_refusal(_request: Request, exc: Exception) -> JSONResponse:
    """A refusal raised by a service becomes its 4xx with the service's one-line message."""
    message = exc.message if isinstance(exc, ServiceError) else str(exc)
    return JSONResponse({"detail": message}, status_code=_status_of(exc))


def _add_refusal_handlers(app: FastAPI) -> None:
    """Service refusals, colliding writes, invalid requests and a busy database, as 4xx/503."""

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
    # Every pooled connection stayed in use past the pool's timeout: busy too, not a crash.
    app.add_exception_handler(PoolTimeout, busy)
    app.add_exception_handler(IntegrityError, collided)
    app.add_exception_handler(RequestValidationError, invalid_request)


def _add_dashboard_handlers(app: FastAPI) -> None:
    """Dashboard refusals as pages; a refusal by role or assignment is audited."""
    pages: Pages = app.state.pages
    runtime: Runtime = app.state.runtime

    def record_refusal(request: Request, reason: str) -> None:
        signed_in = getattr(request.state, "signed_in", None)
        with unit_of_work(runtime.sessions) as session:
            audit.record(
                session,
                audit_secret=runtime.secrets.audit,
                actor=signed_in.name if signed_in is not None else "unauthenticated",
                action="access.refused",
                subject=request.url.path[:64],
                detail={"method": request.method, "reason": reason},
            )
            session.commit()

    def page(request: Request, message: Notice, status: int) -> Response:
        me = getattr(request.state, "signed_in", None)
        return pages.render(
            request, "dashboard/message.html", {"message": message, "me": me}, status_code=status
        )

    async def sign_in_required(request: Request, _exc: Exception) -> Response:
        return RedirectResponse(request.url_for("dashboard_login_form").path, status_code=303)

    async def not_allowed(request: Request, _exc: Exception) -> Response:
        record_refusal(request, "role")
        return page(request, Notice(N_("your role does not give access to this page")), 403)

    async def form_token_invalid(request: Request, _exc: Exception) -> Response:
        record_refusal(request, "form token")
        return page(
            request,
            Notice(N_("this form has expired; go back, reload the page and try again")),
            403,
        )

    async def refused(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith("/dashboard"):
            return await _json_refusal(request, exc)
        status = _status_of(exc)
        if isinstance(exc, Forbidden):
            record_refusal(request, exc.message)
        refusal = exc if isinstance(exc, ServiceError) else ServiceError(N_("refused"))
        return page(request, Notice.of(refusal), status)

    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(NotAllowed, not_allowed)
    app.add_exception_handler(FormTokenInvalid, form_token_invalid)
    app.add_exception_handler(ServiceError, refused)


def app_from_environment() -> FastAPI:
    """Uvicorn's factory: each worker reads ``HRD_*`` once, at its start."""
    return create_app(Settings())
