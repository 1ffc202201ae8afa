"""``create_app(settings)``: the one place where the web application is put together."""

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Scope

from hrd_reports import __version__
from hrd_reports.backups.schedule import BackupScheduler
from hrd_reports.crypto.attachments import MAX_CHUNK_BYTES
from hrd_reports.db import DatabaseBusy, unit_of_work
from hrd_reports.i18n import N_
from hrd_reports.notifier import build_notifier, send_forever
from hrd_reports.resources import resource_dir
from hrd_reports.services import audit, clock
from hrd_reports.services.errors import (
    AuthenticationFailed,
    Conflict,
    DataIntegrityError,
    Forbidden,
    Invalid,
    NotFound,
    ServiceError,
    TooLarge,
)
from hrd_reports.settings import Settings
from hrd_reports.web import (
    dashboard_admin,
    dashboard_files,
    dashboard_notifications,
    dashboard_reports,
    dashboard_signin,
    housekeeping,
    intake_guard,
    reporter,
    reporter_api,
    reporter_uploads,
    setup,
)
from hrd_reports.web.auth import (
    ACCESS,
    ANONYMOUS,
    SESSION_COOKIE_NAMES,
    Argon2Slots,
    FormTokenInvalid,
    NotAllowed,
    SignInRequired,
)
from hrd_reports.web.deps import ReadSession
from hrd_reports.web.headers import SecurityHeadersMiddleware
from hrd_reports.web.middleware import (
    MAX_REQUEST_BYTES,
    AccessLog,
    BodySizeLimit,
    CutOffAnswer,
    EndedSessions,
    SessionGate,
)
from hrd_reports.web.pages import Notice, Pages
from hrd_reports.web.reporter import ServerSealedLimit
from hrd_reports.wiring import Runtime, build_runtime


class _DeskApp(FastAPI):
    """FastAPI, with what must come first outside the framework's own middleware.

    ``outermost`` wraps the whole stack, FastAPI's error handling included: the security
    headers then reach every answer, an unexpected 500 too, and the session gate turns a
    request away with the least work a request can cost (each layer between the server and
    the gate is paid by every request of a flood).
    """

    outermost: list[Callable[[ASGIApp], ASGIApp]]

    def build_middleware_stack(self) -> ASGIApp:
        app = super().build_middleware_stack()
        for wrap in reversed(self.outermost):
            app = wrap(app)
        return app


def create_app(settings: Settings, *, runtime: Runtime | None = None) -> FastAPI:
    runtime = runtime or build_runtime(settings, migrate=False)
    # Built here, before serving: a password file others can read stops the start, as every
    # unsafe secret does.
    notifier = build_notifier(runtime, settings)

    @asynccontextmanager
    async def lifespan(served: FastAPI) -> AsyncIterator[None]:
        # A report kept past its grace or retention period because nobody ran the purge
        # command, or an upload never attached past its expiry, must not outlive them: the
        # server cleans up too, at start and every hour.
        chores = housekeeping.Housekeeping(runtime, settings)
        await chores.run_now()
        guard: intake_guard.IntakeGuard = served.state.intake_guard
        background = [asyncio.create_task(chores.run_hourly()), asyncio.create_task(guard.run())]
        if notifier is not None:
            background.append(asyncio.create_task(send_forever(notifier)))
        backups = _start_backups(runtime)
        yield
        if backups is not None:
            await asyncio.to_thread(backups.stop)
        for task in background:
            task.cancel()
        for task in background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # Off the event loop (on PostgreSQL it sends cancel requests), and not in the worker
        # threads' pool, which requests still waiting for the database may hold.
        await asyncio.to_thread(runtime.close)

    app = _DeskApp(
        title="hrd-reports",
        version=__version__,
        lifespan=lifespan,
        # The dashboard's API description is not public; the reporter API publishes its own.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.runtime = runtime
    app.state.notifier = notifier
    app.state.pages = Pages(settings)
    app.state.server_sealed_limit = ServerSealedLimit(settings.server_sealed_per_minute)
    app.state.argon2_slots = Argon2Slots(settings.argon2_concurrency)
    app.state.ended_sessions = EndedSessions()
    app.state.intake_guard = intake_guard.IntakeGuard(runtime, settings)
    # The last added is the outermost, and ``outermost`` (below) comes before all of them: the
    # log sees every request but the dashboard's without a session (see SessionGate).
    app.add_middleware(
        BodySizeLimit,
        page=functools.partial(_too_large_page, app.state.pages),
        larger=[(reporter_uploads.CHUNK_PATH, MAX_CHUNK_BYTES)],
        # A report with its files, from a browser without JavaScript: every file at its
        # largest, with room for the form itself and the multipart framing.
        streamed=[
            ("/report", _largest_report_with_files(settings)),
            ("/inbox", _largest_report_with_files(settings)),
        ],
    )
    # Inside the body size bound, which refuses a too large body before anything else.
    app.add_middleware(
        intake_guard.IntakeGuardGate,
        guard=app.state.intake_guard,
        page=functools.partial(_unavailable_page, app.state.pages),
    )
    app.add_middleware(AccessLog)
    # Static files only are compressed (the bundle shrinks from 65 to 18 KB, for reporters on
    # slow or metered connections). Pages are not: one that shows a receipt, or hands a
    # reporter's own words back, must not leak them through its compressed size (BREACH).
    static_files = StaticFiles(directory=resource_dir("static"))
    app.mount("/static", GZipMiddleware(static_files, minimum_size=512), name="static")
    app.include_router(reporter.router)
    app.include_router(reporter_api.router)
    app.include_router(reporter_uploads.router)
    reporter_api.add_openapi_route(app)
    app.include_router(setup.router)
    app.include_router(dashboard_signin.router)
    app.include_router(dashboard_reports.router)
    app.include_router(dashboard_files.router)
    app.include_router(dashboard_admin.router)
    app.include_router(dashboard_notifications.router)
    _add_refusal_handlers(app)
    app.add_middleware(CutOffAnswer)
    app.outermost = [
        functools.partial(
            SecurityHeadersMiddleware,
            onion_location=settings.onion_location,
            public_https=settings.public_url_is_https,
        ),
        functools.partial(
            SessionGate,
            secret=runtime.secrets.session,
            cookie_names=SESSION_COOKIE_NAMES,
            open_paths=[
                route.path_regex
                for route in dashboard_signin.router.routes
                if isinstance(route, APIRoute) and ACCESS.get(route.name) is ANONYMOUS
            ],
            sign_in_path=app.url_path_for("dashboard_login_form"),
            ended=app.state.ended_sessions,
        ),
    ]

    @app.get("/healthz")
    def health(session: ReadSession) -> dict[str, str]:
        session.execute(text("SELECT 1"))
        return {"status": "ok"}

    return app


logger = logging.getLogger("hrd_reports.web")


def _largest_report_with_files(settings: Settings) -> int:
    framing = 4096 * (settings.attachments_per_report + 1)
    files = settings.attachments_per_report * settings.attachment_max_bytes
    return MAX_REQUEST_BYTES + files + framing


def _start_backups(runtime: Runtime) -> BackupScheduler | None:
    """With HRD_BACKUP_DIR set, a thread writes a backup whenever one is due."""
    if runtime.settings.backup_dir is None:
        return None
    scheduler = BackupScheduler(runtime, clock=clock.utc_now)
    scheduler.start()
    return scheduler


_REFUSAL_STATUS: dict[type[ServiceError], int] = {
    Invalid: 400,
    AuthenticationFailed: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    # Stored data failed its check: not the client's doing, and nothing to retry.
    DataIntegrityError: 500,
}

# The words of a page that refuses a request the framework itself turned away (no route, a
# form with a field missing, a body too large, a busy database), by status.
_STATUS_NOTICES = {
    400: N_("this request is not valid; go back and try again"),
    404: N_("there is no page at this address"),
    405: N_("this page cannot be used that way"),
    409: N_("someone changed the same records at the same moment; try again"),
    413: N_("the request is too large"),
    422: N_("the form was not complete or not valid; go back, reload the page and try again"),
    503: N_("the server is busy; please try again in a moment"),
}
_BUSY_HEADERS = {"Retry-After": "5"}


def _status_of(exc: Exception) -> int:
    return next((code for kind, code in _REFUSAL_STATUS.items() if isinstance(exc, kind)), 400)


def _is_api(request: Request) -> bool:
    """Whether the request is for the JSON API (whose answers are JSON); every other route
    answers with pages, refusals included: never raw JSON in front of a person."""
    return request.url.path.startswith(f"{reporter_api.PREFIX}/")


def _refusal_page(
    pages: Pages,
    request: Request,
    notice: Notice,
    status: int,
    headers: dict[str, str] | None = None,
) -> Response:
    """A refusal as a page: the dashboard's own, or the reporter side's."""
    if request.url.path.startswith("/dashboard"):
        me = getattr(request.state, "signed_in", None)
        return pages.render(
            request,
            "dashboard/message.html",
            {"message": notice, "me": me},
            status_code=status,
            headers=headers,
        )
    return pages.render(
        request, "error.html", {"message": notice}, status_code=status, headers=headers
    )


def _too_large_page(pages: Pages, scope: Scope) -> Response | None:
    """The body size bound's 413 as a page, but on the JSON API (see BodySizeLimit)."""
    request = Request(scope)
    if _is_api(request):
        return None
    return _refusal_page(pages, request, Notice(_STATUS_NOTICES[413]), 413)


def _unavailable_page(pages: Pages, scope: Scope) -> Response | None:
    """The intake guard's 503 as a reporter's page in their language, but on the JSON API."""
    request = Request(scope)
    if _is_api(request):
        return None
    return _refusal_page(
        pages,
        request,
        Notice(intake_guard.UNAVAILABLE),
        503,
        {"Retry-After": str(intake_guard.RETRY_AFTER_SECONDS)},
    )


def _add_refusal_handlers(app: FastAPI) -> None:
    """Refusals as JSON on the API and as pages everywhere else; a refusal by role,
    assignment or form token is audited, with the signed-in person's name when known."""
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

    async def audited(request: Request, reason: str) -> None:
        # The audit entry is a database write: in a worker thread, never on the event loop.
        await run_in_threadpool(record_refusal, request, reason)

    def refusal(
        request: Request,
        notice: Notice,
        status: int,
        *,
        json_detail: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        if _is_api(request):
            detail = json_detail if json_detail is not None else notice.template % notice.params
            return JSONResponse({"detail": detail}, status_code=status, headers=headers)
        return _refusal_page(pages, request, notice, status, headers)

    def by_status(status: int) -> Notice:
        return Notice(_STATUS_NOTICES.get(status, _STATUS_NOTICES[400]))

    async def http_refusal(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 400
        detail = exc.detail if isinstance(exc, StarletteHTTPException) else None
        headers = getattr(exc, "headers", None)
        return refusal(
            request,
            by_status(status),
            status,
            json_detail=detail,
            headers=dict(headers) if headers else None,
        )

    async def collided(request: Request, _exc: Exception) -> Response:
        # Two requests changed the same rows at once; the one that lost changed nothing.
        return refusal(request, by_status(409), 409)

    async def invalid_request(request: Request, exc: Exception) -> Response:
        # Where and what, never the submitted value: it may be a report's words.
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        detail = [
            {"loc": [str(part) for part in error["loc"]], "msg": error["msg"]} for error in errors
        ]
        return refusal(request, by_status(422), 422, json_detail=detail)

    async def busy(request: Request, _exc: Exception) -> Response:
        return refusal(request, by_status(503), 503, headers=_BUSY_HEADERS)

    async def sign_in_required(request: Request, _exc: Exception) -> Response:
        return RedirectResponse(request.url_for("dashboard_login_form").path, status_code=303)

    async def not_allowed(request: Request, _exc: Exception) -> Response:
        await audited(request, "role")
        return refusal(request, Notice(N_("your role does not give access to this page")), 403)

    async def form_token_invalid(request: Request, _exc: Exception) -> Response:
        await audited(request, "form token")
        return refusal(
            request,
            Notice(N_("this form has expired; go back, reload the page and try again")),
            403,
        )

    async def refused(request: Request, exc: Exception) -> Response:
        """A refusal raised by a service: its 4xx with the service's one-line message."""
        if not isinstance(exc, ServiceError):
            raise exc
        if isinstance(exc, Forbidden) and request.url.path.startswith("/dashboard"):
            await audited(request, exc.message)
        detail: Any = exc.message
        if exc.code is not None:
            detail = {"code": exc.code, "message": exc.message}
        return refusal(request, Notice.of(exc), _status_of(exc), json_detail=detail)

    app.add_exception_handler(StarletteHTTPException, http_refusal)
    app.add_exception_handler(DatabaseBusy, busy)
    # Every pooled connection stayed in use past the pool's timeout: busy too, not a crash.
    app.add_exception_handler(PoolTimeout, busy)
    app.add_exception_handler(IntegrityError, collided)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(NotAllowed, not_allowed)
    app.add_exception_handler(FormTokenInvalid, form_token_invalid)
    app.add_exception_handler(ServiceError, refused)


def app_from_environment() -> FastAPI:
    """Uvicorn's factory: each worker reads ``HRD_*`` once, at its start."""
    return create_app(Settings())
