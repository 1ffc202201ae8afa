"""``create_app(settings)``: the one place where the web application is put together."""

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp

from hrd_reports import __version__
from hrd_reports.backups.schedule import BackupScheduler
from hrd_reports.crypto.attachments import MAX_CHUNK_BYTES
from hrd_reports.notifier import build_notifier, send_forever
from hrd_reports.resources import resource_dir
from hrd_reports.services import clock
from hrd_reports.services.group_commit import SubmissionCommitter
from hrd_reports.settings import Settings
from hrd_reports.web import (
    dashboard_admin,
    dashboard_exports,
    dashboard_files,
    dashboard_home,
    dashboard_invitation,
    dashboard_notifications,
    dashboard_partners,
    dashboard_password,
    dashboard_referrals,
    dashboard_reports,
    dashboard_retention,
    dashboard_security_keys,
    dashboard_sessions,
    dashboard_signin,
    dashboard_statistics,
    housekeeping,
    intake_guard,
    manifest,
    refusals,
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
)
from hrd_reports.web.deps import ReadSession
from hrd_reports.web.headers import SecurityHeadersMiddleware
from hrd_reports.web.intake_path import IntakePath
from hrd_reports.web.middleware import (
    MAX_REQUEST_BYTES,
    AccessLog,
    BodySizeLimit,
    CutOffAnswer,
    EndedSessions,
    SessionGate,
)
from hrd_reports.web.pages import Pages
from hrd_reports.web.reporter import ServerSealedLimit
from hrd_reports.wiring import Runtime, build_runtime


class _DeskApp(FastAPI):
    """FastAPI, with what must come first outside the framework's own middleware.

    ``outermost`` wraps the whole stack, FastAPI's error handling included: the security
    headers then reach every answer, an unexpected 500 too, and the session gate turns a
    request away with the least work a request can cost (each layer between the server and
    the gate is paid by every request of a flood). A report's two requests are answered
    before all of them (``web.intake_path``).
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
        # Stopped at the end of any earlier lifespan of this app.
        served.state.submission_committer.start()
        background = [asyncio.create_task(chores.run_hourly()), asyncio.create_task(guard.run())]
        if notifier is not None:
            background.append(asyncio.create_task(send_forever(notifier)))
        backups = _start_backups(runtime)
        yield
        if backups is not None:
            await asyncio.to_thread(backups.stop)
        # Submissions already received are stored and answered before the database closes.
        await asyncio.to_thread(served.state.submission_committer.stop)
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
    app.state.served_manifest = manifest.ServedManifest(settings, app.state.pages)
    app.state.server_sealed_limit = ServerSealedLimit(settings.server_sealed_per_minute)
    app.state.argon2_slots = Argon2Slots(settings.argon2_concurrency)
    app.state.ended_sessions = EndedSessions()
    app.state.intake_guard = intake_guard.IntakeGuard(runtime, settings)
    app.state.submission_committer = SubmissionCommitter(runtime)
    # The last added is the outermost, and ``outermost`` (below) comes before all of them: the
    # log sees every request but the dashboard's without a session (see SessionGate).
    app.add_middleware(
        BodySizeLimit,
        page=functools.partial(refusals.too_large_page, app.state.pages),
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
        page=functools.partial(refusals.unavailable_page, app.state.pages),
    )
    app.add_middleware(AccessLog)
    # Static files only are compressed (the bundle shrinks from 65 to 18 KB, for reporters on
    # slow or metered connections). Pages are not: one that shows a receipt, or hands a
    # reporter's own words back, must not leak them through its compressed size (BREACH).
    static_files = StaticFiles(directory=resource_dir("static"))
    app.mount("/static", GZipMiddleware(static_files, minimum_size=512), name="static")
    app.include_router(reporter.router)
    app.include_router(manifest.router)
    app.include_router(reporter_api.router)
    app.include_router(reporter_uploads.router)
    reporter_api.add_openapi_route(app)
    for module in (
        setup,
        dashboard_signin,
        dashboard_invitation,
        dashboard_home,
        dashboard_reports,
        dashboard_retention,
        dashboard_password,
        dashboard_security_keys,
        dashboard_sessions,
        dashboard_files,
        dashboard_exports,
        dashboard_referrals,
        dashboard_admin,
        dashboard_statistics,
        dashboard_partners,
        dashboard_notifications,
    ):
        app.include_router(module.router)
    refusals.add_refusal_handlers(app)
    app.add_middleware(CutOffAnswer)
    app.outermost = [
        # A report's challenge and submission, answered before every other layer, with what
        # those layers would give them (see web.intake_path).
        functools.partial(
            IntakePath,
            runtime=runtime,
            guard=app.state.intake_guard,
            committer=app.state.submission_committer,
            onion_location=settings.onion_location,
            public_https=settings.public_url_is_https,
        ),
        functools.partial(
            SecurityHeadersMiddleware,
            onion_location=settings.onion_location,
            public_https=settings.public_url_is_https,
            pinned_policies=[app.state.pages.reporter_policy],
        ),
        functools.partial(
            SessionGate,
            secret=runtime.secrets.session,
            cookie_names=SESSION_COOKIE_NAMES,
            open_paths=[
                route.path_regex
                for router in (dashboard_signin.router, dashboard_invitation.router)
                for route in router.routes
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


def app_from_environment() -> FastAPI:
    """Uvicorn's factory: each worker reads ``HRD_*`` once, at its start."""
    return create_app(Settings())
