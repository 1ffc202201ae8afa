"""The dashboard's people, audit log and the words reporters read for each stage:
administrators, coordinators and auditors."""

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from hrd_reports.i18n import LANGUAGE_NAMES, N_, SUPPORTED_LOCALES
from hrd_reports.models import ReporterStage, Role
from hrd_reports.services import accounts, audit, clock, health, keyring, stages, users
from hrd_reports.services.errors import Invalid
from hrd_reports.web.auth import CurrentUser, authorise
from hrd_reports.web.deps import DbSession, PagesDep, ReadSession, RuntimeDep
from hrd_reports.web.labels import STAGE_TEXTS
from hrd_reports.web.pages import see_done
from hrd_reports.wiring import Runtime

router = APIRouter(prefix="/dashboard", dependencies=[Depends(authorise)])

Name = Annotated[str, Form(max_length=64)]
AUDIT_PAGE = 100


def _row(name: str) -> str:
    # The service has accepted the name, so it is a user name (letters, digits, . _ -).
    return f"person-{name}"


@router.get("/users", response_class=HTMLResponse, name="dashboard_users")
def user_list(
    request: Request, session: ReadSession, pages: PagesDep, me: CurrentUser, rt: RuntimeDep
) -> HTMLResponse:
    return pages.render(
        request,
        "dashboard/users.html",
        {
            "me": me,
            "people": users.list_users(session),
            "roles": [role.value for role in Role],
            "backup": _backup_problem(rt) if me.role == Role.ADMIN else None,
        },
    )


def _backup_problem(rt: Runtime) -> dict[str, Any] | None:
    """A failed or stale scheduled backup, for the administrators' page (the day only)."""
    check = health.backup_check(rt.settings, clock.utc_now())
    if check.level != health.Level.PROBLEM:
        return None
    failed = check.values.get("last_attempt_ok") is False
    return {"failed": failed, "day": str(check.values.get("last_attempt") or "")[:10]}


@router.post("/users", response_class=HTMLResponse, name="dashboard_user_invite")
def user_invite(
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
    pages: PagesDep,
    me: CurrentUser,
    name: Name,
    role: Annotated[str, Form(max_length=32)] = "",
) -> HTMLResponse:
    chosen = Role(role) if role in {r.value for r in Role} else None
    token = accounts.invite(
        session,
        name=name.strip(),
        role=chosen,
        actor=me.name,
        valid_for=dt.timedelta(hours=runtime.settings.invitation_hours),
        secrets=runtime.secrets,
    )
    session.commit()
    # Shown once, to be passed on by a trusted channel; only its hash is kept. At
    # HRD_PUBLIC_URL when it is set: the request's Host header is the client's to choose.
    url = request.url_for("dashboard_invitation_form", token=token)
    link = runtime.settings.public_link(url.path) or str(url)
    return pages.render(
        request,
        "dashboard/invited.html",
        {"me": me, "name": name.strip(), "link": link, "hours": runtime.settings.invitation_hours},
    )


@router.post("/users/{name}/vet", name="dashboard_user_vet")
def user_vet(
    name: str, request: Request, session: DbSession, runtime: RuntimeDep, me: CurrentUser
) -> Response:
    # The vetter's own key, open in their session, opens the desk keys to grant.
    intake_keys = keyring.unlock_intake_keys(
        session, user=me.unlocked.user, private_key=me.unlocked.private_key
    )
    users.vet_user(
        session,
        name=name,
        vetter=me.unlocked.user,
        intake_keys=intake_keys,
        vetted_by=me.name,
        secrets=runtime.secrets,
    )
    session.commit()
    return see_done(request, "dashboard_users", done="vetted", anchor=_row(name), at=name)


@router.post("/users/{name}/revoke", name="dashboard_user_revoke")
def user_revoke(
    name: str, request: Request, session: DbSession, runtime: RuntimeDep, me: CurrentUser
) -> Response:
    users.revoke_user(session, name=name, actor=me.name, secrets=runtime.secrets)
    session.commit()
    return see_done(request, "dashboard_users", done="revoked", anchor=_row(name), at=name)


@router.post("/users/{name}/role", name="dashboard_user_role")
def user_role(
    name: str,
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
    me: CurrentUser,
    role: Annotated[Role, Form()],
) -> Response:
    users.change_role(session, name=name, role=role, actor=me.name, secrets=runtime.secrets)
    session.commit()
    return see_done(request, "dashboard_users", done="role", anchor=_row(name), at=name)


@router.post("/users/{name}/disable", name="dashboard_user_disable")
def user_disable(
    name: str,
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
    me: CurrentUser,
    disabled: Annotated[bool, Form()] = True,
) -> Response:
    users.set_disabled(
        session, name=name, disabled=disabled, actor=me.name, secrets=runtime.secrets
    )
    session.commit()
    done = "disabled" if disabled else "enabled"
    return see_done(request, "dashboard_users", done=done, anchor=_row(name), at=name)


@router.get("/audit", response_class=HTMLResponse, name="dashboard_audit")
def audit_log(
    request: Request,
    session: ReadSession,
    runtime: RuntimeDep,
    pages: PagesDep,
    me: CurrentUser,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> HTMLResponse:
    entries = audit.page(session, page=page, page_size=AUDIT_PAGE)
    verdict = audit.verify(session, audit_secret=runtime.secrets.audit)
    return pages.render(
        request,
        "dashboard/audit.html",
        {
            "me": me,
            "events": entries.events,
            "page": page,
            "has_next": entries.has_next,
            "verdict": verdict,
        },
    )


# ---- what reporters are told ----------------------------------------------------------------


def _stage_rows(session: Session) -> list[dict[str, Any]]:
    return [
        {
            "stage": stage.value,
            "default": STAGE_TEXTS[stage.value],
            "texts": {
                code: stages.stage_message(session, stage, code) or "" for code in SUPPORTED_LOCALES
            },
        }
        for stage in ReporterStage
    ]


@router.get("/stages", response_class=HTMLResponse, name="dashboard_stages")
def stage_messages(
    request: Request, session: ReadSession, pages: PagesDep, me: CurrentUser
) -> HTMLResponse:
    """The sentence a reporter reads in the inbox for each stage, in each language."""
    return pages.render(
        request,
        "dashboard/stages.html",
        {"me": me, "rows": _stage_rows(session), "locales": LANGUAGE_NAMES},
    )


@router.post("/stages", name="dashboard_stage_save")
def stage_message_save(
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
    me: CurrentUser,
    stage: Annotated[str, Form(max_length=32)],
    locale: Annotated[str, Form(max_length=16)],
    text: Annotated[str, Form(max_length=stages.MAX_STAGE_MESSAGE_LENGTH * 2)] = "",
) -> Response:
    if stage not in {s.value for s in ReporterStage} or locale not in SUPPORTED_LOCALES:
        raise Invalid(N_("unknown stage or language"))
    stages.set_stage_message(
        session,
        stage=ReporterStage(stage),
        locale=locale,
        text=text,
        actor=me.name,
        secrets=runtime.secrets,
    )
    session.commit()
    return see_done(request, "dashboard_stages", done="stage", anchor=f"stage-{stage}", at=stage)
