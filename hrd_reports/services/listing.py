"""The report list: its filters, its search and its pages.

Workflow fields (status, priority, risk, assignee, day received, the urgent flag) are in
clear and filtered in the database. Everything that comes from the report or from the desk's
own words (incident types, governorate, text, tags) is encrypted under the report's key, so
those filters and the search decrypt, within the request, only what the reader may open
(``services.reading``); each decryption is audited, and nothing decrypted is kept.
"""

import contextlib
import datetime as dt
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from hrd_reports import db, received
from hrd_reports.crypto.xwing import Sealed
from hrd_reports.i18n import N_
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import (
    REPORT_LIST_ORDER,
    Priority,
    Report,
    ReportStatus,
    User,
)
from hrd_reports.services import conversation, reading
from hrd_reports.services.credentials import UnlockedUser
from hrd_reports.services.errors import Invalid
from hrd_reports.services.reading import ReaderKeys, ReportView

PAGE_SIZE = 50
# Reports opened per database round trip while new reports are classified, and read per
# fetch while a filter or search scans.
SCAN_BATCH = 200
SEARCH_BATCH = 500
# Where a decrypted report has no object in place of one the form nests.
_NOTHING: dict[str, Any] = {}


@dataclass(frozen=True)
class ReportFilter:
    status: ReportStatus | None = None
    priority: Priority | None = None
    assignee: str | None = None
    received_from: dt.date | None = None
    received_to: dt.date | None = None
    # Only the reports that do not follow the form (learned when first opened, kept in clear).
    off_form: bool = False
    incident_type: str | None = None
    governorate: str | None = None
    text: str | None = None

    @property
    def reads_content(self) -> bool:
        return bool(self.incident_type or self.governorate or self.text)


@dataclass(frozen=True)
class ListEntry:
    view: ReportView
    urgent: bool
    risk: str | None
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ListPage:
    entries: list[ListEntry]
    page: int
    has_next: bool
    decrypted: int
    # How many of the reports the reader may read do not follow the form.
    off_form: int = 0
    # Messages from reporters nobody at the desk has read yet, by report id.
    unread: dict[UUID, int] = field(default_factory=dict)


def _workflow_filtered(query: Select[Report], filters: ReportFilter) -> Select[Report]:
    if filters.status is not None:
        query = query.where(Report.status == filters.status)
    if filters.priority is not None:
        query = query.where(Report.priority == filters.priority)
    if filters.assignee:
        query = query.join(User, User.id == Report.assignee_id).where(User.name == filters.assignee)
    if filters.received_from is not None:
        query = query.where(Report.received_on >= filters.received_from)
    if filters.received_to is not None:
        query = query.where(Report.received_on <= filters.received_to)
    if filters.off_form:
        query = query.where(Report.follows_form.is_(False))
    # Urgent first (unknown counts as urgent until someone has opened it), then newest.
    return query.order_by(*REPORT_LIST_ORDER)


def _matches(document: Any, tags: list[str], filters: ReportFilter) -> bool:
    """Whether a decrypted report meets the content filters.

    ``document`` is the report as decrypted, before it is checked against the form (only the
    reports shown are): anything that is not where the form puts it does not match. It comes
    from the JSON parser, which makes exact dicts, lists and strings and nothing derived from
    them, so the exact types are asked (``type(x) is dict``: cheaper than ``isinstance`` for
    every report a search reads); any other shape, whatever a reporter sealed, matches nothing.
    """
    if type(document) is not dict:
        return False
    if filters.incident_type:
        types = document.get("incident_types")
        if type(types) is not list or filters.incident_type not in types:
            return False
    location = document.get("location")
    if type(location) is not dict:
        location = _NOTHING
    if filters.governorate and location.get("governorate") != filters.governorate:
        return False
    if filters.text:
        perpetrator = document.get("perpetrator")
        if type(perpetrator) is not dict:
            perpetrator = _NOTHING
        texts = [
            document.get("narrative"),
            location.get("district"),
            perpetrator.get("identifiers"),
        ]
        haystack = " ".join([text if type(text) is str else "" for text in texts] + tags)
        if filters.text.casefold() not in haystack.casefold():
            return False
    return True


def _open_entry(
    session: Session, report: Report, keys: ReaderKeys, decrypted: reading.Decrypted | None
) -> ListEntry:
    """One report opened for a list, its urgency learned if nobody had opened it yet."""
    view, dek = reading.open_view_with_key(session, report, keys, decrypted)
    reading.learn(report, view)
    return ListEntry(
        view=view,
        urgent=bool(report.urgent) if report.urgent is not None else True,
        risk=report.risk.value if report.risk else None,
        tags=reading.report_tags(report, dek),
    )


class Opener:
    """Opens the reports of one listing, and records each one it decrypted for the audit.

    Nothing decrypted is kept beyond what the page shows: a first listing may classify
    thousands of new reports, and a search reads every report (a report classified and then
    shown is decrypted twice, and audited once).
    """

    def __init__(self, session: Session, keys: ReaderKeys) -> None:
        self.keys = keys
        self._session = session
        # Every report decrypted for this listing (id: whether it opened).
        self.opened: dict[UUID, bool] = {}

    def entry(self, report: Report, decrypted: reading.Decrypted | None = None) -> ListEntry:
        entry = _open_entry(self._session, report, self.keys, decrypted)
        self.opened[report.public_id] = entry.view.content is not None
        return entry

    def classify(self, report: Report) -> None:
        """Learn whether a report nobody has opened yet is urgent."""
        view, _dek = reading.open_view_with_key(self._session, report, self.keys)
        self.opened[report.public_id] = view.content is not None
        reading.learn(report, view)

    def decrypt(self, report_id: UUID, sealed: Sealed, body: bytes) -> reading.Decrypted:
        decrypted = reading.decrypt(self.keys, report_id=report_id, sealed=sealed, body=body)
        self.opened[report_id] = decrypted.plaintext is not None
        return decrypted

    def scan(
        self, query: Select[Report], *columns: Any
    ) -> Generator[tuple[UUID, Sequence[Any], reading.Decrypted]]:
        """Every report of ``query`` decrypted in turn (its id, its ``columns``, and the report
        as decrypted): what a search, and the statistics, cost.

        Reads only the columns it opens and those asked for (no objects), from one query read
        as it goes (a server-side cursor on PostgreSQL): paging through the reports by OFFSET
        would make the database walk past every row read so far, again and again. Nothing
        decrypted is kept; a caller that stops early closes the generator.
        """
        sealed_columns = self.keys.sealed_dek_columns()
        scan = query.with_only_columns(Report.public_id, Report.body, *sealed_columns, *columns)
        # Binary results on PostgreSQL: the bodies and data keys arrive as bytes, not as hex
        # text that the server writes out and the client reads back (db.BINARY_RESULTS).
        options = {"yield_per": SEARCH_BATCH, db.BINARY_RESULTS: True}
        rows = self._session.connection().execute(scan.execution_options(**options))
        keys, opened, decrypt = self.keys, self.opened, reading.decrypt
        with contextlib.closing(rows):
            for report_id, body, suite, key_id, sealed_dek, *values in rows:
                sealed = Sealed(suite, key_id, sealed_dek)
                decrypted = decrypt(keys, report_id=report_id, sealed=sealed, body=body)
                # Recorded before the caller sees it: the audit names every report decrypted.
                opened[report_id] = decrypted.plaintext is not None
                yield report_id, values, decrypted


def _classify_new(session: Session, reader: UnlockedUser, opener: Opener) -> None:
    """Open the reports nobody has opened yet, so urgent ones reach the top of the list.

    The ids are read first: classifying a report takes it out of ``urgent IS NULL``, so paging
    through that query by offset would skip reading.
    """
    ids = list(
        session.execute(
            reading.visible(reader)
            .with_only_columns(Report.id)
            .where(Report.follows_form.is_(None))
            .order_by(Report.id)
        ).scalars()
    )
    for start in range(0, len(ids), SCAN_BATCH):
        chunk = ids[start : start + SCAN_BATCH]
        query = select(Report).where(Report.id.in_(chunk)).order_by(Report.id)
        for report in session.execute(query).scalars():
            opener.classify(report)


def _decoded(plaintext: bytes) -> Any:
    try:
        return received.parse(plaintext)
    except received.Unreadable:
        return None  # matches nothing; shown, as received, only when something else lists it


def _search(
    query: Select[Report],
    filters: ReportFilter,
    opener: Opener,
    *,
    skip: int,
    wanted: int | None,
) -> dict[int, reading.Decrypted]:
    """The reports of ``query`` that meet the content filters, after the first ``skip`` of
    them, until ``wanted`` are found: row id, and the report as decrypted.

    A search decrypts every report until it has enough (``Opener.scan``) and matches the
    decrypted document as it is; only the reports shown are then checked against the form and
    rendered.
    """
    found: dict[int, reading.Decrypted] = {}
    with contextlib.closing(opener.scan(query, Report.id, Report.tags)) as scanned:
        for report_id, (row_id, tags), decrypted in scanned:
            if decrypted.plaintext is None:
                continue
            document = _decoded(decrypted.plaintext)
            words = reading.decrypt_tags(report_id, tags, decrypted.dek)
            if not _matches(document, words, filters):
                continue
            if skip:
                skip -= 1
                continue
            found[row_id] = decrypted
            if wanted is not None and len(found) == wanted:
                break
    return found


def list_page(
    session: Session,
    *,
    reader: UnlockedUser,
    filters: ReportFilter,
    page: int,
    secrets: ServerSecrets,
    page_size: int | None = PAGE_SIZE,
) -> ListPage:
    """One page of the reports ``reader`` may read, urgent first, then newest; audited.

    ``page_size=None``: every report on one page (the command line's ``reports list``).
    """
    if page < 1:
        raise Invalid(N_("pages are numbered from 1"))
    opener = Opener(session, reading.reader_keys(session, reader))
    _classify_new(session, reader, opener)
    query = _workflow_filtered(reading.visible(reader), filters)
    skip = (page - 1) * page_size if page_size is not None else 0
    # One more than a page: whether a next page exists.
    wanted = page_size + 1 if page_size is not None else None
    page_reports: list[tuple[Report, reading.Decrypted | None]]
    if filters.reads_content:
        found = _search(query, filters, opener, skip=skip, wanted=wanted)
        loaded = session.execute(select(Report).where(Report.id.in_(found))).scalars()
        by_id = {report.id: report for report in loaded}
        page_reports = [(by_id[row_id], decrypted) for row_id, decrypted in found.items()]
    else:
        rows = session.execute(query.limit(wanted).offset(skip)).scalars()
        page_reports = [(report, None) for report in rows]
    has_next = page_size is not None and len(page_reports) > page_size
    entries = [opener.entry(*shown) for shown in page_reports[:page_size]]
    session.flush()
    off_form = session.execute(
        select(func.count()).select_from(
            reading.visible(reader)
            .with_only_columns(Report.id)
            .where(Report.follows_form.is_(False))
            .subquery()
        )
    ).scalar_one()
    reading.audit_reading(
        session,
        reader=reader.name,
        opened=opener.opened,
        secrets=secrets,
        subject=None,
        detail={
            "shown": [str(entry.view.id) for entry in entries],
            "search": filters.reads_content,
        },
    )
    return ListPage(
        entries=entries,
        page=page,
        has_next=has_next,
        decrypted=len(opener.opened),
        off_form=off_form,
        unread=conversation.unread_counts(session, [entry.view.id for entry in entries]),
    )
