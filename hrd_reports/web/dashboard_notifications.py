"""The dashboard's e-mail notifications: each person's own choice, and, for administrators,
how the desk's mail is going."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from hrd_reports.i18n import N_
from hrd_reports.models import NotifyChoice, User
from hrd_reports.services import notification_choice, notification_status
from hrd_reports.services.errors import Invalid
from hrd_reports.web.auth import CurrentUser, SignedIn, SignInRequired, authorise
from hrd_reports.web.deps import DbSession, PagesDep, ReadSession, RuntimeDep
from hrd_reports.web.pages import choose_locale

router = APIRouter(prefix="/dashboard", dependencies=[Depends(authorise)])


def _fresh(session: Session, me: SignedIn) -> User:
    """The signed-in person as the database has them now (vetting or role may have changed
    since the session was resumed)."""
    user = session.get(User, me.unlocked.user.id)
    if user is None:
        raise SignInRequired
    return user


def _mail_on(request: Request) -> bool:
    return request.app.state.notifier is not None


@router.get("/notifications", response_class=HTMLResponse, name="dashboard_notifications")
def notifications_form(
    request: Request,
    session: ReadSession,
    runtime: RuntimeDep,
    pages: PagesDep,
    me: CurrentUser,
    saved: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    user = _fresh(session, me)
    return pages.render(
        request,
        "dashboard/notifications.html",
        {
            "me": me,
            "chosen": notification_choice.get_choice(session, user=user, secrets=runtime.secrets),
            "choices": [choice.value for choice in NotifyChoice],
            "mail_on": _mail_on(request),
            "saved": saved,
        },
    )


@router.post("/notifications", name="dashboard_notifications_save")
def notifications_save(
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
    me: CurrentUser,
    choice: Annotated[str, Form(max_length=32)],
    address: Annotated[str, Form(max_length=notification_choice.MAX_ADDRESS_LENGTH * 2)] = "",
) -> Response:
    if choice not in {c.value for c in NotifyChoice}:
        raise Invalid(N_("choose one of the notification choices"))
    user = _fresh(session, me)
    locale = choose_locale(request)
    notification_choice.set_choice(
        session,
        user=user,
        choice=NotifyChoice(choice),
        address=address,
        locale=locale,
        secrets=runtime.secrets,
    )
    session.commit()
    # Post/redirect/get, with the confirmation on the page it lands on.
    path = request.url_for("dashboard_notifications").path
    return RedirectResponse(f"{path}?saved=true&lang={locale}", status_code=303)


@router.get(
    "/notifications/status", response_class=HTMLResponse, name="dashboard_notification_status"
)
def notification_state(
    request: Request, session: ReadSession, pages: PagesDep, runtime: RuntimeDep, me: CurrentUser
) -> HTMLResponse:
    server = runtime.settings.smtp_server
    return pages.render(
        request,
        "dashboard/notification_status.html",
        {
            "me": me,
            "mail_on": _mail_on(request),
            "server": str(server) if server is not None else None,
            "state": notification_status.status(session),
        },
    )
