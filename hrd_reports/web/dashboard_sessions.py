"""A person's open dashboard sessions: the kind of device, the day it started, how long ago
it was last used (coarse: nothing more is kept), and a button to end each one, this one
included (a sign-out)."""

from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from hrd_reports.models import User
from hrd_reports.services import sessions
from hrd_reports.services.errors import NotFound
from hrd_reports.web.auth import (
    SESSION_COOKIE_PLAIN,
    CurrentUser,
    SignedIn,
    authorise,
    delete_cookie,
    session_limits,
)
from hrd_reports.web.deps import DbSession, PagesDep, ReadSession, RuntimeDep
from hrd_reports.web.pages import Notice, see_done, see_other_in_language
from hrd_reports.wiring import Runtime

router = APIRouter(prefix="/dashboard", dependencies=[Depends(authorise)])


def _page(
    request: Request,
    pages: PagesDep,
    me: SignedIn,
    listed: list[sessions.OpenSession],
    *,
    problem: Notice | None = None,
    status: int = 200,
) -> HTMLResponse:
    return pages.render(
        request,
        "dashboard/sessions.html",
        {"me": me, "sessions": listed, "problem": problem},
        status_code=status,
    )


def _listed(runtime: Runtime, session: Session, me: SignedIn) -> list[sessions.OpenSession]:
    user = session.get(User, me.unlocked.user.id)
    if user is None:
        return []
    return sessions.open_sessions(
        session, user=user, limits=session_limits(runtime.settings), current=me.token
    )


@router.get("/sessions", response_class=HTMLResponse, name="dashboard_sessions")
def sessions_page(
    request: Request, runtime: RuntimeDep, session: ReadSession, pages: PagesDep, me: CurrentUser
) -> HTMLResponse:
    return _page(request, pages, me, _listed(runtime, session, me))


@router.post("/sessions/{session_id}/end", name="dashboard_session_end")
def session_end(
    session_id: UUID,
    request: Request,
    runtime: RuntimeDep,
    session: DbSession,
    pages: PagesDep,
    me: CurrentUser,
) -> Response:
    user = session.get(User, me.unlocked.user.id)
    if user is None:
        return see_other_in_language(request, "dashboard_login_form")
    try:
        current = sessions.end(
            session, user=user, session_id=session_id, current=me.token, secrets=runtime.secrets
        )
    except NotFound as exc:
        session.rollback()
        return _page(
            request, pages, me, _listed(runtime, session, me), problem=Notice.of(exc), status=404
        )
    session.commit()
    if current:
        # This browser's own session: a sign-out, as the button in the header does.
        request.app.state.ended_sessions.add(me.token)
        response = see_other_in_language(request, "dashboard_login_form")
        delete_cookie(response, request, SESSION_COOKIE_PLAIN)
        response.headers["Clear-Site-Data"] = '"cache", "cookies", "storage"'
        return response
    return see_done(request, "dashboard_sessions", done="session_ended")
