"""The dashboard's exports, for the desk's key holders: a report's case file as a page to print
(or save as PDF) and as JSON (``web.huridocs``), and the report list as CSV (``csvfile``).

Each export has one address and two steps. A GET shows what the export holds and asks the
person to tick a box; the form POSTs to the same address, and only then is anything decrypted,
audited and sent. Nothing is exported by a GET, so no link, prefetch, history entry or stray
click exports on its own, and the form token stops a forged request from another site. A POST
without the box ticked gets the confirmation again, with a problem, and decrypts nothing.
"""

import json
from collections.abc import Callable, Iterator
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from hrd_reports import content, csvfile, received
from hrd_reports.i18n import N_, locale
from hrd_reports.services import exports
from hrd_reports.services.exports import ExportKind, ReportTable
from hrd_reports.services.linking import short_id
from hrd_reports.services.listing import ListEntry
from hrd_reports.web import huridocs
from hrd_reports.web.auth import CurrentUser, SignedIn, authorise
from hrd_reports.web.dashboard_reports import ListQuery, ListQueryDep, choices
from hrd_reports.web.deps import DbSession, PagesDep, ReadSession, RuntimeDep
from hrd_reports.web.labels import NAMES, PRIORITY_NAMES
from hrd_reports.web.pages import Pages, choose_locale, day_text

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
    # A lone surrogate (a file name a reporter's client made up) goes out as its JSON escape.
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
    body = csvfile.encode(_rows(table, choose_locale(request)))
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers=_attachment(f"reports-{table.exporter.day.isoformat()}.csv"),
    )


YES, NO = N_("Yes"), N_("No")
# Said at the foot of every export, and on every printed page of a case file.
EXPORTED_BY = N_("Exported by %(name)s on %(day)s")


class _Cells:
    """One report's cells in the exporter's language: the form's choices by their labels, an
    unknown code as the text it is (never looked up), dates as ISO 8601 in ASCII digits, the
    one form spreadsheets sort and read as dates in every language."""

    def __init__(self, gettext: Callable[[str], str]) -> None:
        self.gettext = gettext
        self.labels = content.all_labels()

    def choice(self, table: str, code: Any) -> str:
        if not isinstance(code, str):
            return ""
        label = self.labels[table].get(code)
        return self.gettext(label) if label else code

    def choices(self, table: str, codes: Any) -> str:
        if not isinstance(codes, list):
            return ""
        return "; ".join(filter(None, (self.choice(table, code) for code in codes)))

    def yes_no(self, value: bool | None) -> str:
        return "" if value is None else self.gettext(YES if value else NO)

    def moment(self, value: Any) -> str:
        moment = value if isinstance(value, dict) else {}
        day = moment.get("date")
        if not isinstance(day, str):
            return ""
        precision = self.choice("precision", moment.get("precision"))
        return f"{day} ({precision})" if precision else day

    def row(self, entry: ListEntry) -> list[str]:
        view = entry.view
        report = view.content or {}
        location = _mapping(report.get("location"))
        target = _mapping(report.get("target"))
        perpetrator = _mapping(report.get("perpetrator"))
        consent = _mapping(report.get("consent"))
        opened = view.content is not None
        return [
            str(view.id),
            view.received_on.isoformat(),
            self.gettext(NAMES[view.status]),
            self.gettext(PRIORITY_NAMES[view.priority]) if view.priority else "",
            self.gettext(NAMES[entry.risk]) if entry.risk else "",
            self.yes_no(entry.urgent),
            view.assignee or "",
            self.choices("incident_types", report.get("incident_types")),
            self.choice("yes_no", report.get("in_danger_now")),
            self.moment(report.get("start")),
            self.moment(report.get("end")),
            self.yes_no(report.get("ongoing") is True) if view.follows_form else "",
            self.choice("governorates", location.get("governorate")),
            _string(location.get("district")),
            self.choice("place_types", location.get("place_type")),
            self.choice("who", target.get("who")),
            self.choice("sectors", target.get("sector")),
            self.choice("genders", target.get("gender")),
            self.choice("age_bands", target.get("age_band")),
            self.choices("perpetrator_types", perpetrator.get("types")),
            self.choice("identification", perpetrator.get("identification")),
            _string(perpetrator.get("identifiers")),
            _string(report.get("narrative")),
            self.choices("needs", report.get("needs")),
            self.choice("consent_share", consent.get("share")),
            self.choice("yes_no", consent.get("publish")),
            "; ".join(entry.tags),
            self.yes_no(view.follows_form) if opened else "",
            self._problem(entry),
            _string(report.get(received.AS_RECEIVED)),
        ]

    def _problem(self, entry: ListEntry) -> str:
        view = entry.view
        if view.refusal is not None:
            return self.gettext(view.refusal.template) % view.refusal.params
        problem = (view.content or {}).get(received.SHAPE_PROBLEM)
        if problem in received.SHAPE_PROBLEMS:
            return self.gettext(received.SHAPE_PROBLEMS[problem])
        return ""


# The columns, in the order of ``_Cells.row``: the report page's own words where it has them.
HEADINGS = (
    N_("Report id"),
    N_("Received"),
    N_("Status"),
    N_("Priority"),
    N_("Risk level"),
    N_("Urgent"),
    N_("Assigned to"),
    N_("Incident types"),
    N_("In danger now"),
    N_("When it started"),
    N_("When it ended"),
    N_("Still ongoing"),
    N_("Governorate"),
    N_("District, town or area"),
    N_("Kind of place"),
    N_("Who was targeted"),
    N_("Their work"),
    N_("Gender"),
    N_("Age"),
    N_("Perpetrators"),
    N_("How sure the reporter is of who did it"),
    N_("Identifiers"),
    N_("What happened"),
    N_("Needs"),
    N_("Consent to share"),
    N_("Consent to publish"),
    N_("Tags"),
    N_("Follows the report form"),
    N_("Problem"),
    N_("As received"),
)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _rows(table: ReportTable, code: str) -> Iterator[list[str]]:
    """The headings, a line per report in the list's order, and the footer's one cell: who
    exported the list and on which day, in the exporter's words and digits."""
    gettext = locale(code).translations.gettext
    cells = _Cells(gettext)
    yield [gettext(heading) for heading in HEADINGS]
    for entry in table.entries:
        yield cells.row(entry)
    exporter = table.exporter
    yield [gettext(EXPORTED_BY) % {"name": exporter.name, "day": day_text(code, exporter.day)}]
