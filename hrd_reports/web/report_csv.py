"""The report list as CSV rows, in the exporter's language: a row of headings, a row per report,
and a last row naming who exported the list and on which day (``csvfile`` writes them).

The cells are the report page's own words: the form's choices by their labels, an unknown code
as the text it is (never looked up in a catalogue), and dates as ISO 8601 in ASCII digits, the
one form every spreadsheet sorts and reads as a date, whatever its language.
"""

from collections.abc import Callable, Iterator
from typing import Any

from hrd_reports import content, received
from hrd_reports.i18n import N_, locale
from hrd_reports.services.exports import ReportTable
from hrd_reports.services.listing import ListEntry
from hrd_reports.web.labels import NAMES, PRIORITY_NAMES
from hrd_reports.web.pages import day_text

YES, NO = N_("Yes"), N_("No")
# Said at the foot of every export, and on every printed page of a case file.
EXPORTED_BY = N_("Exported by %(name)s on %(day)s")


class _Cells:
    """One report's cells in the exporter's language."""

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


def rows(table: ReportTable, code: str) -> Iterator[list[str]]:
    """The headings, a line per report in the list's order, and the footer's one cell: who
    exported the list and on which day, in the exporter's words and digits."""
    gettext = locale(code).translations.gettext
    cells = _Cells(gettext)
    yield [gettext(heading) for heading in HEADINGS]
    for entry in table.entries:
        yield cells.row(entry)
    exporter = table.exporter
    yield [gettext(EXPORTED_BY) % {"name": exporter.name, "day": day_text(code, exporter.day)}]
