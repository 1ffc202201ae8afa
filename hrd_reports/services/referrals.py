"""Referring a case to a partner organisation: the fields the reporter's consent allows, as
one JSON document encrypted to the partner's key, handed to the person who asked and kept
nowhere.

What goes is decided by the reporter's answer to "May the desk share this report?":
"this desk only" (or no answer) refers nothing; "without anything that identifies me"
leaves out ``content.IDENTIFYING_FIELDS``; "with my name" sends every field. Evidence files,
the conversation, the desk's notes and tags never go. The desk records who referred what to
whom, when, and the names of the fields, and the reporter's inbox can say the case was
referred; the package itself exists only in memory and in the response.
"""

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from hrd_reports import received
from hrd_reports.content import IDENTIFYING_FIELDS, REPORT_FIELDS, ReportContent
from hrd_reports.crypto.envelope import decrypt_report_body
from hrd_reports.crypto.partners import KeyKind, PartnerKeyRefused, encrypt_to_partner
from hrd_reports.i18n import N_
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import Partner, Referral, Report
from hrd_reports.services import audit, clock, keyring, partners, reading
from hrd_reports.services.credentials import UnlockedUser
from hrd_reports.services.errors import Conflict, Invalid, ServiceError

PACKAGE_FORMAT = "hrd-reports/referral/1"
MAX_NOTE_LENGTH = 2_000
ALL_FIELDS = tuple(path for path, _ in REPORT_FIELDS)
SHARED_WITHOUT_IDENTITY = tuple(path for path in ALL_FIELDS if path not in IDENTIFYING_FIELDS)
_EXTENSION = {KeyKind.AGE: "age", KeyKind.OPENPGP: "pgp"}


@dataclass(frozen=True)
class Plan:
    """What a referral of one report would carry, or why there can be none."""

    fields: tuple[str, ...]
    refusal: ServiceError | None = None

    @property
    def allowed(self) -> bool:
        return self.refusal is None


# Why a report cannot be referred, by the reporter's answer to "May the desk share this
# report?" (None: no answer).
_NOT_SHARED = {
    "none": N_("the reporter chose “Do not share: this desk only”: this report cannot be referred"),
    None: N_(
        "the reporter did not say whether this report may be shared: it cannot be referred. "
        "You can ask them in the conversation."
    ),
}
_FIELDS_SHARED = {"named": ALL_FIELDS, "anonymised": SHARED_WITHOUT_IDENTITY}


def plan(content: dict[str, Any] | None, *, withdrawn: bool) -> Plan:
    """The fields the reporter's consent lets go, from the report as the reader opened it."""
    if withdrawn:
        return Plan((), Conflict(N_("the reporter withdrew this report: it cannot be referred")))
    if content is None:
        reason = N_(
            "this report could not be opened, so what its reporter allowed cannot be read: it "
            "cannot be referred"
        )
        return Plan((), Invalid(reason))
    if not received.follows_form(content):
        # Its consent, if it has one, is not the form's answer: nothing says it may go.
        reason = N_(
            "this report does not follow the report form, so the reporter's consent cannot be "
            "read from it: it cannot be referred"
        )
        return Plan((), Invalid(reason))
    consent = content.get("consent")
    share = consent.get("share") if isinstance(consent, dict) else None
    if share in _FIELDS_SHARED:
        return Plan(_FIELDS_SHARED[share])
    return Plan((), Invalid(_NOT_SHARED.get(share, _NOT_SHARED[None])))


def package(
    content: dict[str, Any],
    fields: tuple[str, ...],
    *,
    referral_id: UUID,
    referred_on: dt.date,
    note: str,
) -> bytes:
    """The document a partner decrypts: the report's ``fields``, nested as in the report, and
    the desk's note. Built from the form's model, so every field is there (empty when the
    reporter left it empty) and nothing the form does not have can ride along."""
    report = ReportContent.model_validate(content, strict=True).model_dump(mode="json")
    chosen: dict[str, Any] = {}
    for path in fields:
        *parents, last = path.split(".")
        source, target = report, chosen
        for part in parents:
            source = source[part]
            target = target.setdefault(part, {})
        target[last] = source[last]
    document = {
        "format": PACKAGE_FORMAT,
        "referral": str(referral_id),
        "referred_on": referred_on.isoformat(),
        "fields": list(fields),
        "report": chosen,
        "note": note,
    }
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


def check_note(note: str) -> str:
    note = note.replace("\r\n", "\n").strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise Invalid(
            N_("a note to the partner has at most %(limit)d characters"), limit=MAX_NOTE_LENGTH
        )
    if any(not (char.isprintable() or char in "\n\t") for char in note):
        raise Invalid(N_("a note to the partner is plain text, without control characters"))
    return note


@dataclass(frozen=True)
class Package:
    """A referral as the person who made it downloads it: ciphertext only."""

    referral_id: UUID
    filename: str
    ciphertext: bytes


def refer(
    session: Session,
    *,
    reader: UnlockedUser,
    report_id: str | UUID,
    partner_id: str | UUID,
    note: str,
    tell_reporter: bool,
    secrets: ServerSecrets,
) -> Package:
    """Encrypt the consented fields of a report to a partner, and record (and audit) that it
    was done; the caller commits before it hands the package over."""
    note = check_note(note)
    if not str(partner_id).strip():
        raise Invalid(N_("choose the partner to refer the case to"))
    # Key holders any report, a case worker only their own: refused (and audited) otherwise.
    report, dek = reading.writable(session, reader, report_id)
    partner = partners.get_partner(session, partner_id)
    if partner.disabled:
        raise Conflict(
            N_("the partner %(name)s is disabled: no case can be referred to it"),
            name=partner.name,
        )
    kind, key = partners.key_to_encrypt_to(partner, secrets=secrets)
    with keyring.integrity_checked("report", report.public_id):
        plaintext = decrypt_report_body(dek, report.body, report_id=report.public_id)
    content = received.read(plaintext)
    planned = plan(content, withdrawn=report.withdrawn_on is not None)
    if planned.refusal is not None:
        raise planned.refusal
    referral_id = uuid.uuid4()
    # Through the module: the time a key is judged at is the one tests can move.
    now = clock.utc_now()
    document = package(
        content, planned.fields, referral_id=referral_id, referred_on=now.date(), note=note
    )
    try:
        ciphertext = encrypt_to_partner(kind, key, document, now=now)
    except PartnerKeyRefused as exc:
        # Expired or revoked since it was registered: the desk does not send to it.
        raise Invalid(
            N_("the key of %(name)s can no longer be used: %(reason)s"),
            name=partner.name,
            reason=partners.refusal(exc).message,
        ) from None
    session.add(
        Referral(
            public_id=referral_id,
            report_id=report.id,
            partner_id=partner.id,
            referred_on=now.date(),
            referred_by=reader.name,
            fields=json.dumps(list(planned.fields)),
            reporter_told=tell_reporter,
        )
    )
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=reader.name,
        action="report.refer",
        subject=str(report.public_id),
        detail={
            "referral": str(referral_id),
            "partner": partner.name,
            "fingerprint": partner.fingerprint,
            "fields": list(planned.fields),
            "reporter_told": tell_reporter,
        },
    )
    # No word of the report in the name: it is seen in download lists and file managers.
    filename = f"referral-{referral_id.hex[:8]}.{_EXTENSION[kind]}"
    return Package(referral_id, filename, ciphertext)


@dataclass(frozen=True)
class ReferralView:
    id: UUID
    partner: str
    referred_on: dt.date
    referred_by: str
    fields: list[str]
    reporter_told: bool


def referrals_of(session: Session, report: Report) -> list[ReferralView]:
    rows = session.execute(
        select(Referral, Partner.name)
        .join(Partner, Partner.id == Referral.partner_id)
        .where(Referral.report_id == report.id)
        .order_by(Referral.id)
    ).all()
    return [
        ReferralView(
            id=row.public_id,
            partner=name,
            referred_on=row.referred_on,
            referred_by=row.referred_by,
            fields=_field_names(row.fields),
            reporter_told=row.reporter_told,
        )
        for row, name in rows
    ]


def _field_names(stored: str) -> list[str]:
    # Written by the desk; read within bounds all the same.
    try:
        names = json.loads(stored)
    except ValueError:
        return []
    return [name for name in names if name in ALL_FIELDS] if isinstance(names, list) else []


@dataclass(frozen=True)
class ReferralSection:
    """What the report page shows about referring the report."""

    plan: Plan
    partners: list[partners.PartnerView]
    referrals: list[ReferralView]
    all_fields: tuple[str, ...] = ALL_FIELDS
    # Each field's name as the report page shows it (translated there).
    labels: dict[str, str] = field(default_factory=lambda: dict(REPORT_FIELDS))


def section(
    session: Session, *, report_id: UUID, content: dict[str, Any] | None, withdrawn: bool
) -> ReferralSection:
    """For a report the reader has just opened (``content``): nothing more is decrypted."""
    report = reading.get_report(session, report_id)
    return ReferralSection(
        plan=plan(content, withdrawn=withdrawn),
        partners=partners.list_partners(session, include_disabled=False),
        referrals=referrals_of(session, report),
    )
