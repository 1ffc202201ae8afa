"""The database schema.

Only ciphertext, public keys and workflow fields are stored. Reports keep the day they were
received and never a finer time, and nothing about the reporter's connection: a copy of this
database must not help anyone find a reporter (DESIGN.md section 2, invariants 2 and 3).
"""

import datetime as dt
import uuid
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Role(StrEnum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    CASE_WORKER = "case_worker"
    AUDITOR = "auditor"


class WebAuthnPolicy(StrEnum):
    """Who must sign in with a security key or passkey (HRD_REQUIRE_WEBAUTHN_FOR)."""

    NONE = "none"
    # Administrators and coordinators who hold the desk key: a phished password and code
    # would open every report to whoever phished them.
    KEYHOLDERS = "keyholders"
    ALL = "all"


class IntakeKeyState(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"
    DESTROYED = "destroyed"


class ReportStatus(StrEnum):
    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    TRIAGE = "triage"
    OPEN = "open"
    ACTION = "action"
    MONITORING = "monitoring"
    CLOSED = "closed"
    DUPLICATE = "duplicate"
    OUT_OF_MANDATE = "out_of_mandate"


class Priority(StrEnum):
    P1 = "p1"
    P2 = "p2"
    P3 = "p3"
    P4 = "p4"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


def _enum(enum: type[StrEnum], name: str) -> Enum:
    # Stored as plain strings (no native PostgreSQL enum) so new values need no type change.
    return Enum(
        enum,
        name=name,
        native_enum=False,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_name)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {bytes: LargeBinary}  # noqa: RUF012 - SQLAlchemy's own protocol


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(unique=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    password_hash: Mapped[str] = mapped_column(String(255))
    public_key: Mapped[bytes]
    key_id: Mapped[str] = mapped_column(String(32))
    # HMAC under keys/binding.key of (public id, role, public key): nothing is sealed to a
    # public key the desk did not record, nor to a user whose role was changed behind its back.
    key_binding: Mapped[bytes] = mapped_column(LargeBinary(32))
    protected_private_key: Mapped[bytes]
    vetted: Mapped[bool] = mapped_column(default=False)
    disabled: Mapped[bool] = mapped_column(default=False)
    created_on: Mapped[dt.date]
    # The second factor's shared secret, encrypted under a key derived from the pepper; the
    # last time step used, so that each code works once.
    totp_secret: Mapped[bytes | None]
    totp_last_step: Mapped[int | None]
    # Per-account throttling: consecutive failed sign-ins and the end of a lock-out.
    failed_logins: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    locked_until: Mapped[dt.datetime | None]
    # The language the person chose for their dashboard; unset, it follows their browser.
    language: Mapped[str | None] = mapped_column(String(16))

    def __repr__(self) -> str:
        return f"User(name={self.name!r}, role={self.role.value!r})"


class RecoveryKey(Base):
    """The public half of an offline recovery key; its private half was shown once."""

    __tablename__ = "recovery_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    public_key: Mapped[bytes]
    key_binding: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_on: Mapped[dt.date]


class IntakeKey(Base):
    __tablename__ = "intake_keys"
    __table_args__ = (
        # At most one active key: two concurrent rotations cannot both succeed.
        Index(
            "uq_intake_keys_one_active",
            "state",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    suite: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[bytes]
    key_binding: Mapped[bytes] = mapped_column(LargeBinary(32))
    state: Mapped[IntakeKeyState] = mapped_column(_enum(IntakeKeyState, "intake_key_state"))
    created_on: Mapped[dt.date]


class IntakeKeyGrant(Base):
    """An intake private key (its seed) HPKE-sealed to one key holder or recovery key."""

    __tablename__ = "intake_key_grants"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (recovery_key_id IS NULL)", name="one_holder"),
        UniqueConstraint("intake_key_id", "user_id", name="uq_intake_key_grants_user"),
        UniqueConstraint("intake_key_id", "recovery_key_id", name="uq_intake_key_grants_recovery"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    intake_key_id: Mapped[str] = mapped_column(ForeignKey("intake_keys.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    recovery_key_id: Mapped[str | None] = mapped_column(ForeignKey("recovery_keys.id"))
    holder_key_id: Mapped[str] = mapped_column(String(32))
    suite: Mapped[str] = mapped_column(String(64))
    sealed_private_key: Mapped[bytes]
    # HMAC under keys/binding.key: a grant row made up in the database does not count as one.
    grant_binding: Mapped[bytes] = mapped_column(LargeBinary(32))

    user: Mapped[User | None] = relationship()


class Report(Base):
    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    envelope_version: Mapped[int]
    body: Mapped[bytes]
    dek_key_id: Mapped[str] = mapped_column(ForeignKey("intake_keys.id"), index=True)
    dek_suite: Mapped[str] = mapped_column(String(64))
    sealed_dek: Mapped[bytes]
    # The reporter's public key (for replies), encrypted under the report's DEK: in clear, it
    # would let anyone holding a seized receipt and a copy of the database find the report.
    reporter_key: Mapped[bytes]
    # The key of the reporter's messages (derived from the receipt), under the report's DEK;
    # absent for a report received before the follow-up conversation existed.
    message_key: Mapped[bytes | None]
    lookup_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    server_sealed: Mapped[bool] = mapped_column(default=False)
    status: Mapped[ReportStatus] = mapped_column(
        _enum(ReportStatus, "report_status"), default=ReportStatus.RECEIVED
    )
    priority: Mapped[Priority | None] = mapped_column(_enum(Priority, "priority"))
    risk: Mapped[RiskLevel | None] = mapped_column(_enum(RiskLevel, "risk_level"))
    # Set the first time a reader opens the report: it says the reporter is in danger now, or
    # reports an abduction, a detention or an attempt on a life. Like priority, a workflow
    # field in clear, so that such reports come first without opening every report.
    urgent: Mapped[bool | None]
    # Learned with ``urgent``: whether the report follows the form (None until opened). Says
    # how the report was sent (not by the desk's page), never what it says; in clear, so that
    # the list can count and filter such reports without opening every one.
    follows_form: Mapped[bool | None]
    # The desk's tags, a JSON list encrypted under the report's DEK: tags name people and
    # places as readily as the report does.
    tags: Mapped[bytes | None]
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # The day only: a finer time could be matched against a reporter's network traffic.
    received_on: Mapped[dt.date]
    # Set when the reporter withdrew it and the desk keeps a grace period before destroying
    # it (HRD_WITHDRAWAL_GRACE_DAYS); with none, a withdrawn report is destroyed at once.
    withdrawn_on: Mapped[dt.date | None]
    # The day the status last changed (None: never, since it was received): when a retention
    # period, counted from the closing, ends.
    status_on: Mapped[dt.date | None]
    # Kept whatever the retention policy says, until a key holder releases it (a case in court,
    # a request of the reporter's lawyer).
    legal_hold: Mapped[bool] = mapped_column(default=False, server_default=false())

    assignee: Mapped[User | None] = relationship()


# The dashboard's list order: urgent (or not yet known) first, then newest. The query and the
# index use this one expression, so the database reads a page from the index instead of
# sorting every report for each page.
# The key of a report's place in it (urgent or unknown, day, id), each column descending:
# also what a page's link carries to go on from its last report (``services.listing``).
REPORT_LIST_KEY = (
    Report.urgent.is_not(False).self_group(),
    Report.received_on,
    Report.id,
)
REPORT_LIST_ORDER = tuple(column.desc() for column in REPORT_LIST_KEY)
Index("ix_reports_list_order", *REPORT_LIST_ORDER)
# The reports nobody has opened yet, which every listing looks for first: a few among
# thousands, found without reading every row.
Index(
    "ix_reports_unclassified",
    Report.id,
    sqlite_where=Report.follows_form.is_(None),
    postgresql_where=Report.follows_form.is_(None),
)
# The reports that do not follow the form, which every listing counts.
Index(
    "ix_reports_off_form",
    Report.id,
    sqlite_where=Report.follows_form.is_(False),
    postgresql_where=Report.follows_form.is_(False),
)


class ReportGrant(Base):
    """One report's DEK sealed to the one case worker it is assigned to."""

    __tablename__ = "report_grants"
    __table_args__ = (UniqueConstraint("report_id", "user_id", name="uq_report_grants_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    holder_key_id: Mapped[str] = mapped_column(String(32))
    suite: Mapped[str] = mapped_column(String(64))
    sealed_dek: Mapped[bytes]


class ReportNote(Base):
    """An internal note of the desk, encrypted under the report's DEK (reporters never see it)."""

    __tablename__ = "report_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(unique=True, default=uuid.uuid4)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(64))
    written_on: Mapped[dt.date]
    body: Mapped[bytes]


class MessageSender(StrEnum):
    REPORTER = "reporter"
    DESK = "desk"


class ReportMessage(Base):
    """One message of a report's follow-up conversation (see ``crypto.messages``).

    ``body`` is what the desk reads: a reporter's message under the message key, or a reply's
    copy under the report's DEK. ``for_reporter`` is a reply's copy sealed to the reporter.
    """

    __tablename__ = "report_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    sender: Mapped[MessageSender] = mapped_column(_enum(MessageSender, "message_sender"))
    # Who at the desk replied; never anything about a reporter.
    author: Mapped[str | None] = mapped_column(String(64))
    # The day only, as for reports.
    sent_on: Mapped[dt.date]
    body: Mapped[bytes]
    for_reporter: Mapped[bytes | None]
    # A reporter's message nobody at the desk has read yet.
    unread: Mapped[bool] = mapped_column(default=False)


class Attachment(Base):
    """An evidence file: an upload while its chunks arrive, then one of a report's files.

    Everything here is ciphertext or its shape (see ``crypto.attachments``). An upload names
    the report and message its chunks are bound to before either exists (the browser picks
    their ids); only a submission proven by its proof of work or receipt attaches it.
    """

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    # What the chunks are bound to: the report's and message's public ids (message None for
    # a file sent with the report itself).
    bound_report: Mapped[uuid.UUID] = mapped_column(index=True)
    bound_message: Mapped[uuid.UUID | None]
    chunks: Mapped[int]
    stored_size: Mapped[int] = mapped_column(BigInteger)
    # Set when attached: the report (and message) it belongs to, its number among the
    # report's files, and its record (name, type, size, hashes), encrypted.
    report_id: Mapped[int | None] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("report_messages.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int | None]
    record: Mapped[bytes | None]
    # When an upload never attached is deleted, to the hour; cleared once attached, so a
    # report's files keep no time finer than the report's day.
    expires_at: Mapped[dt.datetime | None] = mapped_column(index=True)

    report: Mapped[Report | None] = relationship()


class AttachmentChunk(Base):
    """One encrypted chunk of an attachment, stored in the database: one backup holds every
    file, a crash leaves no orphan files, and a report's removal removes its files."""

    __tablename__ = "attachment_chunks"

    attachment_id: Mapped[int] = mapped_column(
        ForeignKey("attachments.id", ondelete="CASCADE"), primary_key=True
    )
    index: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    data: Mapped[bytes]


class ReporterStage(StrEnum):
    """What a reporter is told of the desk's workflow: four stages, not the nine states."""

    RECEIVED = "received"
    REVIEWING = "reviewing"
    ACTION = "action"
    CLOSED = "closed"
    # Shown instead of reviewing or action once the desk referred the case to a partner
    # and chose to tell the reporter.
    REFERRED = "referred"


class StageMessage(Base):
    """The desk's own wording of a stage for reporters, in one language (else the default)."""

    __tablename__ = "stage_messages"

    stage: Mapped[ReporterStage] = mapped_column(
        _enum(ReporterStage, "reporter_stage"), primary_key=True
    )
    locale: Mapped[str] = mapped_column(String(16), primary_key=True)
    text: Mapped[str] = mapped_column(String(500))


class Destroyer(StrEnum):
    REPORTER = "reporter"
    DESK = "desk"
    # The desk's retention policy, once a report's period in its status had ended.
    RETENTION = "retention"


class WithdrawnReport(Base):
    """What is left of a destroyed report: the workflow fields, for statistics.

    Its reporter withdrew it, or a key holder destroyed it (``destroyed_by``; the reason is in
    the audit log). The report's row, content, keys, notes, tags, links and messages are
    deleted; nothing here was ever written by the reporter, and nothing leads back to the
    receipt.
    """

    __tablename__ = "withdrawn_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    received_on: Mapped[dt.date]
    # The day it was withdrawn or destroyed by the desk; the day only, as everywhere.
    withdrawn_on: Mapped[dt.date]
    destroyed_by: Mapped[Destroyer] = mapped_column(
        _enum(Destroyer, "destroyer"), default=Destroyer.REPORTER, server_default="reporter"
    )
    status: Mapped[ReportStatus] = mapped_column(_enum(ReportStatus, "report_status"))
    priority: Mapped[Priority | None] = mapped_column(_enum(Priority, "priority"))
    risk: Mapped[RiskLevel | None] = mapped_column(_enum(RiskLevel, "risk_level"))
    urgent: Mapped[bool | None]
    server_sealed: Mapped[bool]


class UnauditedWithdrawal(Base):
    """A withdrawal not yet written to the audit log.

    An audit entry carries a time to the second, and a reporter's actions must not be timed
    finer than a day: withdrawals wait here (with the day only) and are recorded together at
    the desk's next action, whose time bounds them only from after.
    """

    __tablename__ = "unaudited_withdrawals"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[uuid.UUID]
    withdrawn_on: Mapped[dt.date]
    destroyed: Mapped[bool]


class ReportLink(Base):
    """Two reports the desk considers related (the same incident, the same people)."""

    __tablename__ = "report_links"
    __table_args__ = (
        UniqueConstraint("report_id", "linked_id", name="uq_report_links_pair"),
        CheckConstraint("report_id < linked_id", name="ordered_pair"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    linked_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)


class PartnerKeyKind(StrEnum):
    AGE = "age"
    OPENPGP = "openpgp"


class Partner(Base):
    """An organisation the desk refers cases to, and the public key it encrypts them to.

    Public material only. ``key_binding`` is an HMAC under keys/binding.key of the partner's
    id, name, kind and key: a row altered in the database (a key swapped for an attacker's,
    two partners' names exchanged) is not encrypted to.
    """

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(unique=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[PartnerKeyKind] = mapped_column(_enum(PartnerKeyKind, "partner_key_kind"))
    # The age recipient, or the OpenPGP certificate ASCII-armoured, as the desk read it.
    public_key: Mapped[str] = mapped_column(String)
    fingerprint: Mapped[str] = mapped_column(String(64))
    # What packages to it are encrypted with, for people to read ("ML-KEM-768 + X25519").
    algorithm: Mapped[str] = mapped_column(String(100))
    post_quantum: Mapped[bool]
    key_binding: Mapped[bytes] = mapped_column(LargeBinary(32))
    added_on: Mapped[dt.date]
    added_by: Mapped[str] = mapped_column(String(64))
    # Kept, not deleted: the referrals made to it still name it.
    disabled: Mapped[bool] = mapped_column(default=False, server_default=false())


class Referral(Base):
    """That a report was referred to a partner: when, by whom, and the names of the fields
    that went. Never their values, never the package: the desk keeps no copy of what it
    sent."""

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    # The day only, as everywhere a report's history is kept.
    referred_on: Mapped[dt.date]
    referred_by: Mapped[str] = mapped_column(String(64))
    # A JSON list of field paths ("location.governorate"), from content.REPORT_FIELDS.
    fields: Mapped[str] = mapped_column(String(2000))
    # Whether the reporter's inbox says the case was referred (ReporterStage.REFERRED).
    reporter_told: Mapped[bool]

    partner: Mapped[Partner] = relationship()


class KeyRotation(Base):
    __tablename__ = "key_rotations"
    __table_args__ = (
        # At most one unfinished rotation: a rerun resumes it instead of starting another.
        Index(
            "uq_key_rotations_one_running",
            "finished",
            unique=True,
            sqlite_where=text("finished = 0"),
            postgresql_where=text("finished = false"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    to_key_id: Mapped[str] = mapped_column(ForeignKey("intake_keys.id"))
    started_by: Mapped[str] = mapped_column(String(64))
    started_on: Mapped[dt.date]
    reports_total: Mapped[int]
    finished: Mapped[bool] = mapped_column(default=False)


class AuditEvent(Base):
    """One entry of the append-only, HMAC-chained audit log."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    # ISO 8601 UTC to the second, stored as the very text that the digest covers.
    occurred_at: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(String)
    digest: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """A single row naming the chain's last entry; locking it serialises appends."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int]
    digest: Mapped[str] = mapped_column(String(64))


class SpentChallenge(Base):
    """A proof-of-work challenge already used, remembered until its window has passed.

    Only the challenge's coarse window (ten minutes) is kept, never a time, and rows are
    purged as soon as the challenge could no longer be used: a copy of the database shows
    how many challenges were spent in the last twenty minutes, not for which report.
    """

    __tablename__ = "spent_challenges"

    nonce_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    window: Mapped[int] = mapped_column(index=True)


class SetupLink(Base):
    """The one-time link that `serve` prints on a fresh desk; only its hash is kept."""

    __tablename__ = "setup_links"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    expires_at: Mapped[dt.datetime]


class Invitation(Base):
    """A one-time link to set a password and enrol the second factor; only its hash is kept.

    For a new person (``user_id`` empty) accepting it creates the account and its key pair;
    for an existing account it enrols (or replaces) the second factor.
    """

    __tablename__ = "invitations"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    invited_by: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime]


class DeviceKind(StrEnum):
    """What kind of device a staff session was opened on, for the person's list of their
    sessions: only this much is kept of a user agent, never the string itself."""

    PHONE = "phone"
    TABLET = "tablet"
    COMPUTER = "computer"
    UNKNOWN = "unknown"


class DashboardSession(Base):
    """A signed-in person's session; useless without the key in their cookie."""

    __tablename__ = "dashboard_sessions"

    lookup: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    # How the person names this session on their list of sessions (to end it): never the
    # lookup, which finds the row a cookie opens.
    public_id: Mapped[uuid.UUID] = mapped_column(unique=True, default=uuid.uuid4)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    sealed_private_key: Mapped[bytes]
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    device: Mapped[DeviceKind] = mapped_column(
        _enum(DeviceKind, "device_kind"), default=DeviceKind.UNKNOWN
    )


class WebAuthnCredential(Base):
    """A security key or passkey a staff member registered (WebAuthn).

    Only what checking its signatures needs: the credential id, its public key and the
    signature counter the authenticator last reported (a counter that goes back is a sign of
    a cloned key). Days, never times, as everywhere a person's activity is kept.
    """

    __tablename__ = "webauthn_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(unique=True, default=uuid.uuid4)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # At most 1023 bytes (WebAuthn Level 3, credential id).
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    public_key: Mapped[bytes]
    sign_count: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(64))
    # How the browser said it reaches the authenticator ("usb,nfc"), passed back as a hint.
    transports: Mapped[str] = mapped_column(String(128), default="")
    created_on: Mapped[dt.date]
    last_used_on: Mapped[dt.date | None]


class WebAuthnPurpose(StrEnum):
    # The second step of a sign-in: the key answers for an account whose password was right.
    SIGN_IN = "sign_in"
    # A key registered from the person's account page, in their session.
    REGISTER = "register"
    # A key registered right after password and code, where the desk requires one.
    ENROL = "enrol"


class WebAuthnChallenge(Base):
    """A challenge a security key must sign, kept until it is answered once or expires.

    Single use: answering deletes the row in the same transaction that decides, so a
    replayed answer finds nothing. ``lookup`` is a hash of what the browser holds (the
    sign-in step's cookie; for a key added in a session, that session's cookie): a copy of
    this table answers nothing. Before a session exists, the person's key, opened by their
    password, waits here sealed under the cookie's key, as a session's does.
    """

    __tablename__ = "webauthn_challenges"

    lookup: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[WebAuthnPurpose] = mapped_column(_enum(WebAuthnPurpose, "webauthn_purpose"))
    challenge: Mapped[bytes] = mapped_column(LargeBinary(64))
    sealed_private_key: Mapped[bytes | None]
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class NotifyChoice(StrEnum):
    """What a staff member asked to be told by e-mail."""

    OFF = "off"
    # Reports that may be urgent at once; everything else in an hourly digest.
    URGENT_AND_DIGEST = "urgent_and_digest"
    DIGEST = "digest"


class NotificationKind(StrEnum):
    URGENT = "urgent"
    DIGEST = "digest"


class NotificationSubscription(Base):
    """One person's choice of e-mail notifications, and how far their counting has gone.

    The counting marks are the newest report, reporter's message and report grant already
    counted for this person: the sender finds what is new from the reports and messages
    themselves, so intake writes nothing for notifications and cannot fail because of them.
    """

    __tablename__ = "notification_subscriptions"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    choice: Mapped[NotifyChoice] = mapped_column(_enum(NotifyChoice, "notify_choice"))
    # Encrypted under a key derived from the pepper (crypto.addresses): a copy of the
    # database alone does not list the desk's staff.
    address: Mapped[bytes | None]
    # The language of the mails: the one the person's dashboard was in when they chose.
    locale: Mapped[str] = mapped_column(String(16))
    seen_report_id: Mapped[int] = mapped_column(default=0)
    seen_message_id: Mapped[int] = mapped_column(default=0)
    seen_grant_id: Mapped[int] = mapped_column(default=0)


class PendingNotification(Base):
    """A mail waiting to be sent to one person (at most one each: what arrives while it waits
    is added to its counts, so a mail server down for a day brings one mail, not a hundred).

    Kept until the server accepted it; deleted then, so the database keeps no history of when
    notifications went out (it would time the reports they counted). Counts only, never a
    word of a report.
    """

    __tablename__ = "pending_notifications"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    kind: Mapped[NotificationKind] = mapped_column(_enum(NotificationKind, "notification_kind"))
    reports: Mapped[int] = mapped_column(default=0)
    messages: Mapped[int] = mapped_column(default=0)
    urgent: Mapped[int] = mapped_column(default=0)
    # To the hour only, like every time here that follows a reporter's action.
    waiting_since: Mapped[dt.datetime]
    next_attempt_at: Mapped[dt.datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    # The class of the last failure (``SMTPConnectError``), never its message or the address.
    last_error: Mapped[str | None] = mapped_column(String(64))
    # Set by the process sending it: another process does not send it too.
    claimed_until: Mapped[dt.datetime | None]


class NotificationState(Base):
    """One row: how the desk's mail is going, for administrators."""

    __tablename__ = "notification_state"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    # To the hour, as above.
    last_success_at: Mapped[dt.datetime | None]
    last_failure_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(64))
    sent: Mapped[int] = mapped_column(BigInteger, default=0)
    failures: Mapped[int] = mapped_column(BigInteger, default=0)


class StatisticsSnapshot(Base):
    """Statistics a coordinator published for the desk's network and donors: aggregates only,
    with small counts already suppressed (``services.suppression``), never a report's id.

    The aggregates are encrypted under a key derived from the pepper (``crypto.snapshots``),
    bound to this row's id, publisher and day; auditors read them without any report key.
    """

    __tablename__ = "statistics_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    published_by: Mapped[str] = mapped_column(String(64))
    # The day only, as everywhere.
    published_on: Mapped[dt.date]
    sealed: Mapped[bytes]


# Statistics find the day each report was first triaged among the audit log's workflow
# changes, without reading every entry of the log (each listing adds one).
Index("ix_audit_events_action", AuditEvent.action)
# The nav's count of unread reporters' messages, and the sender's count of new ones: the few
# unread among every message, found without reading the table.
Index(
    "ix_report_messages_unread",
    ReportMessage.report_id,
    sqlite_where=ReportMessage.unread.is_(True),
    postgresql_where=ReportMessage.unread.is_(True),
)
