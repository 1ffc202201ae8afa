"""The retention policy in the dashboard: a key holder puts a report on legal hold or releases
it, on the report's page. What the policy destroys soon is listed on the key holders' Today."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from hrd_reports.services import retention, withdrawal
from hrd_reports.web.auth import CurrentUser, authorise
from hrd_reports.web.deps import DbSession, RuntimeDep
from hrd_reports.web.pages import see_done

router = APIRouter(prefix="/dashboard", dependencies=[Depends(authorise)])

# Optional, so that a form without it gets the service's refusal page, not a 422.
Reason = Annotated[str, Form(max_length=4 * withdrawal.MAX_DESTRUCTION_REASON_LENGTH)]


def _set_hold(
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
    me: CurrentUser,
    report_id: UUID,
    *,
    held: bool,
    reason: str,
) -> Response:
    retention.set_hold(
        session,
        keyholder=me.unlocked,
        report_id=report_id,
        held=held,
        reason=reason,
        secrets=runtime.secrets,
    )
    session.commit()
    return see_done(
        request,
        "dashboard_report",
        report_id=report_id,
        done="held" if held else "released",
        anchor="retention",
    )


@router.post("/reports/{report_id}/hold", name="dashboard_report_hold")
def report_hold(
    report_id: UUID,
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
    me: CurrentUser,
    reason: Reason = "",
) -> Response:
    return _set_hold(request, session, runtime, me, report_id, held=True, reason=reason)


@router.post("/reports/{report_id}/release", name="dashboard_report_release")
def report_release(
    report_id: UUID,
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
    me: CurrentUser,
    reason: Reason = "",
) -> Response:
    return _set_hold(request, session, runtime, me, report_id, held=False, reason=reason)
