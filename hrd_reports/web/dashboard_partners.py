"""The partner organisations cases are referred to: administrators list, add and disable them,
and read each key's fingerprint to compare with the partner out of band."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from hrd_reports.crypto.partners import MAX_KEY_BYTES
from hrd_reports.services import partners
from hrd_reports.services.errors import Conflict, Invalid
from hrd_reports.web.auth import CurrentUser, authorise
from hrd_reports.web.deps import DbSession, PagesDep, ReadSession, RuntimeDep
from hrd_reports.web.pages import Notice, see_done

router = APIRouter(prefix="/dashboard", dependencies=[Depends(authorise)])


def _row(partner_id: UUID) -> str:
    return f"partner-{partner_id}"


@router.get("/partners", response_class=HTMLResponse, name="dashboard_partners")
def partner_list(
    request: Request, session: ReadSession, pages: PagesDep, me: CurrentUser
) -> HTMLResponse:
    return pages.render(
        request,
        "dashboard/partners.html",
        {"me": me, "partners": partners.list_partners(session), "problem": None, "name": ""},
    )


@router.post("/partners", response_class=HTMLResponse, name="dashboard_partner_add")
def partner_add(
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
    pages: PagesDep,
    me: CurrentUser,
    name: Annotated[str, Form(max_length=4 * partners.MAX_NAME_LENGTH)] = "",
    # Twice the bound, so that the service says why a longer key is refused.
    key: Annotated[str, Form(max_length=2 * MAX_KEY_BYTES)] = "",
) -> Response:
    try:
        added = partners.add_partner(
            session, name=name, key_data=key.encode("utf-8"), actor=me.name, secrets=runtime.secrets
        )
    except (Invalid, Conflict) as exc:
        # The form again with why, and the name kept; never the key, which may be a secret
        # key pasted by mistake.
        session.rollback()
        return pages.render(
            request,
            "dashboard/partners.html",
            {
                "me": me,
                "partners": partners.list_partners(session),
                "problem": Notice.of(exc),
                "name": name,
            },
            status_code=409 if isinstance(exc, Conflict) else 400,
        )
    session.commit()
    return see_done(
        request, "dashboard_partners", done="partner_added", anchor=_row(added.id), at=str(added.id)
    )


@router.post("/partners/{partner_id}/disable", name="dashboard_partner_disable")
def partner_disable(
    partner_id: UUID, request: Request, session: DbSession, runtime: RuntimeDep, me: CurrentUser
) -> Response:
    partner = partners.get_partner(session, partner_id)
    partners.disable_partner(session, partner=partner, actor=me.name, secrets=runtime.secrets)
    session.commit()
    return see_done(
        request,
        "dashboard_partners",
        done="partner_disabled",
        anchor=_row(partner_id),
        at=str(partner_id),
    )
