"""Receiving reports: store a submission as the ciphertext it arrived as.

The server cannot read what it stores, not even the reporter's public key (it travels
encrypted under the report's key). It checks the envelope's shape (sizes, key, suite), keeps
a keyed hash of the lookup token instead of the token, and records the day only.
"""

import hmac
from dataclasses import dataclass, field
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hrd_reports.content import ReportContent
from hrd_reports.crypto.envelope import (
    MESSAGE_KEY_BOX_SIZE,
    REPORTER_KEY_BOX_SIZE,
    SEALED_DEK_SIZE,
    body_sizes,
)
from hrd_reports.crypto.receipts import LOOKUP_TOKEN_SIZE, lookup_hash
from hrd_reports.crypto.submission import Submission, new_submission
from hrd_reports.crypto.xwing import SUITE
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import IntakeKey, Report, ReportStatus
from hrd_reports.services import attachments, challenges, keyring
from hrd_reports.services.clock import utc_today
from hrd_reports.services.errors import Conflict, Invalid

_BODY_SIZES = body_sizes()


def _check_shape(submission: Submission) -> None:
    if submission.version != 1:
        raise Invalid("unsupported envelope version")
    if submission.suite != SUITE:
        raise Invalid(f"unsupported suite; this desk uses {SUITE}")
    if len(submission.sealed_dek) != SEALED_DEK_SIZE:
        raise Invalid("the sealed data key has the wrong size")
    if len(submission.body) not in _BODY_SIZES:
        raise Invalid("the report body is not padded to a known size")
    if len(submission.reporter_key) != REPORTER_KEY_BOX_SIZE:
        raise Invalid("the encrypted reporter key has the wrong size")
    if len(submission.message_key) != MESSAGE_KEY_BOX_SIZE:
        raise Invalid("the encrypted message key has the wrong size")
    if len(submission.lookup_token) != LOOKUP_TOKEN_SIZE:
        raise Invalid("the lookup token has the wrong size")


def submit_report(
    session: Session,
    *,
    submission: Submission,
    secrets: ServerSecrets,
    server_sealed: bool = False,
) -> Report:
    _check_shape(submission)
    active = keyring.active_intake_key(session, lock=True)
    # A swapped active key (someone wrote to the database) stops intake instead of storing
    # reports that its author could read.
    keyring.intake_public_key(active, secrets=secrets)
    if submission.intake_key_id != active.id:
        if session.get(IntakeKey, submission.intake_key_id) is not None:
            raise Conflict("the desk's key has changed since this page was loaded; send it again")
        raise Invalid("this report is encrypted to a key the desk does not have")
    token_hash = lookup_hash(submission.lookup_token, lookup_secret=secrets.lookup)
    already = session.execute(
        select(Report).where(Report.public_id == submission.report_id)
    ).scalar_one_or_none()
    if already is not None:
        # The same report id with the same receipt: its reporter sending again because the
        # first answer was lost on the way (the browser keeps both until it is answered).
        # Answered as received, changing nothing, so the receipt they hold is the one shown;
        # only the receipt's holder can make that token.
        if hmac.compare_digest(already.lookup_hash, token_hash):
            return already
        raise Conflict("this report was already received")
    report = Report(
        public_id=submission.report_id,
        envelope_version=submission.version,
        body=submission.body,
        dek_key_id=active.id,
        dek_suite=submission.suite,
        sealed_dek=submission.sealed_dek,
        reporter_key=submission.reporter_key,
        message_key=submission.message_key,
        lookup_hash=token_hash,
        server_sealed=server_sealed,
        status=ReportStatus.RECEIVED,
        received_on=utc_today(),
    )
    session.add(report)
    try:
        session.flush()
    except IntegrityError as exc:
        # Unique report id and lookup hash: a replayed or copied submission cannot be stored.
        raise Conflict("this report was already received") from exc
    return report


@dataclass(frozen=True)
class SealedOnServer:
    # Shown once, on the answer page; never stored.
    receipt: str = field(repr=False)
    report_id: UUID


@dataclass(frozen=True)
class SealedFiles:
    """Files a browser without JavaScript sent, already encrypted under ``dek`` for
    ``report_id`` (``services.sealed_files``)."""

    report_id: UUID
    dek: bytes = field(repr=False)
    files: list[attachments.FileNamed]
    limits: attachments.AttachmentLimits


def submit_server_sealed(
    session: Session,
    *,
    report: ReportContent,
    form_token: str,
    secrets: ServerSecrets,
    files: SealedFiles | None = None,
) -> SealedOnServer | None:
    """A report from a browser without JavaScript: the browser's work, done in memory.

    The plaintext exists only in this call's frames: it is sealed to the active intake key
    at once, in the same envelope the browser builds, and stored marked as server-sealed.
    None when this very form was already sent (Back, then Reload): nothing is stored again.
    """
    if not challenges.spend_form_token(session, token=form_token, secrets=secrets):
        return None
    active = keyring.active_intake_key(session)
    intake_key = keyring.intake_public_key(active, secrets=secrets)
    receipt, submission = new_submission(
        report.to_json_bytes(),
        intake_key=intake_key,
        report_id=files.report_id if files else None,
        dek=files.dek if files else None,
    )
    stored = submit_report(session, submission=submission, secrets=secrets, server_sealed=True)
    if files is not None:
        attachments.attach(
            session, report=stored, message=None, files=files.files, limits=files.limits
        )
    return SealedOnServer(receipt=receipt, report_id=stored.public_id)
