"""Refusals and failures as a person reads them: pages on the dashboard (with its navigation
and the signed-in name) and on the reporter side (with the quick exit), JSON on the API.

A page never shows an exception's text: it may hold a report's words or a path on disk.
"""

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from hrd_reports.db import DatabaseBusy, unit_of_work
from hrd_reports.i18n import N_
from hrd_reports.services import audit
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
from hrd_reports.web import intake_guard
from hrd_reports.web.auth import (
    FormTokenInvalid,
    NotAllowed,
    SignedIn,
    SignInRequired,
    signed_in_for_page,
)
from hrd_reports.web.pages import Notice, Pages
from hrd_reports.web.reporter_schemas import API_PREFIX
from hrd_reports.wiring import Runtime

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
    500: N_(
        "something went wrong on the server, and what you sent may not have been saved; "
        "please try again in a moment"
    ),
    503: N_("the server is busy; please try again in a moment"),
}
# What the JSON API says of a request that crashed: no more than that it failed.
CRASH_DETAIL = _STATUS_NOTICES[500]
_ROLE_REFUSAL = N_("your role does not give access to this page")
_BUSY_HEADERS = {"Retry-After": "5"}


def _status_of(exc: Exception) -> int:
    return next((code for kind, code in _REFUSAL_STATUS.items() if isinstance(exc, kind)), 400)


def api_refusal(exc: Exception) -> tuple[int, Any, dict[str, str] | None] | None:
    """What the JSON API answers for a refusal raised below it (status, ``detail``, headers),
    as the handlers below do; None for a failure, which is not the client's."""
    if isinstance(exc, ServiceError):
        detail: Any = exc.message
        if exc.code is not None:
            detail = {"code": exc.code, "message": exc.message}
        return _status_of(exc), detail, None
    if isinstance(exc, DatabaseBusy | PoolTimeout):
        return 503, _STATUS_NOTICES[503], _BUSY_HEADERS
    if isinstance(exc, IntegrityError):
        return 409, _STATUS_NOTICES[409], None
    return None


def validation_detail(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Where and what, never the submitted value: it may be a report's words."""
    return [{"loc": [str(part) for part in error["loc"]], "msg": error["msg"]} for error in errors]


def _is_api(request: Request) -> bool:
    """Whether the request is for the JSON API (whose answers are JSON); every other route
    answers with pages, refusals included: never raw JSON in front of a person."""
    return request.url.path.startswith(f"{API_PREFIX}/")


def _refusal_page(
    pages: Pages,
    request: Request,
    notice: Notice,
    status: int,
    headers: dict[str, str] | None = None,
    *,
    me: SignedIn | None = None,
) -> Response:
    """A refusal as a page: the dashboard's own, or the reporter side's."""
    if request.url.path.startswith("/dashboard"):
        return pages.render(
            request,
            "dashboard/error.html",
            {"message": notice, "me": me or getattr(request.state, "signed_in", None)},
            status_code=status,
            headers=headers,
        )
    return pages.render(
        request, "error.html", {"message": notice}, status_code=status, headers=headers
    )


def too_large_page(pages: Pages, scope: Scope) -> Response | None:
    """The body size bound's 413 as a page, but on the JSON API (see BodySizeLimit)."""
    request = Request(scope)
    if _is_api(request):
        return None
    return _refusal_page(pages, request, Notice(_STATUS_NOTICES[413]), 413)


def unavailable_page(pages: Pages, scope: Scope) -> Response | None:
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


def add_refusal_handlers(app: FastAPI) -> None:
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

    async def refusal(
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
        # No route's check ran for an address that has no page, or for a crash before it:
        # the signed-in person is looked up here, for the navigation and their name.
        me = None
        if request.url.path.startswith("/dashboard"):
            me = await signed_in_for_page(request)
        return _refusal_page(pages, request, notice, status, headers, me=me)

    def by_status(status: int) -> Notice:
        return Notice(_STATUS_NOTICES.get(status, _STATUS_NOTICES[400]))

    async def http_refusal(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 400
        detail = exc.detail if isinstance(exc, StarletteHTTPException) else None
        headers = getattr(exc, "headers", None)
        return await refusal(
            request,
            by_status(status),
            status,
            json_detail=detail,
            headers=dict(headers) if headers else None,
        )

    async def collided(request: Request, _exc: Exception) -> Response:
        # Two requests changed the same rows at once; the one that lost changed nothing.
        return await refusal(request, by_status(409), 409)

    async def invalid_request(request: Request, exc: Exception) -> Response:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        return await refusal(request, by_status(422), 422, json_detail=validation_detail(errors))

    async def busy(request: Request, _exc: Exception) -> Response:
        return await refusal(request, by_status(503), 503, headers=_BUSY_HEADERS)

    async def sign_in_required(request: Request, _exc: Exception) -> Response:
        return RedirectResponse(request.url_for("dashboard_login_form").path, status_code=303)

    async def not_allowed(request: Request, _exc: Exception) -> Response:
        await audited(request, "role")
        return await refusal(
            request, Notice(N_("your role does not give access to this page")), 403
        )

    async def form_token_invalid(request: Request, _exc: Exception) -> Response:
        await audited(request, "form token")
        return await refusal(
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
        status, detail, _headers = api_refusal(exc) or (400, exc.message, None)
        return await refusal(request, Notice.of(exc), status, json_detail=detail)

    async def crashed(request: Request, _exc: Exception) -> Response:
        # Starlette still raises the exception on to the server, which logs it; the page says
        # only that it failed.
        return await refusal(request, by_status(500), 500)

    handlers: list[tuple[type[Exception], Any]] = [
        (StarletteHTTPException, http_refusal),
        (DatabaseBusy, busy),
        # Every pooled connection stayed in use past the pool's timeout: busy, not a crash.
        (PoolTimeout, busy),
        (IntegrityError, collided),
        (RequestValidationError, invalid_request),
        (SignInRequired, sign_in_required),
        (NotAllowed, not_allowed),
        (FormTokenInvalid, form_token_invalid),
        (ServiceError, refused),
        (Exception, crashed),
    ]
    for kind, handler in handlers:
        app.add_exception_handler(kind, handler)
