"""Triage: the report list with its filters and search, and the desk's work on a report.

Workflow fields (status, priority, risk, assignee, day received, the urgent flag) are in
clear and filtered in the database. Everything that comes from the report or from the desk's
own words (incident types, governorate, text, tags, notes) is encrypted under the report's
key, so those filters and the search decrypt, within the request, only what the reader may
open; each decryption is audited, and nothing decrypted is kept.
"""

import contextlib
import datetime as dt
import enum
import json
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import Select, case, delete, func, or_, select
from sqlalchemy.orm import Session

from hrd_reports import received
from hrd_reports.content import is_urgent
from hrd_reports.crypto.aead import aes_gcm_decrypt, aes_gcm_encrypt
from hrd_reports.crypto.contexts import Purpose, bind
from hrd_reports.crypto.xwing import Sealed
from hrd_reports.i18n import N_
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import (
    REPORT_LIST_ORDER,
    Destroyer,
    Priority,
    Report,
    ReportGrant,
    ReportLink,
    ReportNote,
    ReportStatus,
    RiskLevel,
    Role,
    User,
    WithdrawnReport,
)
from hrd_reports.services import audit, keyring, messaging, reports
from hrd_reports.services.clock import utc_today
from hrd_reports.services.errors import Conflict, Forbidden, Invalid
from hrd_reports.services.reports import ReaderKeys, ReportView
from hrd_reports.services.users import UnlockedUser

PAGE_SIZE = 50
# Reports opened per database round trip while new reports are classified, and read per
# fetch while a filter or search scans.
SCAN_BATCH = 200
SEARCH_BATCH = 500
MAX_TAGS = 20
MAX_TAG_LENGTH = 40
MAX_NOTE_LENGTH = 20_000


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


def _visible(reader: UnlockedUser) -> Select[Report]:
    query = select(Report)
    if reader.user.role == Role.CASE_WORKER:
        query = query.join(ReportGrant, ReportGrant.report_id == Report.id).where(
            ReportGrant.user_id == reader.user.id
        )
    return query


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


def _tags_aad(report_id: UUID) -> bytes:
    return bind(Purpose.REPORT_TAGS, report_id)


def _decrypt_tags(report_id: UUID, tags: bytes | None, dek: bytes | None) -> list[str]:
    if tags is None or dek is None:
        return []
    with keyring.integrity_checked("the tags of report", report_id):
        plaintext = aes_gcm_decrypt(dek, tags, aad=_tags_aad(report_id))
    # Only the desk writes tags; read within the same bounds as a report all the same, so
    # that a row written past the application (a restored or altered database) breaks nothing.
    try:
        value = received.parse(plaintext, strict=True)
    except received.Unreadable:
        return []
    if not isinstance(value, list):
        return []
    return [tag for tag in value if isinstance(tag, str) and received.encodable(tag)]


def _tags(report: Report, dek: bytes | None) -> list[str]:
    return _decrypt_tags(report.public_id, report.tags, dek)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _matches(document: Any, tags: list[str], filters: ReportFilter) -> bool:
    """Whether a decrypted report meets the content filters.

    ``document`` is the report as decrypted, before it is checked against the form (only the
    reports shown are): anything that is not where the form puts it does not match.
    """
    if not isinstance(document, dict):
        return False
    if filters.incident_type:
        types = document.get("incident_types")
        if not isinstance(types, list) or filters.incident_type not in types:
            return False
    location = _mapping(document.get("location"))
    if filters.governorate and location.get("governorate") != filters.governorate:
        return False
    if filters.text:
        perpetrator = _mapping(document.get("perpetrator"))
        haystack = " ".join(
            [
                _string(document.get("narrative")),
                _string(location.get("district")),
                _string(perpetrator.get("identifiers")),
                *tags,
            ]
        ).casefold()
        if filters.text.casefold() not in haystack:
            return False
    return True


def _open_entry(
    session: Session, report: Report, keys: ReaderKeys, decrypted: reports.Decrypted | None
) -> ListEntry:
    """One report opened for a list, its urgency learned if nobody had opened it yet."""
    view, dek = reports.open_view_with_key(session, report, keys, decrypted)
    _learn(report, view)
    return ListEntry(
        view=view,
        urgent=bool(report.urgent) if report.urgent is not None else True,
        risk=report.risk.value if report.risk else None,
        tags=_tags(report, dek),
    )


def _learn(report: Report, view: ReportView) -> None:
    """Whether the report is urgent and follows the form: learned once, by the first reader
    who opens it, and kept in clear like priority, so the list is ordered and counted without
    opening every report."""
    if view.content is not None and report.follows_form is None:
        report.urgent = is_urgent(view.content)
        report.follows_form = view.follows_form


class _Opener:
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

    def entry(self, report: Report, decrypted: reports.Decrypted | None = None) -> ListEntry:
        entry = _open_entry(self._session, report, self.keys, decrypted)
        self.opened[report.public_id] = entry.view.content is not None
        return entry

    def classify(self, report: Report) -> None:
        """Learn whether a report nobody has opened yet is urgent."""
        view, _dek = reports.open_view_with_key(self._session, report, self.keys)
        self.opened[report.public_id] = view.content is not None
        _learn(report, view)

    def decrypt(self, report_id: UUID, sealed: Sealed, body: bytes) -> reports.Decrypted:
        decrypted = reports.decrypt(self.keys, report_id=report_id, sealed=sealed, body=body)
        self.opened[report_id] = decrypted.plaintext is not None
        return decrypted


def _classify_new(session: Session, reader: UnlockedUser, opener: _Opener) -> None:
    """Open the reports nobody has opened yet, so urgent ones reach the top of the list.

    The ids are read first: classifying a report takes it out of ``urgent IS NULL``, so paging
    through that query by offset would skip reports.
    """
    ids = list(
        session.execute(
            _visible(reader)
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
    session: Session,
    query: Select[Report],
    filters: ReportFilter,
    opener: _Opener,
    *,
    skip: int,
    wanted: int,
) -> dict[int, reports.Decrypted]:
    """The reports of ``query`` that meet the content filters, after the first ``skip`` of
    them, until ``wanted`` are found: row id, and the report as decrypted.

    A search decrypts every report until it has enough, so this loop is what a search costs:
    it reads only the columns it opens (no objects), and matches the decrypted document as it
    is; only the reports shown are then checked against the form and rendered.
    """
    columns = (Report.id, Report.public_id, Report.body, Report.tags)
    scan = query.with_only_columns(*columns, *opener.keys.sealed_dek_columns())
    found: dict[int, reports.Decrypted] = {}
    # One query, read as it goes (a server-side cursor on PostgreSQL): paging through the
    # list by OFFSET would make the database walk past every row read so far, again and again.
    rows = session.execute(scan.execution_options(yield_per=SEARCH_BATCH))
    with contextlib.closing(rows):
        for row_id, report_id, body, tags, *sealed in rows:
            decrypted = opener.decrypt(report_id, Sealed(*sealed), body)
            if decrypted.plaintext is None:
                continue
            document = _decoded(decrypted.plaintext)
            words = _decrypt_tags(report_id, tags, decrypted.dek)
            if not _matches(document, words, filters):
                continue
            if skip:
                skip -= 1
                continue
            found[row_id] = decrypted
            if len(found) == wanted:
                break
    return found


def list_page(
    session: Session,
    *,
    reader: UnlockedUser,
    filters: ReportFilter,
    page: int,
    secrets: ServerSecrets,
    page_size: int = PAGE_SIZE,
) -> ListPage:
    """One page of the reports ``reader`` may read, urgent first, then newest; audited."""
    if page < 1:
        raise Invalid(N_("pages are numbered from 1"))
    opener = _Opener(session, reports.reader_keys(session, reader))
    _classify_new(session, reader, opener)
    query = _workflow_filtered(_visible(reader), filters)
    skip = (page - 1) * page_size
    page_reports: list[tuple[Report, reports.Decrypted | None]]
    if filters.reads_content:
        found = _search(session, query, filters, opener, skip=skip, wanted=page_size + 1)
        loaded = session.execute(select(Report).where(Report.id.in_(found))).scalars()
        by_id = {report.id: report for report in loaded}
        page_reports = [(by_id[row_id], decrypted) for row_id, decrypted in found.items()]
    else:
        rows = session.execute(query.limit(page_size + 1).offset(skip)).scalars()
        page_reports = [(report, None) for report in rows]
    has_next = len(page_reports) > page_size
    entries = [opener.entry(*shown) for shown in page_reports[:page_size]]
    session.flush()
    off_form = session.execute(
        select(func.count()).select_from(
            _visible(reader)
            .with_only_columns(Report.id)
            .where(Report.follows_form.is_(False))
            .subquery()
        )
    ).scalar_one()
    reports.audit_reading(
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
        unread=messaging.unread_counts(session, [entry.view.id for entry in entries]),
    )


@dataclass(frozen=True)
class Note:
    id: UUID
    author: str
    written_on: dt.date
    text: str


@dataclass(frozen=True)
class ReportDetail:
    view: ReportView
    urgent: bool
    risk: str | None
    tags: list[str]
    notes: list[Note]
    # The linked reports the reader may open. A case worker is never told the ids of the
    # others (reports assigned to someone else, whose existence and id are not theirs to
    # learn): they are only counted.
    links: list[UUID]
    hidden_links: int
    messages: list[messaging.ThreadMessage] = field(default_factory=list)
    # False once the reporter withdrew the report: nobody would read a reply.
    can_reply: bool = False
    withdrawn_on: dt.date | None = None


def _note_aad(report: Report, note_id: UUID) -> bytes:
    return bind(Purpose.REPORT_NOTE, report.public_id, note_id)


def _links(session: Session, reader: UnlockedUser, report: Report) -> tuple[list[UUID], int]:
    """The ids of the linked reports ``reader`` may open, and how many others are linked."""
    other = case(
        (ReportLink.report_id == report.id, ReportLink.linked_id), else_=ReportLink.report_id
    )
    linked = Report.id.in_(
        select(other).where(
            or_(ReportLink.report_id == report.id, ReportLink.linked_id == report.id)
        )
    )
    shown = list(
        session.execute(
            _visible(reader).with_only_columns(Report.public_id).where(linked).order_by(Report.id)
        ).scalars()
    )
    total = session.execute(select(func.count()).select_from(Report).where(linked)).scalar_one()
    return shown, total - len(shown)


def show(
    session: Session, *, reader: UnlockedUser, report_id: str | UUID, secrets: ServerSecrets
) -> ReportDetail:
    """One report with the desk's tags and notes, decrypted and audited.

    A case worker asking for a report not assigned to them gets ``Forbidden`` before anything
    is opened; the caller records the refusal (the dashboard audits it as access.refused). A
    report that cannot be opened is returned with ``view.refusal`` set, and audited as failed.
    """
    keys = reports.reader_keys(session, reader)
    report = reports.get_report(session, report_id)
    if reader.user.role == Role.CASE_WORKER:
        keys.grant_for(session, report)
    view, dek = reports.open_view_with_key(session, report, keys)
    notes: list[Note] = []
    tags: list[str] = []
    messages: list[messaging.ThreadMessage] = []
    if dek is not None:
        messages = messaging.thread(session, report, dek)
        _learn(report, view)
        tags = _tags(report, dek)
        for row in session.execute(
            select(ReportNote).where(ReportNote.report_id == report.id).order_by(ReportNote.id)
        ).scalars():
            with keyring.integrity_checked("a note on report", report.public_id):
                text = aes_gcm_decrypt(dek, row.body, aad=_note_aad(report, row.public_id))
            # Written by the desk; read as untrusted all the same (see ``_decrypt_tags``).
            notes.append(Note(row.public_id, row.author, row.written_on, received.text_of(text)[0]))
    session.flush()
    # A reporter's client can send a message that does not open; the log names it, so that
    # the desk can tell a damaged message from one it was never shown.
    unopened = [str(message.id) for message in messages if message.text is None]
    reports.audit_reading(
        session,
        reader=reader.name,
        opened=reports.opened_views([view]),
        secrets=secrets,
        subject=str(report.public_id),
        detail={"messages_failed": unopened} if unopened else None,
    )
    links, hidden_links = _links(session, reader, report)
    return ReportDetail(
        view=view,
        urgent=bool(report.urgent) if report.urgent is not None else True,
        risk=report.risk.value if report.risk else None,
        tags=tags,
        notes=notes,
        links=links,
        hidden_links=hidden_links,
        messages=messages,
        can_reply=report.withdrawn_on is None,
        withdrawn_on=report.withdrawn_on,
    )


class Keep(enum.Enum):
    """A field the request leaves as it is (as opposed to ``None``, which clears it)."""

    KEEP = "keep"


KEEP = Keep.KEEP


def update_workflow(
    session: Session,
    *,
    reader: UnlockedUser,
    report_id: str | UUID,
    status: ReportStatus | None,
    priority: Priority | Keep | None,
    risk: RiskLevel | None,
    secrets: ServerSecrets,
) -> None:
    """Status, priority and risk; priority is a coordinator's call, not a case worker's.

    ``priority=None`` clears it; ``KEEP`` leaves it as it is, which is what a case worker's
    form sends, so that a priority a coordinator set meanwhile is neither refused nor undone.
    """
    report, _ = reports.writable(session, reader, report_id)
    changes: dict[str, Any] = {}
    if status is not None and status != report.status:
        changes["status"] = [report.status.value, status.value]
        report.status = status
    if not isinstance(priority, Keep) and priority != report.priority:
        if reader.user.role == Role.CASE_WORKER:
            raise Forbidden(N_("priority is set by a coordinator"))
        changes["priority"] = [v.value if v else None for v in (report.priority, priority)]
        report.priority = priority
    if risk != report.risk:
        changes["risk"] = [v.value if v else None for v in (report.risk, risk)]
        report.risk = risk
    if not changes:
        return
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=reader.name,
        action="report.update",
        subject=str(report.public_id),
        detail=changes,
    )


def clean_tags(text: str) -> list[str]:
    tags: list[str] = []
    for part in text.split(","):
        tag = " ".join(part.split())
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise Invalid(N_("a tag has at most %(limit)d characters"), limit=MAX_TAG_LENGTH)
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise Invalid(N_("a report has at most %(limit)d tags"), limit=MAX_TAGS)
    return tags


def set_tags(
    session: Session,
    *,
    reader: UnlockedUser,
    report_id: str | UUID,
    tags: list[str],
    secrets: ServerSecrets,
) -> None:
    report, dek = reports.writable(session, reader, report_id)
    payload = json.dumps(tags, ensure_ascii=False).encode("utf-8")
    report.tags = aes_gcm_encrypt(dek, payload, aad=_tags_aad(report.public_id)) if tags else None
    session.flush()
    # How many, never which: the tags are as sensitive as the report.
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=reader.name,
        action="report.tags",
        subject=str(report.public_id),
        detail={"count": len(tags)},
    )


def add_note(
    session: Session,
    *,
    reader: UnlockedUser,
    report_id: str | UUID,
    text: str,
    secrets: ServerSecrets,
) -> UUID:
    if not text.strip():
        raise Invalid(N_("the note is empty"))
    if len(text) > MAX_NOTE_LENGTH:
        raise Invalid(N_("a note has at most %(limit)d characters"), limit=MAX_NOTE_LENGTH)
    report, dek = reports.writable(session, reader, report_id)
    note = ReportNote(report_id=report.id, author=reader.name, written_on=utc_today(), body=b"")
    session.add(note)
    session.flush()
    note.body = aes_gcm_encrypt(dek, text.encode("utf-8"), aad=_note_aad(report, note.public_id))
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=reader.name,
        action="report.note",
        subject=str(report.public_id),
        detail={"note": str(note.public_id)},
    )
    return note.public_id


def link_reports(
    session: Session,
    *,
    reader: UnlockedUser,
    report_id: str | UUID,
    other_id: str | UUID,
    secrets: ServerSecrets,
) -> None:
    """Mark two reports as related; the reader must be able to open both."""
    report, _ = reports.writable(session, reader, report_id)
    other, _ = reports.writable(session, reader, other_id)
    if report.id == other.id:
        raise Invalid(N_("a report cannot be linked to itself"))
    low, high = sorted((report.id, other.id))
    exists = session.execute(
        select(func.count())
        .select_from(ReportLink)
        .where(ReportLink.report_id == low, ReportLink.linked_id == high)
    ).scalar_one()
    if exists:
        raise Conflict(N_("these reports are already linked"))
    session.add(ReportLink(report_id=low, linked_id=high))
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=reader.name,
        action="report.link",
        subject=str(report.public_id),
        detail={"with": str(other.public_id)},
    )


def unassign(
    session: Session, *, keyholder: UnlockedUser, report_id: str | UUID, secrets: ServerSecrets
) -> str | None:
    """Take a report back from its assignee; a case worker's key to it is deleted."""
    reports.reader_keys(session, keyholder)
    audit.lock_for_change(session)
    keyring.require_key_holder(session, keyholder.user)
    report = reports.get_report(session, report_id)
    previous = report.assignee
    if previous is None:
        raise Conflict(N_("this report is not assigned"))
    session.execute(
        delete(ReportGrant).where(
            ReportGrant.report_id == report.id, ReportGrant.user_id == previous.id
        )
    )
    report.assignee = None
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=keyholder.name,
        action="report.unassign",
        subject=str(report.public_id),
        detail={"from": previous.name},
    )
    return previous.name


def counts(session: Session) -> dict[str, dict[str, int]]:
    """Aggregate counts for auditors and the dashboard's header: no content, no ids."""
    by_status = dict(
        session.execute(select(Report.status, func.count()).group_by(Report.status)).all()
    )
    by_priority = dict(
        session.execute(select(Report.priority, func.count()).group_by(Report.priority)).all()
    )
    destroyed = dict(
        session.execute(
            select(WithdrawnReport.destroyed_by, func.count()).group_by(
                WithdrawnReport.destroyed_by
            )
        ).all()
    )
    off_form = session.execute(
        select(func.count()).select_from(Report).where(Report.follows_form.is_(False))
    ).scalar_one()
    return {
        "withdrawn": {
            "withdrawn": int(destroyed.get(Destroyer.REPORTER, 0)),
            "destroyed_by_desk": int(destroyed.get(Destroyer.DESK, 0)),
        },
        "form": {"off_form": int(off_form)},
        "status": {status.value: int(by_status.get(status, 0)) for status in ReportStatus},
        "priority": {
            (priority.value if priority else "none"): int(count)
            for priority, count in by_priority.items()
        },
    }
