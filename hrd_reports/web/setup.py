"""The one-time setup link that ``hrd-reports serve`` prints on a fresh desk.

The link's token is the only credential: it is printed on the server's console, kept as a
hash, and stops working once the desk is set up. The recovery key is shown on the answer
page once and exists nowhere else afterwards.
"""

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from hrd_reports.i18n import N_
from hrd_reports.services import accounts, desk, users
from hrd_reports.services.errors import Invalid, NotFound, ServiceError
from hrd_reports.web.deps import DbSession, PagesDep, ReadSession, RuntimeDep
from hrd_reports.web.pages import Notice, see_other_in_language

router = APIRouter()


@router.post("/setup/continue", name="setup_continue")
def setup_continue(
    request: Request,
    session: ReadSession,
    pages: PagesDep,
    invitation: Annotated[str, Form(max_length=128)],
    saved: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """From the recovery key to enrolling the authenticator app, once the key is saved.

    Declared before ``/setup/{token}``, which would otherwise take "continue" for a token.

    Without the tick the page asks again, with the same form: going back would re-send the
    set-up form, which is spent, and the key could not be shown again.
    """
    try:
        accounts.pending_invitation(session, token=invitation)
    except NotFound as exc:
        return pages.render(
            request, "setup_invalid.html", {"problem": Notice.of(exc)}, status_code=404
        )
    if saved != "yes":
        return pages.render(
            request, "setup_confirm.html", {"invitation": invitation}, status_code=400
        )
    return see_other_in_language(request, "dashboard_invitation_form", token=invitation)


@router.get("/setup/{token}", response_class=HTMLResponse)
def setup_form(token: str, request: Request, session: ReadSession, pages: PagesDep) -> HTMLResponse:
    try:
        desk.check_setup_link(session, token=token)
    except NotFound as exc:
        return pages.render(
            request, "setup_invalid.html", {"problem": Notice.of(exc)}, status_code=404
        )
    return pages.render(request, "setup.html", {"token": token, "name": ""})


@router.post("/setup/{token}", response_class=HTMLResponse)
def setup_submit(
    token: str,
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
    pages: PagesDep,
    admin_name: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=users.MAX_PASSWORD_LENGTH)],
    password_again: Annotated[str, Form(max_length=users.MAX_PASSWORD_LENGTH)],
) -> HTMLResponse:
    try:
        desk.check_setup_link(session, token=token, lock=True)
    except NotFound as exc:
        return pages.render(
            request, "setup_invalid.html", {"problem": Notice.of(exc)}, status_code=404
        )
    try:
        if password != password_again:
            raise Invalid(N_("the two passwords differ"))
        setup = desk.set_up_desk(
            session,
            admin_name=admin_name,
            admin_password=password,
            passwords=runtime.passwords,
            secrets=runtime.secrets,
        )
        # The administrator enrols the authenticator app on the next page, through the same
        # one-time link an invited person gets: no command line to reach the dashboard.
        enrolment = accounts.invite(
            session,
            name=setup.admin_name,
            role=None,
            actor="setup",
            valid_for=dt.timedelta(hours=runtime.settings.invitation_hours),
            secrets=runtime.secrets,
        )
        session.commit()
    except ServiceError as exc:
        session.rollback()
        return pages.render(
            request,
            "setup.html",
            {"token": token, "name": admin_name, "problem": Notice.of(exc)},
            status_code=400,
        )
    return pages.render(
        request,
        "setup_done.html",
        {"setup": setup, "invitation": enrolment},
    )
