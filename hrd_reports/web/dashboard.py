"""The case workers' dashboard: signing in and out, invitations, the report list and page.

Thin: each route parses its form, calls a service, commits once and renders or redirects
(post/redirect/get, so a reload never repeats an action).
"""

import datetime as dt
from typing import Annotated, Any
from uuid import UUID

import segno
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hrd_reports import content, received
from hrd_reports.crypto import totp
from hrd_reports.crypto.messages import MAX_MESSAGE_BYTES
from hrd_reports.crypto.sessions import SessionToken, csrf_matches
from hrd_reports.db import checkpoint_deleted, unit_of_work
from hrd_reports.i18n import N_
from hrd_reports.models import Priority, ReportStatus, RiskLevel, Role
from hrd_reports.services import (
    accounts,
    assignment,
    casework,
    conversation,
    listing,
    sessions,
    users,
    withdrawal,
)
from hrd_reports.services.errors import AuthenticationFailed, Invalid, ServiceError
from hrd_reports.web.auth import (
    LOGIN_COOKIE_PLAIN,
    SESSION_COOKIE_PLAIN,
    CurrentUser,
    authorise,
    delete_cookie,
    login_cookie_name,
    login_token_for,
    new_login_nonce,
    session_limits,
    set_cookie,
)
from hrd_reports.web.deps import DbSession, PagesDep, ReadSession, RuntimeDep
from hrd_reports.web.pages import Notice
from hrd_reports.wiring import Runtime

router = APIRouter(prefix="/dashboard", dependencies=[Depends(authorise)])

Text = Annotated[str, Form(max_length=200)]
LongText = Annotated[str, Form(max_length=casework.MAX_NOTE_LENGTH)]
Password = Annotated[str, Form(max_length=users.MAX_PASSWORD_LENGTH)]

_FORM_EXPIRED = N_("this form has expired; please try again")
_BUSY = N_("many people are signing in at once; please try again in a moment")
_ENROLLED = N_("your account is ready; a coordinator will vet it before you can read reports")
_PASSWORDS_DIFFER = N_("the two passwords differ")


def _see_other(request: Request, route: str, **params: Any) -> RedirectResponse:
    return RedirectResponse(request.url_for(route, **params).path, status_code=303)


def _throttle(runtime: Runtime) -> accounts.Throttle:
    return accounts.Throttle(
        max_failures=runtime.settings.login_max_failures,
        lockout=dt.timedelta(minutes=runtime.settings.login_lockout_minutes),
    )


# ---- signing in and out -------------------------------------------------------------------


def _login_page(
    request: Request,
    pages: PagesDep,
    *,
    name: str = "",
    problem: Notice | None = None,
    status: int = 200,
) -> HTMLResponse:
    nonce = new_login_nonce()
    response = pages.render(
        request,
        "dashboard/login.html",
        {"name": name, "problem": problem, "form_token": login_token_for(request, nonce)},
        status_code=status,
    )
    set_cookie(response, request, LOGIN_COOKIE_PLAIN, nonce, max_age=1800)
    return response


@router.get("/login", response_class=HTMLResponse, name="dashboard_login_form")
def login_form(request: Request, pages: PagesDep) -> HTMLResponse:
    return _login_page(request, pages)


@router.post("/login", response_class=HTMLResponse, name="dashboard_login")
async def login(
    request: Request,
    runtime: RuntimeDep,
    pages: PagesDep,
    name: Text,
    password: Password,
    code: Annotated[str, Form(max_length=12)],
    form_token: Annotated[str, Form(max_length=64)],
) -> Response:
    # Sign-in forgery: the form token must match the cookie set with this very form.
    nonce = request.cookies.get(login_cookie_name(request), "")
    if not nonce or not csrf_matches(login_token_for(request, nonce), form_token):
        return _login_page(request, pages, name=name, problem=Notice(_FORM_EXPIRED), status=403)
    # Waiting for an Argon2 slot holds no thread; the check itself (Argon2) runs in one, in a
    # read-only unit of work, and the slot is free again before the write that decides.
    async with request.app.state.argon2_slots.held() as slot:
        if not slot:
            return _login_page(request, pages, name=name, problem=Notice(_BUSY), status=429)
        check = await run_in_threadpool(_check_sign_in, runtime, name.strip(), password, code)
    try:
        token = await run_in_threadpool(_record_sign_in, runtime, check)
    except AuthenticationFailed as exc:
        return _login_page(request, pages, name=name, problem=Notice.of(exc), status=401)
    response = _see_other(request, "dashboard_home")
    set_cookie(
        response,
        request,
        SESSION_COOKIE_PLAIN,
        token.cookie_value(secret=runtime.secrets.session),
    )
    delete_cookie(response, request, LOGIN_COOKIE_PLAIN)
    return response


def _check_sign_in(
    runtime: Runtime, name: str, password: str, code: str
) -> accounts.SignInCheck | AuthenticationFailed:
    with unit_of_work(runtime.read_sessions) as session:
        try:
            return accounts.check_sign_in(
                session,
                name=name,
                password=password,
                code=code,
                passwords=runtime.passwords,
                secrets=runtime.secrets,
            )
        except AuthenticationFailed as exc:
            return exc


def _record_sign_in(
    runtime: Runtime, check: accounts.SignInCheck | AuthenticationFailed
) -> SessionToken:
    """The sign-in decided and, if it succeeds, a session opened: one unit of work."""
    if isinstance(check, AuthenticationFailed):
        raise check
    with unit_of_work(runtime.sessions) as session:
        try:
            unlocked = accounts.record_sign_in(
                session, check=check, throttle=_throttle(runtime), secrets=runtime.secrets
            )
        except AuthenticationFailed:
            # The failure count and the audit entry are kept: guessing must cost the guesser.
            session.commit()
            raise
        token = sessions.open_session(
            session, unlocked=unlocked, limits=session_limits(runtime.settings)
        )
        session.commit()
    return token


@router.post("/logout", name="dashboard_logout")
def logout(request: Request, session: DbSession, me: CurrentUser) -> Response:
    sessions.close(session, token=me.token)
    session.commit()
    request.app.state.ended_sessions.add(me.token)
    response = _see_other(request, "dashboard_login_form")
    delete_cookie(response, request, SESSION_COOKIE_PLAIN)
    # The browser forgets this origin's cookies, storage and cached pages.
    response.headers["Clear-Site-Data"] = '"cache", "cookies", "storage"'
    return response


# ---- invitations --------------------------------------------------------------------------


def _invitation_page(
    request: Request,
    pages: PagesDep,
    *,
    token: str,
    invitation: Any,
    secret: bytes,
    problem: Notice | None = None,
    status: int = 200,
) -> HTMLResponse:
    uri = totp.provisioning_uri(secret, account=invitation.name, issuer=accounts.ISSUER)
    return pages.render(
        request,
        "dashboard/invitation.html",
        {
            "token": token,
            "invitation": invitation,
            "new_account": invitation.user_id is None,
            "secret_text": totp.secret_text(secret),
            # Drawn on the server as an image: the secret never goes to a QR code service.
            "qr_data_uri": segno.make(uri, error="m").svg_data_uri(scale=4),
            "problem": problem,
        },
        status_code=status,
    )


@router.get("/invitation/{token}", response_class=HTMLResponse, name="dashboard_invitation_form")
def invitation_form(
    token: str, request: Request, session: ReadSession, pages: PagesDep
) -> HTMLResponse:
    try:
        invitation = accounts.pending_invitation(session, token=token)
    except ServiceError as exc:
        return _invitation_invalid(request, pages, exc)
    return _invitation_page(
        request, pages, token=token, invitation=invitation, secret=totp.new_secret()
    )


def _invitation_invalid(request: Request, pages: PagesDep, exc: ServiceError) -> HTMLResponse:
    return pages.render(
        request, "dashboard/message.html", {"message": Notice.of(exc)}, status_code=404
    )


def _pending_invitation(runtime: Runtime, token: str) -> Any:
    # Read-only: a made-up link is refused without waiting for the writer lock.
    with unit_of_work(runtime.read_sessions) as session:
        return accounts.pending_invitation(session, token=token)


def _accept_invitation(
    runtime: Runtime, token: str, password: str, secret: bytes, code: str
) -> Any:
    """The account enrolled (and created, for a new person), or the refusal; one unit of work."""
    with unit_of_work(runtime.sessions) as session:
        try:
            user = accounts.accept_invitation(
                session,
                token=token,
                password=password,
                totp_secret=secret,
                code=code,
                passwords=runtime.passwords,
                secrets=runtime.secrets,
                throttle=_throttle(runtime),
            )
        except AuthenticationFailed:
            # The failure count and the audit entry are kept, as at sign-in.
            session.commit()
            raise
        session.commit()
        return user


@router.post("/invitation/{token}", response_class=HTMLResponse, name="dashboard_invitation_accept")
async def invitation_accept(
    token: str,
    request: Request,
    runtime: RuntimeDep,
    pages: PagesDep,
    password: Password,
    totp_secret: Annotated[str, Form(max_length=64)],
    code: Annotated[str, Form(max_length=12)],
    # Only a new person chooses a password (and types it twice); an existing account's form
    # asks for its current password once.
    password_again: Password = "",
) -> Response:
    try:
        invitation = await run_in_threadpool(_pending_invitation, runtime, token)
    except ServiceError as exc:
        return _invitation_invalid(request, pages, exc)
    secret = totp.parse_secret_text(totp_secret)
    if secret is None:
        return pages.render(
            request, "dashboard/message.html", {"message": Notice(_FORM_EXPIRED)}, status_code=400
        )
    problem: Notice | None = None
    if invitation.user_id is None and password != password_again:
        problem = Notice(_PASSWORDS_DIFFER)
    else:
        async with request.app.state.argon2_slots.held() as slot:
            if not slot:
                problem = Notice(_BUSY)
            else:
                try:
                    await run_in_threadpool(
                        _accept_invitation, runtime, token, password, secret, code
                    )
                except ServiceError as exc:
                    problem = Notice.of(exc)
    if problem is not None:
        try:
            invitation = await run_in_threadpool(_pending_invitation, runtime, token)
        except ServiceError as exc:
            return _invitation_invalid(request, pages, exc)
        return _invitation_page(
            request,
            pages,
            token=token,
            invitation=invitation,
            secret=secret,
            problem=problem,
            status=400,
        )
    return pages.render(
        request, "dashboard/message.html", {"message": Notice(_ENROLLED), "sign_in": True}
    )


# ---- reports ------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse, name="dashboard_home")
def home(request: Request, me: CurrentUser) -> Response:
    if me.role == Role.AUDITOR:
        return _see_other(request, "dashboard_stats")
    if me.role == Role.ADMIN and not me.unlocked.user.vetted:
        return _see_other(request, "dashboard_users")
    return _see_other(request, "dashboard_reports")


def _optional_enum(kind: Any, value: str) -> Any:
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        raise Invalid(N_("unknown value %(value)r"), value=value) from None


def _date(value: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Invalid(N_("%(value)r is not a date (YYYY-MM-DD)"), value=value) from None


@router.get("/reports", response_class=HTMLResponse, name="dashboard_reports")
def report_list(
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
    pages: PagesDep,
    me: CurrentUser,
    status: Annotated[str, Query(max_length=32)] = "",
    priority: Annotated[str, Query(max_length=8)] = "",
    incident_type: Annotated[str, Query(max_length=64)] = "",
    governorate: Annotated[str, Query(max_length=64)] = "",
    assignee: Annotated[str, Query(max_length=64)] = "",
    received_from: Annotated[str, Query(max_length=10)] = "",
    received_to: Annotated[str, Query(max_length=10)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    form: Annotated[str, Query(max_length=8)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    try:
        filters = listing.ReportFilter(
            status=_optional_enum(ReportStatus, status),
            priority=_optional_enum(Priority, priority),
            assignee=assignee or None,
            received_from=_date(received_from),
            received_to=_date(received_to),
            off_form=form == "off",
            incident_type=incident_type
            if incident_type in content.codes(content.INCIDENT_TYPES)
            else None,
            governorate=governorate if governorate in content.codes(content.GOVERNORATES) else None,
            text=q.strip() or None,
        )
    except ServiceError as exc:
        return pages.render(
            request,
            "dashboard/message.html",
            {"message": Notice.of(exc), "me": me},
            status_code=400,
        )
    listed = listing.list_page(
        session, reader=me.unlocked, filters=filters, page=page, secrets=runtime.secrets
    )
    session.commit()
    params = {
        key: value
        for key, value in {
            "status": status,
            "priority": priority,
            "incident_type": incident_type,
            "governorate": governorate,
            "assignee": assignee,
            "received_from": received_from,
            "received_to": received_to,
            "q": q,
            "form": "off" if form == "off" else "",
        }.items()
        if value
    }
    return pages.render(
        request,
        "dashboard/reports.html",
        {"me": me, "listing": listed, "params": params, **_choices()},
    )


def _choices() -> dict[str, Any]:
    return {
        "statuses": [status.value for status in ReportStatus],
        "priorities": [priority.value for priority in Priority],
        "risks": [risk.value for risk in RiskLevel],
        "incident_types": content.INCIDENT_TYPES,
        "governorates": content.GOVERNORATES,
        "labels": content.all_labels(),
        "shape_problems": received.SHAPE_PROBLEMS,
    }


@router.get("/reports/{report_id}", response_class=HTMLResponse, name="dashboard_report")
def report_page(
    report_id: UUID,
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
    pages: PagesDep,
    me: CurrentUser,
) -> HTMLResponse:
    # A refusal (not assigned, no key) is audited as access.refused by the app's handler.
    detail = casework.show(
        session, reader=me.unlocked, report_id=report_id, secrets=runtime.secrets
    )
    session.commit()
    assignable = []
    if me.role in {Role.ADMIN, Role.COORDINATOR}:
        assignable = [
            user.name
            for user in users.list_users(session)
            if user.vetted and not user.disabled and user.role in assignment.ASSIGNABLE_ROLES
        ]
    return pages.render(
        request,
        "dashboard/report.html",
        {"me": me, "detail": detail, "assignable": assignable, **_choices()},
    )


@router.post("/reports/{report_id}/workflow", name="dashboard_report_workflow")
def report_workflow(
    report_id: UUID,
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
    me: CurrentUser,
    status: Annotated[str, Form(max_length=32)] = "",
    # Absent (a case worker's form has no priority) keeps it; empty clears it.
    priority: Annotated[str | None, Form(max_length=8)] = None,
    risk: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    casework.update_workflow(
        session,
        reader=me.unlocked,
        report_id=report_id,
        status=_optional_enum(ReportStatus, status),
        priority=casework.KEEP if priority is None else _optional_enum(Priority, priority),
        risk=_optional_enum(RiskLevel, risk),
        secrets=runtime.secrets,
    )
    session.commit()
    return _see_other(request, "dashboard_report", report_id=report_id)


@router.post("/reports/{report_id}/notes", name="dashboard_report_note")
def report_note(
    report_id: UUID,
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
    me: CurrentUser,
    note: LongText,
) -> Response:
    casework.add_note(
        session, reader=me.unlocked, report_id=report_id, text=note, secrets=runtime.secrets
    )
    session.commit()
    return _see_other(request, "dashboard_report", report_id=report_id)


@router.post("/reports/{report_id}/reply", name="dashboard_report_reply")
def report_reply(
    report_id: UUID,
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
    me: CurrentUser,
    reply: Annotated[str, Form(max_length=MAX_MESSAGE_BYTES)],
) -> Response:
    conversation.reply(
        session, reader=me.unlocked, report_id=report_id, text=reply, secrets=runtime.secrets
    )
    session.commit()
    return _see_other(request, "dashboard_report", report_id=report_id)


@router.post("/reports/{report_id}/tags", name="dashboard_report_tags")
def report_tags(
    report_id: UUID,
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
    me: CurrentUser,
    tags: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    casework.set_tags(
        session,
        reader=me.unlocked,
        report_id=report_id,
        tags=casework.clean_tags(tags),
        secrets=runtime.secrets,
    )
    session.commit()
    return _see_other(request, "dashboard_report", report_id=report_id)


@router.post("/reports/{report_id}/links", name="dashboard_report_link")
def report_link(
    report_id: UUID,
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
    me: CurrentUser,
    other: Annotated[str, Form(max_length=36)],
) -> Response:
    casework.link_reports(
        session,
        reader=me.unlocked,
        report_id=report_id,
        other_id=other.strip(),
        secrets=runtime.secrets,
    )
    session.commit()
    return _see_other(request, "dashboard_report", report_id=report_id)


@router.post("/reports/{report_id}/assign", name="dashboard_report_assign")
def report_assign(
    report_id: UUID,
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
    me: CurrentUser,
    assignee: Text,
) -> Response:
    assignment.assign_report(
        session,
        keyholder=me.unlocked,
        report_id=report_id,
        assignee_name=assignee,
        secrets=runtime.secrets,
    )
    session.commit()
    return _see_other(request, "dashboard_report", report_id=report_id)


@router.post("/reports/{report_id}/unassign", name="dashboard_report_unassign")
def report_unassign(
    report_id: UUID, request: Request, session: DbSession, runtime: RuntimeDep, me: CurrentUser
) -> Response:
    assignment.unassign(
        session, keyholder=me.unlocked, report_id=report_id, secrets=runtime.secrets
    )
    session.commit()
    return _see_other(request, "dashboard_report", report_id=report_id)


@router.post("/reports/{report_id}/destroy", name="dashboard_report_destroy")
def report_destroy(
    report_id: UUID,
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
    me: CurrentUser,
    # Optional here, so that a form without them gets the service's page, not a 422.
    reason: Annotated[str, Form(max_length=4 * withdrawal.MAX_DESTRUCTION_REASON_LENGTH)] = "",
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    if confirm != "yes":
        raise Invalid(N_("tick the box to confirm that the report is to be destroyed"))
    withdrawal.destroy_by_desk(
        session, keyholder=me.unlocked, report_id=report_id, reason=reason, secrets=runtime.secrets
    )
    session.commit()
    checkpoint_deleted(runtime.engine)
    return _see_other(request, "dashboard_reports")
