"""Reading reports: who may read which, opening them with the reader's own keys, and the audit entry
of every reading. Every way a report is read (the dashboard's list, search and report page,
and the command line) goes through here.

Least privilege holds twice: a role check here, and the keys themselves. A coordinator opens
a report's data key with a desk key they were vetted for; a case worker only with the grant
made when the report was assigned to them; an auditor or an unvetted user holds nothing.
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from hrd_reports import received
from hrd_reports.content import is_urgent
from hrd_reports.crypto.aead import aes_gcm_decrypt
from hrd_reports.crypto.contexts import Purpose, bind
from hrd_reports.crypto.envelope import decrypt_report_body, open_dek
from hrd_reports.crypto.errors import CryptoError
from hrd_reports.crypto.xwing import PrivateKey, Sealed
from hrd_reports.i18n import N_
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import Report, ReportGrant, Role, User
from hrd_reports.services import audit, keyring
from hrd_reports.services.credentials import UnlockedUser
from hrd_reports.services.errors import (
    DataIntegrityError,
    Forbidden,
    Invalid,
    NotFound,
    ServiceError,
)

# The roles that read reports (with their keys); auditors and the unvetted read none.
READER_ROLES = frozenset({Role.ADMIN, Role.COORDINATOR, Role.CASE_WORKER})


@dataclass(frozen=True)
class ReportView:
    id: UUID
    received_on: dt.date
    status: str
    priority: str | None
    assignee: str | None
    server_sealed: bool
    content: dict[str, Any] | None = field(repr=False)
    problem: str | None = None
    # Why the content is missing, to raise when one report was asked for by id.
    refusal: ServiceError | None = field(default=None, repr=False, compare=False)

    @property
    def follows_form(self) -> bool:
        """Opened, and as the form makes a report (see ``hrd_reports.received``)."""
        return self.content is not None and received.follows_form(self.content)

    def excerpt(self) -> str:
        """The start of the narrative on one line, its control characters written out."""
        if self.content is None:
            return ""
        return received.visible(" ".join(str(self.content.get("narrative", "")).split())[:60])

    def summary(self) -> str:
        """One line for a list: the incident types and the start of the narrative.

        Its control characters are written out: the line goes to terminals as well as pages.
        """
        if self.content is None:
            return f"[{self.problem}]"
        types = ", ".join(str(kind) for kind in self.content.get("incident_types", []))
        narrative = " ".join(str(self.content.get("narrative", "")).split())
        return received.visible(f"{types}: {narrative[:60]}" if types else narrative[:60])


@dataclass
class ReaderKeys:
    """What one reader can open: desk keys (key holders) or per-report grants (case workers)."""

    reader: UnlockedUser
    intake_keys: dict[str, PrivateKey]
    # The key that opens each key id met so far (``holder``).
    _holders: dict[str, PrivateKey] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def require_grant(self, session: Session, report: Report) -> ReportGrant:
        grant = session.execute(
            select(ReportGrant).where(
                ReportGrant.report_id == report.id, ReportGrant.user_id == self.reader.user.id
            )
        ).scalar_one_or_none()
        if grant is None:
            raise Forbidden(
                N_("report %(report)s is not assigned to %(name)s"),
                report=report.public_id,
                name=self.reader.name,
            )
        return grant

    def sealed_dek(self, session: Session, report: Report) -> Sealed:
        """The copy of the report's data key this reader opens: the desk's or their grant."""
        if self.reader.user.role == Role.CASE_WORKER:
            grant = self.require_grant(session, report)
            return Sealed(grant.suite, grant.holder_key_id, grant.sealed_dek)
        return Sealed(report.dek_suite, report.dek_key_id, report.sealed_dek)

    def sealed_dek_columns(self) -> tuple[Any, ...]:
        """``sealed_dek`` as columns (suite, key id, ciphertext), for a scan that reads many
        reports without loading each as an object; a case worker's query joins the grant."""
        if self.reader.user.role == Role.CASE_WORKER:
            return (ReportGrant.suite, ReportGrant.holder_key_id, ReportGrant.sealed_dek)
        return (Report.dek_suite, Report.dek_key_id, Report.sealed_dek)

    def holder(self, key_id: str) -> PrivateKey:
        """The private key that opens a data key sealed to ``key_id``: a case worker's own
        (their grants are sealed to it), a key holder's intake key; Forbidden otherwise.

        Looked up once per key for the reader, not once per report: a search or the statistics
        open every report, each with the same few keys.
        """
        holder = self._holders.get(key_id)
        if holder is None:
            if self.reader.user.role == Role.CASE_WORKER:
                holder = self.reader.private_key
            elif key_id in self.intake_keys:
                holder = self.intake_keys[key_id]
            else:
                raise Forbidden(
                    N_("%(name)s does not hold intake key %(key)s"),
                    name=self.reader.name,
                    key=key_id,
                )
            self._holders[key_id] = holder
        return holder

    def open_sealed(self, sealed: Sealed, report_id: UUID) -> bytes:
        holder = self.holder(sealed.key_id)
        try:
            return open_dek(sealed, report_id=report_id, holder=holder)
        except CryptoError as exc:
            raise keyring.integrity_failure("the data key of report", report_id) from exc

    def data_key(self, session: Session, report: Report) -> bytes:
        return self.open_sealed(self.sealed_dek(session, report), report.public_id)


class Decrypted(NamedTuple):
    """One report's data key and plaintext, or why it could not be opened."""

    dek: bytes | None
    plaintext: bytes | None
    refusal: ServiceError | None = None


def decrypt(keys: ReaderKeys, *, report_id: UUID, sealed: Sealed, body: bytes) -> Decrypted:
    """One report opened with the reader's keys; what refused it, instead of raising.

    Every report of a search or of the statistics comes through here: the refusals are
    caught as they are raised (``try``, free when nothing fails) rather than by a context
    manager built for each report.
    """
    try:
        dek = keys.open_sealed(sealed, report_id)
        try:
            plaintext = decrypt_report_body(dek, body, report_id=report_id)
        except CryptoError as exc:
            raise keyring.integrity_failure("report", report_id) from exc
    except (DataIntegrityError, Forbidden) as exc:
        # One damaged or unopenable report does not hide the others from a list.
        return Decrypted(None, None, exc)
    return Decrypted(dek, plaintext)


def reader_keys(session: Session, reader: UnlockedUser) -> ReaderKeys:
    user = reader.user
    if user.role == Role.AUDITOR:
        raise Forbidden(N_("auditors see the audit log and statistics, never report content"))
    if not user.vetted:
        raise Forbidden(
            N_("%(name)s is not vetted; a key holder must vet them first"), name=user.name
        )
    if user.role == Role.CASE_WORKER:
        return ReaderKeys(reader=reader, intake_keys={})
    intake_keys = keyring.unlock_intake_keys(session, user=user, private_key=reader.private_key)
    if not intake_keys:
        raise Forbidden(N_("%(name)s holds no desk key"), name=user.name)
    return ReaderKeys(reader=reader, intake_keys=intake_keys)


def readable_report_ids(user: User) -> Select[Any] | None:
    """The ids of the reports ``user`` may read, by role, vetting and assignment, without
    opening any key: None for someone who reads none. For counts that decrypt nothing (the
    unread messages in the dashboard's header, the desk's notifications)."""
    if user.disabled or not user.vetted or user.role not in READER_ROLES:
        return None
    if user.role == Role.CASE_WORKER:
        return select(ReportGrant.report_id).where(ReportGrant.user_id == user.id)
    return select(Report.id)


def visible(reader: UnlockedUser) -> Select[Report]:
    query = select(Report)
    if reader.user.role == Role.CASE_WORKER:
        query = query.join(ReportGrant, ReportGrant.report_id == Report.id).where(
            ReportGrant.user_id == reader.user.id
        )
    return query


def get_report(session: Session, report_id: str | UUID) -> Report:
    try:
        public_id = report_id if isinstance(report_id, UUID) else UUID(report_id)
    except ValueError as exc:
        raise Invalid(N_("%(text)r is not a report id"), text=report_id) from exc
    report = session.execute(
        select(Report).where(Report.public_id == public_id)
    ).scalar_one_or_none()
    if report is None:
        raise NotFound(N_("there is no report %(report)s"), report=public_id)
    return report


def open_view_with_key(
    session: Session, report: Report, keys: ReaderKeys, decrypted: Decrypted | None = None
) -> tuple[ReportView, bytes | None]:
    """The report decrypted (unless ``decrypted`` already holds it), with its data key (None
    when it could not be opened)."""
    if decrypted is None:
        try:
            sealed = keys.sealed_dek(session, report)
        except Forbidden as exc:
            decrypted = Decrypted(None, None, exc)
        else:
            decrypted = decrypt(keys, report_id=report.public_id, sealed=sealed, body=report.body)
    # Whatever opened is shown: as the form's fields, or as the text it arrived as.
    content = received.read(decrypted.plaintext) if decrypted.plaintext is not None else None
    view = ReportView(
        id=report.public_id,
        received_on=report.received_on,
        status=report.status.value,
        priority=report.priority.value if report.priority else None,
        assignee=report.assignee.name if report.assignee else None,
        server_sealed=report.server_sealed,
        content=content,
        problem=decrypted.refusal.message if decrypted.refusal else None,
        refusal=decrypted.refusal,
    )
    return view, decrypted.dek


def open_view(session: Session, report: Report, keys: ReaderKeys) -> ReportView:
    return open_view_with_key(session, report, keys)[0]


def learn(report: Report, view: ReportView) -> None:
    """Whether the report is urgent and follows the form: learned once, by the first reader
    who opens it, and kept in clear like priority, so the list is ordered and counted without
    opening every report."""
    if view.content is not None and report.follows_form is None:
        report.urgent, report.follows_form = classification(view.content)


def classification(content: dict[str, Any]) -> tuple[bool, bool]:
    """What the first reader of a report learns (``learn``): whether it is urgent, and
    whether it follows the form."""
    return is_urgent(content), received.follows_form(content)


def opened_views(views: Iterable[ReportView]) -> dict[UUID, bool]:
    """For ``audit_reading``: each view's report, and whether it opened."""
    return {view.id: view.content is not None for view in views}


def audit_reading(
    session: Session,
    *,
    reader: str,
    opened: Mapping[UUID, bool],
    secrets: ServerSecrets,
    subject: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record that ``reader`` decrypted the reports of ``opened`` (id: whether it opened)."""
    audit.record_withdrawals(session, audit_secret=secrets.audit)
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=reader,
        action="report.decrypt",
        subject=subject,
        detail={
            "reports": [str(report) for report, ok in opened.items() if ok],
            "failed": [str(report) for report, ok in opened.items() if not ok],
            **(detail or {}),
        },
    )


def writable(session: Session, reader: UnlockedUser, report_id: str | UUID) -> tuple[Report, bytes]:
    """A report the reader may change, with its key: key holders any, case workers their own."""
    keys = reader_keys(session, reader)
    audit.lock_for_change(session)
    report = get_report(session, report_id)
    if reader.user.role == Role.CASE_WORKER:
        keys.require_grant(session, report)
    dek = keys.data_key(session, report)
    return report, dek


def tags_aad(report_id: UUID) -> bytes:
    return bind(Purpose.REPORT_TAGS, report_id)


def decrypt_tags(report_id: UUID, tags: bytes | None, dek: bytes | None) -> list[str]:
    if tags is None or dek is None:
        return []
    try:
        plaintext = aes_gcm_decrypt(dek, tags, aad=tags_aad(report_id))
    except CryptoError as exc:
        raise keyring.integrity_failure("the tags of report", report_id) from exc
    # Only the desk writes tags; read within the same bounds as a report all the same, so
    # that a row written past the application (a restored or altered database) breaks nothing.
    try:
        value = received.parse(plaintext, strict=True)
    except received.Unreadable:
        return []
    if not isinstance(value, list):
        return []
    return [tag for tag in value if isinstance(tag, str) and received.encodable(tag)]


def report_tags(report: Report, dek: bytes | None) -> list[str]:
    return decrypt_tags(report.public_id, report.tags, dek)
