"""Key rotation: a new intake key, and every report's data key re-sealed to it.

Only the 32-byte data keys are re-sealed, never the report bodies. The work is split so that
a crash at any point loses nothing and can be resumed by running the command again:

1. ``start_rotation`` (one transaction): the new key, sealed to every key holder and to the
   recovery key, becomes active; the old key is retired; a rotation record is opened.
   Until it commits, nothing has changed.
2. ``reseal_all``, one transaction per ``reseal_batch``: reports still sealed to an older key
   are opened and re-sealed to the new one. A batch that dies before its commit changes
   nothing; one that committed is never redone, since its reports now name the new key. This
   is the one service that commits, because the work must be many transactions.
3. ``finish_rotation``: closes the record; with ``retire_old`` destroys the grants of retired
   keys that no report needs any more, so a stolen copy of an old grant opens nothing new.
"""

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from hrd_reports.crypto.envelope import open_dek, seal_dek
from hrd_reports.crypto.errors import CryptoError, DecryptionFailed
from hrd_reports.crypto.xwing import PrivateKey, PublicKey, Sealed
from hrd_reports.db import unit_of_work
from hrd_reports.models import (
    IntakeKey,
    IntakeKeyGrant,
    IntakeKeyState,
    KeyRotation,
    RecoveryKey,
    Report,
)
from hrd_reports.services import audit, keyring
from hrd_reports.services.clock import utc_today
from hrd_reports.services.errors import Forbidden


@dataclass(frozen=True)
class RotationStart:
    rotation_id: int
    new_key_id: str
    resumed: bool
    remaining: int


def open_rotation(session: Session) -> KeyRotation | None:
    return session.execute(
        select(KeyRotation).where(KeyRotation.finished.is_(False))
    ).scalar_one_or_none()


def remaining_reports(session: Session, rotation: KeyRotation) -> int:
    query = select(func.count()).select_from(Report).where(Report.dek_key_id != rotation.to_key_id)
    return session.execute(query).scalar_one()


def start_rotation(
    session: Session, *, actor: str, intake_keys: dict[str, PrivateKey], audit_secret: bytes
) -> RotationStart:
    """Open a rotation, or return the unfinished one so that it is resumed, not repeated."""
    keyring.require_all_live_keys(session, intake_keys, who=actor)
    running = open_rotation(session)
    if running is not None:
        return RotationStart(
            rotation_id=running.id,
            new_key_id=running.to_key_id,
            resumed=True,
            remaining=remaining_reports(session, running),
        )
    holders = keyring.key_holders(session)
    if not holders:
        raise Forbidden("the desk has no key holder left to receive the new key")
    old = keyring.active_intake_key(session, lock=True)
    old.state = IntakeKeyState.RETIRED
    session.flush()
    new, private = keyring.new_intake_key(session)
    session.flush()
    for holder in holders:
        keyring.grant_to_user(session, key_id=new.id, private=private, user=holder)
    for recovery in session.execute(select(RecoveryKey)).scalars():
        keyring.grant_to_recovery(session, key_id=new.id, private=private, recovery=recovery)
    total = session.execute(select(func.count()).select_from(Report)).scalar_one()
    rotation = KeyRotation(
        to_key_id=new.id, started_by=actor, started_on=utc_today(), reports_total=total
    )
    session.add(rotation)
    session.flush()
    audit.record(
        session,
        audit_secret=audit_secret,
        actor=actor,
        action="keys.rotate.start",
        subject=new.id,
        detail={
            "retired": old.id,
            "holders": [holder.name for holder in holders],
            "reports": total,
        },
    )
    return RotationStart(rotation_id=rotation.id, new_key_id=new.id, resumed=False, remaining=total)


@dataclass(frozen=True)
class BatchResult:
    resealed: int
    damaged: list[str]
    last_id: int | None


def reseal_batch(
    session: Session,
    *,
    rotation_id: int,
    intake_keys: dict[str, PrivateKey],
    after_id: int,
    batch_size: int,
) -> BatchResult:
    """Re-seal the next ``batch_size`` reports (by id, after ``after_id``) to the new key.

    A report whose data key does not open is left as it is and named in ``damaged``: one
    altered row must not stop a rotation that may be under way because of a compromise.
    """
    rotation = session.get_one(KeyRotation, rotation_id)
    new_key = PublicKey(session.get_one(IntakeKey, rotation.to_key_id).public_key)
    rows = session.execute(
        select(Report.id, Report.public_id, Report.dek_suite, Report.dek_key_id, Report.sealed_dek)
        .where(Report.dek_key_id != rotation.to_key_id, Report.id > after_id)
        .order_by(Report.id)
        .limit(batch_size)
    ).all()
    if not rows:
        return BatchResult(resealed=0, damaged=[], last_id=None)
    changes, damaged = [], []
    for row_id, public_id, suite, key_id, sealed_dek in rows:
        holder = intake_keys.get(key_id)
        try:
            if holder is None:
                raise DecryptionFailed(f"no holder for {key_id}")
            dek = open_dek(Sealed(suite, key_id, sealed_dek), report_id=public_id, holder=holder)
        except CryptoError:
            damaged.append(str(public_id))
            continue
        resealed = seal_dek(dek, report_id=public_id, recipient=new_key)
        changes.append(
            {
                "id": row_id,
                "dek_key_id": resealed.key_id,
                "dek_suite": resealed.suite,
                "sealed_dek": resealed.ciphertext,
            }
        )
    if changes:
        session.execute(update(Report), changes)
    return BatchResult(resealed=len(changes), damaged=damaged, last_id=rows[-1][0])


def _no_checkpoint(_point: str) -> None:
    return None


def reseal_all(
    sessions: sessionmaker[Session],
    *,
    rotation_id: int,
    intake_keys: dict[str, PrivateKey],
    batch_size: int,
    on_batch: Callable[[BatchResult], None] | None = None,
    checkpoint: Callable[[str], None] = _no_checkpoint,
) -> list[str]:
    """Re-seal every remaining report, one committed transaction per batch; name the damaged.

    ``checkpoint`` is called at each named point (``batch-N-before-commit`` and
    ``batch-N-after-commit``), so tests can kill the process exactly there.
    """
    damaged: list[str] = []
    after_id, batch = 0, 0
    while True:
        with unit_of_work(sessions) as session:
            result = reseal_batch(
                session,
                rotation_id=rotation_id,
                intake_keys=intake_keys,
                after_id=after_id,
                batch_size=batch_size,
            )
            if result.last_id is None:
                return damaged
            batch += 1
            checkpoint(f"batch-{batch}-before-commit")
            session.commit()
        checkpoint(f"batch-{batch}-after-commit")
        damaged += result.damaged
        after_id = result.last_id
        if on_batch is not None:
            on_batch(result)


@dataclass(frozen=True)
class RotationEnd:
    new_key_id: str
    left_on_old_keys: int
    destroyed_keys: list[str]
    kept_keys: list[str]


def finish_rotation(
    session: Session,
    *,
    rotation_id: int,
    actor: str,
    retire_old: bool,
    audit_secret: bytes,
    damaged: list[str] | None = None,
) -> RotationEnd:
    rotation = session.get_one(KeyRotation, rotation_id)
    rotation.finished = True
    left = remaining_reports(session, rotation)
    destroyed: list[str] = []
    kept: list[str] = []
    if retire_old:
        destroyed, kept = retire_unused_keys(session)
    session.flush()
    audit.record(
        session,
        audit_secret=audit_secret,
        actor=actor,
        action="keys.rotate.finish",
        subject=rotation.to_key_id,
        detail={
            "left_on_old_keys": left,
            "damaged": damaged or [],
            "destroyed": destroyed,
            "kept": kept,
        },
    )
    return RotationEnd(
        new_key_id=rotation.to_key_id,
        left_on_old_keys=left,
        destroyed_keys=destroyed,
        kept_keys=kept,
    )


def retire_unused_keys(session: Session) -> tuple[list[str], list[str]]:
    """Destroy every grant of retired keys that no report is sealed to; name those kept."""
    destroyed: list[str] = []
    kept: list[str] = []
    retired = session.execute(
        select(IntakeKey).where(IntakeKey.state == IntakeKeyState.RETIRED).with_for_update()
    ).scalars()
    for key in retired:
        in_use = session.execute(
            select(Report.id).where(Report.dek_key_id == key.id).limit(1)
        ).first()
        if in_use is not None:
            kept.append(key.id)
            continue
        session.execute(delete(IntakeKeyGrant).where(IntakeKeyGrant.intake_key_id == key.id))
        key.state = IntakeKeyState.DESTROYED
        destroyed.append(key.id)
    return destroyed, kept
