"""The dashboard's reports: the list with its filters and search, a report's page, and what
the desk does on it (workflow, notes, reply, tags, links, assignment, destruction).

Thin: each route parses its form, calls a service, commits once and renders or redirects
(post/redirect/get, so a reload never repeats an action).
"""

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from hrd_reports import content, received
from hrd_reports.crypto.messages import MAX_MESSAGE_BYTES
from hrd_reports.db import checkpoint_deleted
from hrd_reports.i18n import N_
from hrd_reports.models import Priority, ReportStatus, RiskLevel, Role
from hrd_reports.services import (
    assignment,
    casework,
    classification,
    conversation,
    linking,
    listing,
    referrals,
    retention,
    users,
    withdrawal,
)
from hrd_reports.services.errors import Invalid, ServiceError
from hrd_reports.web.auth import (
    CurrentUser,
    authorise,
)
from hrd_reports.web.deps import DbSession, PagesDep, RuntimeDep
from hrd_reports.web.pages import Notice, see_done

router = APIRouter(prefix="/dashboard", dependencies=[Depends(authorise)])


Text = Annotated[str, Form(max_length=200)]


LongText = Annotated[str, Form(max_length=casework.MAX_NOTE_LENGTH)]


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


@dataclass(frozen=True)
class ListQuery:
    """The list's filters as its address carries them (the list page, and its CSV export)."""

    status: str = ""
    priority: str = ""
    incident_type: str = ""
    governorate: str = ""
    assignee: str = ""
    received_from: str = ""
    received_to: str = ""
    q: str = ""
    form: str = ""

    def filters(self) -> listing.ReportFilter:
        """The filters to list with; ``Invalid`` names a value that is none of the choices."""
        return listing.ReportFilter(
            status=_optional_enum(ReportStatus, self.status),
            priority=_optional_enum(Priority, self.priority),
            assignee=self.assignee or None,
            received_from=_date(self.received_from),
            received_to=_date(self.received_to),
            off_form=self.form == "off",
            incident_type=self.incident_type
            if self.incident_type in content.codes(content.INCIDENT_TYPES)
            else None,
            governorate=self.governorate
            if self.governorate in content.codes(content.GOVERNORATES)
            else None,
            text=self.q.strip() or None,
        )

    def params(self) -> dict[str, str]:
        """The filters that are set, to carry on in links (a page, the export)."""
        chosen = {**asdict(self), "form": "off" if self.form == "off" else ""}
        return {key: value for key, value in chosen.items() if value}


def list_query(
    status: Annotated[str, Query(max_length=32)] = "",
    priority: Annotated[str, Query(max_length=8)] = "",
    incident_type: Annotated[str, Query(max_length=64)] = "",
    governorate: Annotated[str, Query(max_length=64)] = "",
    assignee: Annotated[str, Query(max_length=64)] = "",
    received_from: Annotated[str, Query(max_length=10)] = "",
    received_to: Annotated[str, Query(max_length=10)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    form: Annotated[str, Query(max_length=8)] = "",
) -> ListQuery:
    return ListQuery(
        status, priority, incident_type, governorate, assignee, received_from, received_to, q, form
    )


ListQueryDep = Annotated[ListQuery, Depends(list_query)]


@router.get("/reports", response_class=HTMLResponse, name="dashboard_reports")
def report_list(
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
    pages: PagesDep,
    me: CurrentUser,
    query: ListQueryDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    # Where the page goes on from, as the previous page's links carry it (sealed; checked by
    # the service, which refuses any other with a 400).
    cursor: Annotated[str, Query(max_length=128)] = "",
) -> HTMLResponse:
    try:
        filters = query.filters()
        position = (
            listing.read_cursor(cursor, reader=me.unlocked, secrets=runtime.secrets)
            if cursor
            else None
        )
    except ServiceError as exc:
        return pages.render(
            request,
            "dashboard/message.html",
            {"message": Notice.of(exc), "me": me},
            status_code=400,
        )
    # The sign-in check's transaction ends here; then new reports are classified a chunk at
    # a time, each committed on its own, so no write transaction lasts through the thousands
    # of decryptions after a bulk arrival and reporters' submissions go on meanwhile.
    session.commit()
    for _ in classification.classify_new(session, reader=me.unlocked, secrets=runtime.secrets):
        session.commit()
    listed = listing.list_page(
        session,
        reader=me.unlocked,
        filters=filters,
        page=page,
        place=position,
        page_size=listing.PAGE_SIZE,
        secrets=runtime.secrets,
    )
    session.commit()
    return pages.render(
        request,
        "dashboard/reports.html",
        {"me": me, "listing": listed, "params": query.params(), **choices()},
    )


def choices() -> dict[str, Any]:
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
    candidates = []
    if detail.view.content is not None:
        candidates = linking.candidates(
            session, reader=me.unlocked, report_id=report_id, secrets=runtime.secrets
        )
    session.commit()
    assignable = []
    kept = None
    if me.role in {Role.ADMIN, Role.COORDINATOR}:
        kept = retention.outlook(
            session, report_id=report_id, policy=runtime.settings.retention_days
        )
        assignable = [
            user.name
            for user in users.list_users(session)
            if user.vetted and not user.disabled and user.role in assignment.ASSIGNABLE_ROLES
        ]
    return pages.render(
        request,
        "dashboard/report.html",
        {
            "me": me,
            "detail": detail,
            "assignable": assignable,
            "candidates": candidates,
            "retention": kept,
            "referral": referrals.section(
                session,
                report_id=report_id,
                content=detail.view.content,
                withdrawn=detail.withdrawn_on is not None,
            ),
            **choices(),
        },
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
    return see_done(
        request, "dashboard_report", report_id=report_id, done="saved", anchor="workflow"
    )


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
    return see_done(request, "dashboard_report", report_id=report_id, done="note", anchor="notes")


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
    return see_done(
        request, "dashboard_report", report_id=report_id, done="reply", anchor="conversation"
    )


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
    return see_done(
        request, "dashboard_report", report_id=report_id, done="tags", anchor="desk-tags"
    )


@router.post("/reports/{report_id}/links", name="dashboard_report_link")
def report_link(
    report_id: UUID,
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
    me: CurrentUser,
    # Picked from the recent reports, or typed as a short id (or a whole id).
    chosen: Annotated[str, Form(max_length=36)] = "",
    other: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    if other.strip():
        other_id = linking.resolve(session, reader=me.unlocked, text=other)
    elif chosen:
        other_id = linking.resolve(session, reader=me.unlocked, text=chosen)
    else:
        raise Invalid(N_("choose a report from the list, or type its short id"))
    casework.link_reports(
        session,
        reader=me.unlocked,
        report_id=report_id,
        other_id=other_id,
        secrets=runtime.secrets,
    )
    session.commit()
    return see_done(request, "dashboard_report", report_id=report_id, done="linked", anchor="links")


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
    return see_done(
        request, "dashboard_report", report_id=report_id, done="assigned", anchor="assignment"
    )


@router.post("/reports/{report_id}/unassign", name="dashboard_report_unassign")
def report_unassign(
    report_id: UUID, request: Request, session: DbSession, runtime: RuntimeDep, me: CurrentUser
) -> Response:
    assignment.unassign(
        session, keyholder=me.unlocked, report_id=report_id, secrets=runtime.secrets
    )
    session.commit()
    return see_done(
        request, "dashboard_report", report_id=report_id, done="unassigned", anchor="assignment"
    )


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
    return see_done(request, "dashboard_reports", done="destroyed")
