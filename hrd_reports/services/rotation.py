"""Key rotation: a new intake key, and every report's data key re-sealed to it.

Only the 32-byte data keys are re-sealed, never the report bodies. The work is split so that
a crash at any point loses nothing and can be resumed by running the command again:

1. ``start_rotation`` (one transaction): the new key, sealed to every key holder and to the
   recovery key, becomes active; the old key is retired; a rotation record is opened.
   Until it commits, nothing has changed.
2. ``reseal.reseal_all``, one transaction per batch: reports still sealed to an older key
   are opened and re-sealed to the new one. A batch that dies before its commit changes
   nothing; one that committed is never redone, since its reports now name the new key.
3. ``finish_rotation``: closes the record; with ``retire_old`` destroys the grants of retired
   keys that no report needs any more, so a stolen copy of an old grant opens nothing new.
"""

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hrd_reports.crypto.xwing import PrivateKey
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import (
    IntakeKey,
    IntakeKeyGrant,
    IntakeKeyState,
    KeyRotation,
    RecoveryKey,
    Report,
    User,
)
from hrd_reports.services import audit, keyring
from hrd_reports.services.clock import utc_today
from hrd_reports.services.errors import Conflict


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
    session: Session,
    *,
    holder: User,
    intake_keys: dict[str, PrivateKey],
    secrets: ServerSecrets,
) -> RotationStart:
    """Open a rotation, or return the unfinished one so that it is resumed, not repeated."""
    audit.lock_for_change(session)
    keyring.require_key_holder(session, holder)
    keyring.require_all_live_keys(session, intake_keys, who=holder.name)
    running = open_rotation(session)
    if running is not None:
        remaining = remaining_reports(session, running)
        # Resuming opens intake keys and data keys too: it is recorded like a start.
        audit.record(
            session,
            audit_secret=secrets.audit,
            actor=holder.name,
            action="keys.rotate.resume",
            subject=running.to_key_id,
            detail={"reports_remaining": remaining},
        )
        return RotationStart(
            rotation_id=running.id, new_key_id=running.to_key_id, resumed=True, remaining=remaining
        )
    holders = keyring.key_holders(session, secrets=secrets)
    old = keyring.active_intake_key(session)
    old.state = IntakeKeyState.RETIRED
    session.flush()
    new, private = keyring.new_intake_key(session, secrets=secrets)
    session.flush()
    for person in holders:
        keyring.grant_to_user(session, key_id=new.id, private=private, user=person, secrets=secrets)
    # Only recovery keys that hold the retiring key, by a grant the desk made, receive the new
    # one: the desk's own, not a row added beside them.
    recovery_grants = session.execute(
        select(RecoveryKey, IntakeKeyGrant)
        .join(IntakeKeyGrant, IntakeKeyGrant.recovery_key_id == RecoveryKey.id)
        .where(IntakeKeyGrant.intake_key_id == old.id)
    ).all()
    for recovery, grant in recovery_grants:
        keyring.check_grant(grant, secrets=secrets)
        keyring.grant_to_recovery(
            session, key_id=new.id, private=private, recovery=recovery, secrets=secrets
        )
    total = session.execute(select(func.count()).select_from(Report)).scalar_one()
    rotation = KeyRotation(
        to_key_id=new.id, started_by=holder.name, started_on=utc_today(), reports_total=total
    )
    session.add(rotation)
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=holder.name,
        action="keys.rotate.start",
        subject=new.id,
        detail={
            "retired": old.id,
            "holders": [person.name for person in holders],
            "reports": total,
        },
    )
    return RotationStart(rotation_id=rotation.id, new_key_id=new.id, resumed=False, remaining=total)


def lock_open_rotation(session: Session, rotation_id: int) -> KeyRotation:
    # Batches of one rotation, and its finish, run one at a time; a batch that stalled past
    # the rotation's end writes nothing rather than seal reports to a key since retired.
    rotation = session.execute(
        select(KeyRotation).where(KeyRotation.id == rotation_id).with_for_update()
    ).scalar_one()
    if rotation.finished:
        raise Conflict("this rotation has already finished")
    return rotation


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
    secrets: ServerSecrets,
    damaged: list[str] | None = None,
) -> RotationEnd:
    audit.lock_for_change(session)
    rotation = lock_open_rotation(session, rotation_id)
    rotation.finished = True
    left = remaining_reports(session, rotation)
    destroyed: list[str] = []
    kept: list[str] = []
    if retire_old:
        destroyed, kept = retire_unused_keys(session)
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
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
