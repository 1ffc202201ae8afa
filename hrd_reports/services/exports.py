"""Exports in plaintext: one report's case file (a page to print, or JSON), and the report list
as CSV. Each is read as the dashboard reads (``casework.show``, ``listing.list_page``) and
recorded in the audit log as an export of its kind, naming the reports it holds.

An export takes reports out of the desk's encryption: whoever holds the file or the printout
reads it with no key, and nothing records who reads it then. So only the desk's key holders
export (a vetted coordinator or administrator holding the desk key, who may open every report
anyway); a case worker, who holds only the reports assigned to them, does not carry them out
of the desk, and an auditor never reads content. The web asks for an explicit confirmation
before it calls anything here.
"""

import datetime as dt
import enum
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy.orm import Session

from hrd_reports.keystore import ServerSecrets
from hrd_reports.services import audit, casework, keyring, listing, reading
from hrd_reports.services.casework import ReportDetail
from hrd_reports.services.clock import utc_today
from hrd_reports.services.credentials import UnlockedUser
from hrd_reports.services.listing import ListEntry, ReportFilter
from hrd_reports.services.reading import ReportView


class ExportKind(enum.StrEnum):
    """What was exported; the audit entry's action is ``export.<kind>``."""

    CASE_FILE = "case_file"
    CASE_FILE_JSON = "case_file_json"
    REPORTS_CSV = "reports_csv"

    @property
    def action(self) -> str:
        return f"export.{self.value}"


@dataclass(frozen=True)
class Exporter:
    """Who exported, and on which day: the footer every export carries."""

    name: str
    day: dt.date


@dataclass(frozen=True)
class CaseFile:
    detail: ReportDetail
    exporter: Exporter


@dataclass(frozen=True)
class ReportTable:
    entries: list[ListEntry]
    exporter: Exporter


def require_exporter(session: Session, *, reader: UnlockedUser) -> None:
    """Refuse anyone but a vetted key holder who holds the desk key now (``Forbidden``)."""
    keyring.require_key_holder(session, reader.user)


def check_case_file(session: Session, *, reader: UnlockedUser, report_id: str | UUID) -> None:
    """Before the confirmation: the reader may export, and the report exists (``NotFound``).

    Nothing is decrypted, so nothing is audited.
    """
    require_exporter(session, reader=reader)
    reading.get_report(session, report_id)


def case_file(
    session: Session,
    *,
    reader: UnlockedUser,
    report_id: str | UUID,
    kind: ExportKind,
    secrets: ServerSecrets,
) -> CaseFile:
    """Everything the report's page shows, decrypted as it does (and audited as a reading),
    then recorded as an export of ``kind``."""
    require_exporter(session, reader=reader)
    detail = casework.show(session, reader=reader, report_id=report_id, secrets=secrets)
    _record(session, reader=reader, kind=kind, views=[detail.view], secrets=secrets)
    return CaseFile(detail, Exporter(reader.name, utc_today()))


def report_table(
    session: Session, *, reader: UnlockedUser, filters: ReportFilter, secrets: ServerSecrets
) -> ReportTable:
    """Every report the list shows with ``filters``, on one page, in the list's order."""
    require_exporter(session, reader=reader)
    listed = listing.list_page(
        session, reader=reader, filters=filters, page=1, secrets=secrets, page_size=None
    )
    views = [entry.view for entry in listed.entries]
    _record(session, reader=reader, kind=ExportKind.REPORTS_CSV, views=views, secrets=secrets)
    return ReportTable(listed.entries, Exporter(reader.name, utc_today()))


def _record(
    session: Session,
    *,
    reader: UnlockedUser,
    kind: ExportKind,
    views: list[ReportView],
    secrets: ServerSecrets,
) -> None:
    # The reports by id, and which of them did not open (exported with their problem only);
    # never a filter's words: a search for a name would put the name in the log.
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=reader.name,
        action=kind.action,
        subject=str(views[0].id) if kind != ExportKind.REPORTS_CSV and views else None,
        detail={
            "reports": [str(view.id) for view in views],
            "failed": [str(view.id) for view in views if view.content is None],
        },
    )
