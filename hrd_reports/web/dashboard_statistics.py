"""The dashboard's statistics: computed live for those who read reports, published as
snapshots by a coordinator, and read (and exported as CSV) by auditors.

Routes are plain ``def``: FastAPI runs them in a worker thread, so the decryption of a
period's reports never runs on the event loop. A computation reads in a read-only session
(on SQLite it holds no writer up while it decrypts) and is then audited, and a snapshot
stored, in one short write.
"""

import datetime as dt
from collections.abc import Iterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from hrd_reports import content
from hrd_reports.db import unit_of_work
from hrd_reports.i18n import N_, locale
from hrd_reports.models import Role
from hrd_reports.services import clock, report_facts, snapshots, statistics
from hrd_reports.services.errors import Invalid
from hrd_reports.services.statistics import Computed, Statistics, StatisticsFilter
from hrd_reports.services.suppression import HIDDEN, SMALL, Cell
from hrd_reports.web import charts, spreadsheets
from hrd_reports.web.auth import CurrentUser, SignedIn, authorise
from hrd_reports.web.deps import PagesDep, ReadSession, RuntimeDep
from hrd_reports.web.labels import NAMES, PRIORITY_NAMES
from hrd_reports.web.pages import choose_locale, month_text, see_done
from hrd_reports.wiring import Runtime

router = APIRouter(prefix="/dashboard", dependencies=[Depends(authorise)])

Day = Annotated[str, Query(max_length=10)]
Governorate = Annotated[str, Query(max_length=64)]

TABLE_TITLES = {
    "incident_types": N_("Reports by incident type"),
    "governorates": N_("Reports by governorate"),
    "months": N_("Reports by month received"),
    "perpetrators": N_("Reports by kind of perpetrator"),
    "sectors": N_("Reports by targeted group"),
    "status": N_("Reports by status"),
    "priority": N_("Reports by priority"),
    "risk": N_("Reports by risk"),
    "gone": N_("Reports no longer held"),
}
_SPECIAL_ROWS = {
    report_facts.OFF_FORM: N_("Not following the report form"),
    report_facts.NOT_OPENED: N_("Could not be opened"),
    statistics.NOT_GIVEN: N_("Not given"),
    statistics.NOT_SET: N_("not set"),
}
# Each row's label by table and stored code (months are written by ``month_text``).
ROW_LABELS: dict[str, dict[str, str]] = {
    "incident_types": dict(content.INCIDENT_TYPES),
    "governorates": dict(content.GOVERNORATES),
    "perpetrators": dict(content.PERPETRATOR_TYPES),
    "sectors": dict(content.SECTORS),
    "status": NAMES,
    "priority": PRIORITY_NAMES,
    "risk": NAMES,
    "gone": {
        "withdrawn": N_("Withdrawn by their reporters"),
        "destroyed": N_("Destroyed by the desk"),
        "expired": N_("Destroyed under the retention policy"),
    },
}
COLUMN_TITLES = {
    "incident_types": N_("Incident type"),
    "governorates": N_("Governorate"),
    "months": N_("Month received"),
    "perpetrators": N_("Kind of perpetrator"),
    "sectors": N_("Targeted group"),
    "status": N_("Status"),
    "priority": N_("Priority"),
    "risk": N_("Risk level"),
    "gone": N_("What became of them"),
}
WAITING_TITLES = {
    "first_triage": N_("From arrival to first triage"),
    "first_reply": N_("From arrival to the desk's first reply"),
}


def row_label(table: str, key: str, code: str) -> str:
    """A row's label in the language ``code``: a month in its words and digits, anything
    else through the catalogue (a code without a label is shown as the code it is)."""
    if table == "months":
        return month_text(code, key)
    label = ROW_LABELS.get(table, {}).get(key) or _SPECIAL_ROWS.get(key)
    return locale(code).translations.gettext(label) if label else key


def _date(value: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Invalid(N_("%(value)r is not a date (YYYY-MM-DD)"), value=value) from None


def _filters(received_from: str, received_to: str, governorate: str) -> StatisticsFilter:
    return StatisticsFilter(
        received_from=_date(received_from),
        received_to=_date(received_to),
        governorate=governorate or None,
    )


def _compute(session: Any, runtime: Runtime, me: SignedIn, filters: StatisticsFilter) -> Computed:
    return statistics.compute(
        session,
        reader=me.unlocked,
        filters=filters,
        today=clock.utc_today(),
        min_cell=runtime.settings.stats_min_cell,
    )


def _figures(request: Request, shown: Statistics) -> dict[str, Any]:
    """What the figures' template needs besides the statistics."""
    code = choose_locale(request)
    return {
        "stats": shown,
        "bar_chart": charts.bar_chart,
        "table_titles": TABLE_TITLES,
        "column_titles": COLUMN_TITLES,
        "waiting_titles": WAITING_TITLES,
        "row_label": lambda table, key: row_label(table, key, code),
        "governorate_labels": ROW_LABELS["governorates"],
    }


@router.get("/stats", response_class=HTMLResponse, name="dashboard_stats")
def statistics_page(
    request: Request,
    session: ReadSession,
    runtime: RuntimeDep,
    pages: PagesDep,
    me: CurrentUser,
    received_from: Day = "",
    received_to: Day = "",
    governorate: Governorate = "",
) -> HTMLResponse:
    """The statistics of the reports the signed-in person may read, computed now."""
    filters = _filters(received_from, received_to, governorate)
    computed = _compute(session, runtime, me, filters)
    with unit_of_work(runtime.sessions) as writing:
        statistics.audit_computation(
            writing, reader=me.name, computed=computed, secrets=runtime.secrets
        )
        writing.commit()
    return pages.render(
        request,
        "dashboard/stats.html",
        {
            "me": me,
            "governorates": content.GOVERNORATES,
            "publishes": me.role in snapshots.PUBLISHERS,
            "reads_snapshots": me.role != Role.CASE_WORKER,
            "title_limit": snapshots.MAX_TITLE_LENGTH,
            **_figures(request, computed.statistics),
        },
    )


@router.post("/stats/snapshots", name="dashboard_snapshot_publish")
def publish_snapshot(
    request: Request,
    session: ReadSession,
    runtime: RuntimeDep,
    me: CurrentUser,
    received_from: Annotated[str, Form(max_length=10)] = "",
    received_to: Annotated[str, Form(max_length=10)] = "",
    governorate: Annotated[str, Form(max_length=64)] = "",
    title: Annotated[str, Form(max_length=snapshots.MAX_TITLE_LENGTH * 4)] = "",
) -> Response:
    """Compute again with the filters the page showed, and keep the result as a snapshot."""
    filters = _filters(received_from, received_to, governorate)
    snapshots.clean_title(title)  # refused before anything is decrypted
    computed = _compute(session, runtime, me, filters)
    with unit_of_work(runtime.sessions) as writing:
        statistics.audit_computation(
            writing, reader=me.name, computed=computed, secrets=runtime.secrets
        )
        snapshot_id = snapshots.publish(
            writing, publisher=me.unlocked, computed=computed, title=title, secrets=runtime.secrets
        )
        writing.commit()
    return see_done(request, "dashboard_snapshot", snapshot_id=snapshot_id, done="published")


@router.get("/stats/snapshots", response_class=HTMLResponse, name="dashboard_snapshots")
def snapshot_list(
    request: Request, session: ReadSession, runtime: RuntimeDep, pages: PagesDep, me: CurrentUser
) -> HTMLResponse:
    listed = snapshots.list_snapshots(session, secrets=runtime.secrets)
    return pages.render(
        request,
        "dashboard/snapshots.html",
        {"me": me, "listed": listed, "governorate_labels": ROW_LABELS["governorates"]},
    )


@router.get(
    "/stats/snapshots/{snapshot_id}", response_class=HTMLResponse, name="dashboard_snapshot"
)
def snapshot_page(
    snapshot_id: UUID,
    request: Request,
    session: ReadSession,
    runtime: RuntimeDep,
    pages: PagesDep,
    me: CurrentUser,
) -> HTMLResponse:
    snapshot = snapshots.get_snapshot(session, snapshot_id=snapshot_id, secrets=runtime.secrets)
    return pages.render(
        request,
        "dashboard/snapshot.html",
        {"me": me, "snapshot": snapshot, **_figures(request, snapshot.statistics)},
    )


def _shown(cell: Cell, min_cell: int, gettext: Any) -> str:
    """A count as a spreadsheet cell: the number, ``<5`` (for 5) for a small one, and a word
    for one hidden so that the total does not give a small one away."""
    if cell.mark == SMALL:
        return f"<{min_cell}"
    if cell.mark == HIDDEN:
        return str(gettext(N_("hidden")))
    return str(cell.count)


def snapshot_rows(snapshot: snapshots.Snapshot, code: str) -> Iterator[list[object]]:
    """A snapshot as rows of (table, code, label, value): what it says, and no more."""
    shown = snapshot.statistics
    gettext = locale(code).translations.gettext
    filters = shown.filters
    yield ["table", "code", "label", "value"]
    yield ["snapshot", "title", gettext(N_("Title")), snapshot.title]
    yield ["snapshot", "published_on", gettext(N_("Published on")), snapshot.published_on]
    yield ["snapshot", "published_by", gettext(N_("Published by")), snapshot.published_by]
    yield ["snapshot", "received_from", gettext(N_("Received from")), filters.received_from or ""]
    yield ["snapshot", "received_to", gettext(N_("Received until")), filters.received_to or ""]
    yield ["snapshot", "governorate", gettext(N_("Governorate")), filters.governorate or ""]
    yield ["snapshot", "min_cell", gettext(N_("Smallest count shown")), shown.min_cell]
    yield [
        "reports",
        "total",
        gettext(N_("Reports counted")),
        _shown(shown.reports, shown.min_cell, gettext),
    ]
    yield [
        "reports",
        "off_form",
        gettext(_SPECIAL_ROWS[report_facts.OFF_FORM]),
        _shown(shown.off_form, shown.min_cell, gettext),
    ]
    yield [
        "reports",
        "overdue",
        gettext(N_("Overdue now")),
        _shown(shown.overdue, shown.min_cell, gettext),
    ]
    for name in ("first_triage", "first_reply"):
        waiting = getattr(shown, name)
        label = gettext(WAITING_TITLES[name])
        yield [name, "reports", label, _shown(waiting.reports, shown.min_cell, gettext)]
        yield [
            name,
            "median_days",
            label,
            "" if waiting.median_days is None else waiting.median_days,
        ]
        yield [name, "p90_days", label, "" if waiting.p90_days is None else waiting.p90_days]
    for table in [*shown.tables, *([shown.gone] if shown.gone else [])]:
        for cell in [*table.cells, table.total]:
            label = (
                gettext(N_("Total"))
                if cell is table.total
                else row_label(table.name, cell.key, code)
            )
            yield [table.name, cell.key, label, _shown(cell, shown.min_cell, gettext)]


@router.get("/stats/snapshots/{snapshot_id}/csv", name="dashboard_snapshot_csv")
def snapshot_csv(
    snapshot_id: UUID, request: Request, session: ReadSession, runtime: RuntimeDep
) -> Response:
    snapshot = snapshots.get_snapshot(session, snapshot_id=snapshot_id, secrets=runtime.secrets)
    body = spreadsheets.csv_document(snapshot_rows(snapshot, choose_locale(request)))
    name = f"statistics-{snapshot.published_on.isoformat()}-{str(snapshot.id)[:8]}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
