"""Where a signed-in person lands: a case worker's day (what is overdue, what reporters wrote,
the reports they hold); every other role is sent to the page their work starts from. Key
holders find their own day (overdue, unread, urgent and nobody's) under "Today"."""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from hrd_reports.models import Role
from hrd_reports.services import retention, worklist
from hrd_reports.services.clock import utc_today
from hrd_reports.web.auth import CurrentUser, authorise
from hrd_reports.web.deps import PagesDep, ReadSession, RuntimeDep
from hrd_reports.web.pages import see_other

router = APIRouter(prefix="/dashboard", dependencies=[Depends(authorise)])


@router.get("", name="dashboard_home")
def home(
    request: Request, session: ReadSession, pages: PagesDep, me: CurrentUser, runtime: RuntimeDep
) -> Response:
    if me.role == Role.AUDITOR:
        return see_other(request, "dashboard_snapshots")
    if me.role == Role.ADMIN and not me.unlocked.user.vetted:
        return see_other(request, "dashboard_users")
    if me.role != Role.CASE_WORKER or not me.unlocked.user.vetted:
        return see_other(request, "dashboard_reports")
    return _today(request, session, pages, me, runtime)


@router.get("/today", name="dashboard_today")
def today(
    request: Request, session: ReadSession, pages: PagesDep, me: CurrentUser, runtime: RuntimeDep
) -> Response:
    return _today(request, session, pages, me, runtime)


def _today(
    request: Request, session: ReadSession, pages: PagesDep, me: CurrentUser, runtime: RuntimeDep
) -> Response:
    work = worklist.worklist(session, reader=me.unlocked, today=utc_today())
    # Key holders decide on legal holds: they see what the policy destroys while it can be held.
    expiring: list[retention.Due] = []
    if me.role in {Role.ADMIN, Role.COORDINATOR} and me.unlocked.user.vetted:
        expiring = retention.due(
            session,
            policy=runtime.settings.retention_days,
            within_days=retention.WARNING_DAYS,
        )
    return pages.render(
        request,
        "dashboard/home.html",
        {"me": me, "work": work, "expiring": expiring, "warning_days": retention.WARNING_DAYS},
    )
