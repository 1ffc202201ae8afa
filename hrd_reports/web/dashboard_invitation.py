"""The invitation links where a person chooses a password (a new account) and enrols a second
factor, and the page they land on, signed in, afterwards.

Thin: each route parses its form, calls a service in a worker thread, commits once and
renders or redirects.
"""

from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from hrd_reports.crypto import totp
from hrd_reports.crypto.sessions import SessionToken
from hrd_reports.db import unit_of_work
from hrd_reports.i18n import N_
from hrd_reports.models import DeviceKind
from hrd_reports.services import accounts, sessions, users
from hrd_reports.services.errors import AuthenticationFailed, ServiceError
from hrd_reports.web.auth import (
    SESSION_COOKIE_PLAIN,
    CurrentUser,
    authorise,
    login_throttle,
    session_limits,
    set_cookie,
)
from hrd_reports.web.deps import PagesDep, ReadSession, RuntimeDep
from hrd_reports.web.devices import device_of
from hrd_reports.web.pages import Notice, see_other_in_language
from hrd_reports.wiring import Runtime

router = APIRouter(prefix="/dashboard", dependencies=[Depends(authorise)])

Password = Annotated[str, Form(max_length=users.MAX_PASSWORD_LENGTH)]


_FORM_EXPIRED = N_("this form has expired; please try again")


_BUSY = N_("many people are signing in at once; please try again in a moment")


_PASSWORDS_DIFFER = N_("the two passwords differ")


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
    runtime: Runtime, token: str, password: str, secret: bytes, code: str, device: DeviceKind
) -> SessionToken:
    """The account enrolled (and created, for a new person) and signed in, or the refusal;
    one unit of work.

    Signing in here, with the key the password has just opened, spares the person a second
    sign-in with the code the enrolment has just spent (each code works once).
    """
    with unit_of_work(runtime.sessions) as session:
        try:
            unlocked = accounts.accept_invitation(
                session,
                token=token,
                password=password,
                totp_secret=secret,
                code=code,
                passwords=runtime.passwords,
                secrets=runtime.secrets,
                throttle=login_throttle(runtime.settings),
            )
        except AuthenticationFailed:
            # The failure count and the audit entry are kept, as at sign-in.
            session.commit()
            raise
        opened = sessions.open_session(
            session, unlocked=unlocked, limits=session_limits(runtime.settings), device=device
        )
        session.commit()
    return opened


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
    signed_in: SessionToken | None = None
    if invitation.user_id is None and password != password_again:
        problem = Notice(_PASSWORDS_DIFFER)
    else:
        async with request.app.state.argon2_slots.held() as slot:
            if not slot:
                problem = Notice(_BUSY)
            else:
                try:
                    signed_in = await run_in_threadpool(
                        _accept_invitation,
                        runtime,
                        token,
                        password,
                        secret,
                        code,
                        device_of(request),
                    )
                except ServiceError as exc:
                    problem = Notice.of(exc)
    if signed_in is None:
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
    response = see_other_in_language(request, "dashboard_welcome")
    set_cookie(
        response,
        request,
        SESSION_COOKIE_PLAIN,
        signed_in.cookie_value(secret=runtime.secrets.session),
    )
    return response


@router.get("/welcome", response_class=HTMLResponse, name="dashboard_welcome")
def welcome(request: Request, pages: PagesDep, me: CurrentUser) -> HTMLResponse:
    """Where a person lands after enrolling: what their account can do now, and what next."""
    return pages.render(request, "dashboard/welcome.html", {"me": me})
