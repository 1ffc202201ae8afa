"""The dashboard's exports, for the desk's key holders: a report's case file as a page to print
(or save as PDF) and as JSON (``web.huridocs``), and the report list as CSV (``csvfile``).

Each export has one address and two steps. A GET shows what the export holds and asks the
person to tick a box; the form POSTs to the same address, and only then is anything decrypted,
audited and sent. Nothing is exported by a GET, so no link, prefetch, history entry or stray
click exports on its own, and the form token stops a forged request from another site. A POST
without the box ticked gets the confirmation again, with a problem, and decrypts nothing.
"""

import json
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from hrd_reports import csvfile
from hrd_reports.i18n import locale
from hrd_reports.services import exports
from hrd_reports.services.exports import ExportKind
from hrd_reports.services.linking import short_id
from hrd_reports.web import huridocs, report_csv
from hrd_reports.web.auth import CurrentUser, SignedIn, authorise
from hrd_reports.web.dashboard_reports import ListQuery, ListQueryDep, choices
from hrd_reports.web.deps import DbSession, PagesDep, ReadSession, RuntimeDep
from hrd_reports.web.pages import Pages, choose_locale

router = APIRouter(prefix="/dashboard", dependencies=[Depends(authorise)])

# Optional, so that a form without it gets the confirmation again, not a 422.
Confirm = Annotated[str, Form(max_length=8)]


def _confirmation(
    request: Request,
    pages: Pages,
    me: SignedIn,
    kind: ExportKind,
    *,
    action: str,
    back: str,
    report_id: UUID | None = None,
    missing: bool = False,
) -> HTMLResponse:
    return pages.render(
        request,
        "dashboard/export_confirm.html",
        {
            "me": me,
            "kind": kind.value,
            "action": action,
            "back": back,
            "report_id": report_id,
            "missing": missing,
        },
        status_code=400 if missing else 200,
    )


def _path(request: Request, route: str, **params: Any) -> str:
    # As the pages' own links: a path only, the page's language carried on.
    return f"{request.url_for(route, **params).path}?lang={choose_locale(request)}"


def _case_file_confirmation(
    request: Request,
    pages: Pages,
    me: SignedIn,
    kind: ExportKind,
    report_id: UUID,
    *,
    missing: bool = False,
) -> HTMLResponse:
    route = "dashboard_case_file" if kind == ExportKind.CASE_FILE else "dashboard_case_file_json"
    return _confirmation(
        request,
        pages,
        me,
        kind,
        action=_path(request, route, report_id=report_id),
        back=_path(request, "dashboard_report", report_id=report_id),
        report_id=report_id,
        missing=missing,
    )


@router.get(
    "/reports/{report_id}/case-file",
    response_class=HTMLResponse,
    name="dashboard_case_file_confirm",
)
def case_file_confirm(
    report_id: UUID, request: Request, session: ReadSession, pages: PagesDep, me: CurrentUser
) -> HTMLResponse:
    exports.check_case_file(session, reader=me.unlocked, report_id=report_id)
    return _case_file_confirmation(request, pages, me, ExportKind.CASE_FILE, report_id)


@router.post("/reports/{report_id}/case-file", name="dashboard_case_file")
def case_file(
    report_id: UUID,
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
    pages: PagesDep,
    me: CurrentUser,
    confirm: Confirm = "",
) -> HTMLResponse:
    if confirm != "yes":
        exports.check_case_file(session, reader=me.unlocked, report_id=report_id)
        return _case_file_confirmation(
            request, pages, me, ExportKind.CASE_FILE, report_id, missing=True
        )
    case = exports.case_file(
        session,
        reader=me.unlocked,
        report_id=report_id,
        kind=ExportKind.CASE_FILE,
        secrets=runtime.secrets,
    )
    # The audit entry is committed before the page leaves.
    session.commit()
    return pages.render(
        request, "dashboard/case_file.html", {"case": case, "detail": case.detail, **choices()}
    )


@router.get(
    "/reports/{report_id}/case-file.json",
    response_class=HTMLResponse,
    name="dashboard_case_file_json_confirm",
)
def case_file_json_confirm(
    report_id: UUID, request: Request, session: ReadSession, pages: PagesDep, me: CurrentUser
) -> HTMLResponse:
    exports.check_case_file(session, reader=me.unlocked, report_id=report_id)
    return _case_file_confirmation(request, pages, me, ExportKind.CASE_FILE_JSON, report_id)


@router.post("/reports/{report_id}/case-file.json", name="dashboard_case_file_json")
def case_file_json(
    report_id: UUID,
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
    pages: PagesDep,
    me: CurrentUser,
    confirm: Confirm = "",
) -> Response:
    if confirm != "yes":
        exports.check_case_file(session, reader=me.unlocked, report_id=report_id)
        return _case_file_confirmation(
            request, pages, me, ExportKind.CASE_FILE_JSON, report_id, missing=True
        )
    case = exports.case_file(
        session,
        reader=me.unlocked,
        report_id=report_id,
        kind=ExportKind.CASE_FILE_JSON,
        secrets=runtime.secrets,
    )
    session.commit()
    code = choose_locale(request)
    document = huridocs.document(case, language=code, translate=locale(code).translations.gettext)
    # Should a lone surrogate still be in the document, it goes out as its JSON escape rather
    # than failing the export.
    body = json.dumps(document, ensure_ascii=False, indent=2).encode(
        "utf-8", errors="backslashreplace"
    )
    return Response(
        body,
        media_type="application/json",
        headers=_attachment(f"case-file-{short_id(report_id)}.json"),
    )


def _attachment(name: str) -> dict[str, str]:
    # The name is ours (a short id, a day): never the reporter's words.
    return {"content-disposition": f'attachment; filename="{name}"'}


def _list_confirmation(
    request: Request, pages: Pages, me: SignedIn, query: ListQuery, *, missing: bool = False
) -> HTMLResponse:
    # The list's filters travel in the address, as on the list's own links.
    filters = "".join(f"&{urlencode({key: value})}" for key, value in query.params().items())
    return _confirmation(
        request,
        pages,
        me,
        ExportKind.REPORTS_CSV,
        action=_path(request, "dashboard_reports_csv") + filters,
        back=_path(request, "dashboard_reports") + filters,
        missing=missing,
    )


@router.get("/reports.csv", response_class=HTMLResponse, name="dashboard_reports_csv_confirm")
def reports_csv_confirm(
    request: Request, session: ReadSession, pages: PagesDep, me: CurrentUser, query: ListQueryDep
) -> HTMLResponse:
    exports.require_exporter(session, reader=me.unlocked)
    query.filters()  # a value that is none of the choices is refused before the confirmation
    return _list_confirmation(request, pages, me, query)


@router.post("/reports.csv", name="dashboard_reports_csv")
def reports_csv(
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
    pages: PagesDep,
    me: CurrentUser,
    query: ListQueryDep,
    confirm: Confirm = "",
) -> Response:
    filters = query.filters()
    if confirm != "yes":
        exports.require_exporter(session, reader=me.unlocked)
        return _list_confirmation(request, pages, me, query, missing=True)
    table = exports.report_table(
        session, reader=me.unlocked, filters=filters, secrets=runtime.secrets
    )
    session.commit()
    body = csvfile.encode(report_csv.rows(table, choose_locale(request)))
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers=_attachment(f"reports-{table.exporter.day.isoformat()}.csv"),
    )
