"""Casework on one report: its page (content, the desk's notes and tags, links and the
conversation), its workflow, tags, notes and links. Each reading and each change is audited.
"""

import datetime as dt
import enum
import json
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from hrd_reports import received
from hrd_reports.crypto.aead import aes_gcm_decrypt, aes_gcm_encrypt
from hrd_reports.crypto.contexts import Purpose, bind
from hrd_reports.i18n import N_
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import (
    Priority,
    Report,
    ReportLink,
    ReportNote,
    ReportStatus,
    RiskLevel,
    Role,
)
from hrd_reports.services import audit, conversation, evidence, keyring, reading
from hrd_reports.services.clock import utc_today
from hrd_reports.services.credentials import UnlockedUser
from hrd_reports.services.errors import Conflict, Forbidden, Invalid
from hrd_reports.services.reading import ReportView

MAX_TAGS = 20
MAX_TAG_LENGTH = 40
MAX_NOTE_LENGTH = 20_000


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
    messages: list[conversation.ThreadMessage] = field(default_factory=list)
    # Evidence files, the report's own and its messages'.
    files: list[evidence.FileView] = field(default_factory=list)
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
            reading.visible(reader)
            .with_only_columns(Report.public_id)
            .where(linked)
            .order_by(Report.id)
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
    keys = reading.reader_keys(session, reader)
    report = reading.get_report(session, report_id)
    if reader.user.role == Role.CASE_WORKER:
        keys.require_grant(session, report)
    view, dek = reading.open_view_with_key(session, report, keys)
    notes: list[Note] = []
    tags: list[str] = []
    messages: list[conversation.ThreadMessage] = []
    files: list[evidence.FileView] = []
    if dek is not None:
        messages = conversation.thread(session, report, dek)
        files = evidence.list_files(session, report, dek)
        reading.learn(report, view)
        tags = reading.report_tags(report, dek)
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
    reading.audit_reading(
        session,
        reader=reader.name,
        opened=reading.opened_views([view]),
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
        files=files,
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
    report, _ = reading.writable(session, reader, report_id)
    changes: dict[str, Any] = {}
    if status is not None and status != report.status:
        changes["status"] = [report.status.value, status.value]
        report.status = status
        # The day only, as everywhere: retention periods count from it.
        report.status_on = utc_today()
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
    report, dek = reading.writable(session, reader, report_id)
    payload = json.dumps(tags, ensure_ascii=False).encode("utf-8")
    report.tags = (
        aes_gcm_encrypt(dek, payload, aad=reading.tags_aad(report.public_id)) if tags else None
    )
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
    report, dek = reading.writable(session, reader, report_id)
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
    report, _ = reading.writable(session, reader, report_id)
    other, _ = reading.writable(session, reader, other_id)
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
