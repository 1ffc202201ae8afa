"""Receiving reports: store a submission as the ciphertext it arrived as.

The server cannot read what it stores, not even the reporter's public key (it travels
encrypted under the report's key). It checks the envelope's shape (sizes, key, suite), keeps
a keyed hash of the lookup token instead of the token, and records the day only.
"""

import collections
import dataclasses
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast
from uuid import UUID

from sqlalchemy import Table, insert, select
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
from hrd_reports.models import IntakeKey, Report, ReportStatus, SpentChallenge
from hrd_reports.services import attachments, challenges, keyring
from hrd_reports.services.clock import utc_today
from hrd_reports.services.errors import Conflict, Invalid, ServiceError

_BODY_SIZES = body_sizes()
_REPORTS = cast(Table, Report.__table__)
_SPENT = cast(Table, SpentChallenge.__table__)


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


def _verified_active_key(session: Session, *, secrets: ServerSecrets) -> IntakeKey:
    """The active intake key, locked against a rotation until the transaction ends."""
    active = keyring.active_intake_key(session, lock=True)
    # A swapped active key (someone wrote to the database) stops intake instead of storing
    # reports that its author could read.
    keyring.check_intake_key(active, secrets=secrets)
    return active


def submit_report(
    session: Session,
    *,
    submission: Submission,
    secrets: ServerSecrets,
    server_sealed: bool = False,
    active: IntakeKey | None = None,
) -> Report:
    """Store ``submission``; ``active`` is the key ``_verified_active_key`` gave in this
    same transaction, when the caller stores several."""
    _check_shape(submission)
    if active is None:
        active = _verified_active_key(session, secrets=secrets)
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
class _PlainNew:
    """A new report without files, its proof of work and envelope checked: a row to insert."""

    submission: Submission
    nonce_hash: bytes  # of its proof of work's challenge (``challenges.nonce_hash``)
    window: int  # its challenge's
    lookup_hash: bytes


@dataclass(frozen=True)
class Submitted:
    """A submission from the reporter API, with its solved proof of work and its files."""

    challenge: str
    counter: int
    submission: Submission
    files: list[attachments.FileNamed]
    # What needs no database, checked as it arrived (``checked_on_arrival``).
    plain: _PlainNew | None = None


def checked_on_arrival(one: Submitted, *, secrets: ServerSecrets, difficulty: int) -> Submitted:
    """``one`` with what needs no database checked already: its proof of work, then its
    envelope's shape, refused here as they would be in the transaction (``ProofOfWorkRefused``,
    ``Invalid``), and for a report without files its receipt's keyed hash. Three hashes, no
    I/O: a flood of unsolved or misshapen submissions never reaches the write lock, and the
    transaction that stores a good one does only the database's part."""
    challenge = challenges.solved(
        token=one.challenge, counter=one.counter, secrets=secrets, difficulty=difficulty
    )
    _check_shape(one.submission)
    if one.files:
        return one
    token_hash = lookup_hash(one.submission.lookup_token, lookup_secret=secrets.lookup)
    plain = _PlainNew(
        one.submission, challenges.nonce_hash(challenge), challenge.window, token_hash
    )
    return dataclasses.replace(one, plain=plain)


def _checked_plain(one: Submitted, *, secrets: ServerSecrets, difficulty: int) -> _PlainNew | None:
    """What ``checked_on_arrival`` learns, for a submission that did not come through it; None
    for one with files or one that is refused (it is then refused alone, with its reason)."""
    if one.files:
        return None
    try:
        return checked_on_arrival(one, secrets=secrets, difficulty=difficulty).plain
    except ServiceError:
        return None


def store_submissions(
    session: Session,
    submitted: Sequence[Submitted],
    *,
    secrets: ServerSecrets,
    difficulty: int,
    limits: attachments.AttachmentLimits,
) -> list[str | ServiceError]:
    """Store many submissions in one transaction: for each, its report's id or the refusal.

    Each is stored or refused exactly as one alone would be: its proof of work spent, its
    report and files stored, or nothing of it at all. The common case, a new report without
    files, is checked in memory and against the database once for the whole batch and
    inserted with the others in one statement; any other (with files, already sent, refused)
    is stored alone, in a savepoint of its own, so a refused one changes nothing and takes no
    other with it. Nothing is durable, and no submitter may be told it was stored, until the
    caller commits.
    """
    active = _verified_active_key(session, secrets=secrets)
    current = challenges.forget_unusable(session)
    outcomes: list[str | ServiceError | None] = [None] * len(submitted)
    plain = _plain_new_reports(
        session, submitted, active=active, secrets=secrets, difficulty=difficulty, current=current
    )
    try:
        if plain:
            with session.begin_nested():
                _insert_together(session, [new for _, new in plain], active=active)
    except IntegrityError:
        # One of them was stored before (sent again by its reporter's browser, or by another
        # server process a moment ago): each is then stored alone below, where the one that
        # clashes is answered as ``submit_report`` answers it.
        plain = []
    for index, new in plain:
        outcomes[index] = str(new.submission.report_id)
    for index, one in enumerate(submitted):
        if outcomes[index] is None:
            outcomes[index] = _store_alone(
                session, one, active=active, secrets=secrets, difficulty=difficulty, limits=limits
            )
    return [outcome for outcome in outcomes if outcome is not None]


def _plain_new_reports(
    session: Session,
    submitted: Sequence[Submitted],
    *,
    active: IntakeKey,
    secrets: ServerSecrets,
    difficulty: int,
    current: int,
) -> list[tuple[int, _PlainNew]]:
    """The submissions that can be inserted together: new reports without files, well formed,
    to the active key, with a solved proof of work still good in window ``current`` (the
    one purged for), none of them stored or spent before, nor twice in this batch. Every
    other one is left to be stored, or refused, alone."""
    candidates: list[tuple[int, _PlainNew]] = []
    for index, one in enumerate(submitted):
        if one.submission.intake_key_id != active.id:
            continue
        plain = one.plain or _checked_plain(one, secrets=secrets, difficulty=difficulty)
        # Checked on arrival, perhaps in the window before: one that expired since (its spent
        # twin perhaps purged meanwhile) is refused alone.
        if plain is not None and challenges.is_current(plain.window, current=current):
            candidates.append((index, plain))
    if not candidates:
        return []
    # A spent proof of work sent again costs its sender nothing: it is looked for here, so a
    # flood of replays cannot push every batch onto the slower path. A report id or receipt
    # already stored (a reporter's browser sending again) is left to the unique constraints,
    # which send the batch one by one: that costs the sender a new proof of work each time.
    nonces = [new.nonce_hash for _, new in candidates]
    spent = _SPENT.c
    known: set[object] = set(
        session.connection()
        .execute(select(spent.nonce_hash).where(spent.nonce_hash.in_(nonces)))
        .scalars()
    )
    seen = collections.Counter(
        value
        for _, new in candidates
        for value in (new.submission.report_id, new.lookup_hash, new.nonce_hash)
    )
    return [
        (index, new)
        for index, new in candidates
        if not any(
            value in known or seen[value] > 1
            for value in (new.submission.report_id, new.lookup_hash, new.nonce_hash)
        )
    ]


def _insert_together(session: Session, plain: Sequence[_PlainNew], *, active: IntakeKey) -> None:
    received_on = utc_today()
    connection = session.connection()
    # In one order in every process (PostgreSQL), so two batches that share rows wait for
    # each other instead of deadlocking.
    spent = sorted(plain, key=lambda new: new.nonce_hash)
    connection.execute(
        insert(_SPENT), [{"nonce_hash": new.nonce_hash, "window": new.window} for new in spent]
    )
    plain = sorted(plain, key=lambda new: new.submission.report_id)
    connection.execute(
        insert(_REPORTS),
        [
            {
                "public_id": new.submission.report_id,
                "envelope_version": new.submission.version,
                "body": new.submission.body,
                "dek_key_id": active.id,
                "dek_suite": new.submission.suite,
                "sealed_dek": new.submission.sealed_dek,
                "reporter_key": new.submission.reporter_key,
                "message_key": new.submission.message_key,
                "lookup_hash": new.lookup_hash,
                "server_sealed": False,
                "status": ReportStatus.RECEIVED,
                "received_on": received_on,
            }
            for new in plain
        ],
    )


def _store_alone(
    session: Session,
    one: Submitted,
    *,
    active: IntakeKey,
    secrets: ServerSecrets,
    difficulty: int,
    limits: attachments.AttachmentLimits,
) -> str | ServiceError:
    try:
        with session.begin_nested():
            challenges.spend(
                session,
                token=one.challenge,
                counter=one.counter,
                secrets=secrets,
                difficulty=difficulty,
            )
            report = submit_report(
                session, submission=one.submission, secrets=secrets, active=active
            )
            attachments.attach(session, report=report, message=None, files=one.files, limits=limits)
    except ServiceError as refusal:
        return refusal
    return str(report.public_id)


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
