"""Where a signed-in person lands: a case worker's day (what is overdue, what reporters wrote,
the reports they hold); every other role is sent to the page their work starts from. Key
holders find their own day (overdue, unread, urgent and nobody's) under "Today"."""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from hrd_reports.models import Role
from hrd_reports.services import worklist
from hrd_reports.services.clock import utc_today
from hrd_reports.web.auth import CurrentUser, authorise
from hrd_reports.web.deps import PagesDep, ReadSession
from hrd_reports.web.pages import see_other

router = APIRouter(prefix="/dashboard", dependencies=[Depends(authorise)])


@router.get("", name="dashboard_home")
def home(request: Request, session: ReadSession, pages: PagesDep, me: CurrentUser) -> Response:
    if me.role == Role.AUDITOR:
        return see_other(request, "dashboard_stats")
    if me.role == Role.ADMIN and not me.unlocked.user.vetted:
        return see_other(request, "dashboard_users")
    if me.role != Role.CASE_WORKER or not me.unlocked.user.vetted:
        return see_other(request, "dashboard_reports")
    return _today(request, session, pages, me)


@router.get("/today", name="dashboard_today")
def today(request: Request, session: ReadSession, pages: PagesDep, me: CurrentUser) -> Response:
    return _today(request, session, pages, me)


def _today(request: Request, session: ReadSession, pages: PagesDep, me: CurrentUser) -> Response:
    work = worklist.worklist(session, reader=me.unlocked, today=utc_today())
    return pages.render(request, "dashboard/home.html", {"me": me, "work": work})
