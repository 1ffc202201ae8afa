"""The intake key ring: the desk's key pairs, and who holds their private halves.

An intake private key exists only HPKE-sealed to a key holder's personal public key or to
the offline recovery key; opening one therefore needs a person's password (or the printed
recovery key). Every opened key is checked against its stored public half, so a grant
swapped for another key's cannot make a holder decrypt with a key the desk never had; and
nothing is sealed to a stored public key whose binding (``keys/binding.key``) does not hold,
so a row written into the database cannot receive the desk key.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from hrd_reports.crypto.binding import Bound, check_record_binding, record_binding
from hrd_reports.crypto.contexts import Purpose, bind
from hrd_reports.crypto.errors import CryptoError
from hrd_reports.crypto.xwing import SUITE, PrivateKey, PublicKey, Sealed, fingerprint_of
from hrd_reports.i18n import N_
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import (
    IntakeKey,
    IntakeKeyGrant,
    IntakeKeyState,
    RecoveryKey,
    Report,
    Role,
    User,
)
from hrd_reports.services.clock import utc_today
from hrd_reports.services.errors import DataIntegrityError, Forbidden, NotFound

KEY_HOLDER_ROLES = frozenset({Role.ADMIN, Role.COORDINATOR})


def integrity_failure(what: str, subject: object = None) -> DataIntegrityError:
    """The refusal of stored data that failed to decrypt, naming what failed: ``what``,
    followed by ``subject`` when given (formatted only on failure)."""
    name = what if subject is None else f"{what} {subject}"
    return DataIntegrityError(
        N_("%(what)s failed its integrity check: it was altered, moved or damaged"), what=name
    )


@contextmanager
def integrity_checked(what: str, subject: object = None) -> Iterator[None]:
    """Turn a failed decryption of stored data into ``integrity_failure``. (A loop over every
    report catches ``CryptoError`` itself: this context manager is built anew at each use.)"""
    try:
        yield
    except CryptoError as exc:
        raise integrity_failure(what, subject) from exc


def active_intake_key(session: Session, *, lock: bool = False) -> IntakeKey:
    query = select(IntakeKey).where(IntakeKey.state == IntakeKeyState.ACTIVE)
    if lock:
        # Held until commit: a rotation cannot retire this key under a report being stored.
        query = query.with_for_update(read=True)
    key = session.execute(query).scalar_one_or_none()
    if key is None and lock:
        # On PostgreSQL a statement that waited for a rotation to commit re-checks the row it
        # waited on (now retired) but cannot see the new key; a new statement can.
        key = session.execute(query).scalar_one_or_none()
    if key is None:
        raise NotFound(N_("the desk has no intake key yet; finish its setup first"))
    return key


def _check(
    secrets: ServerSecrets, *, kind: Bound, owner: tuple[str, ...], material: bytes, binding: bytes
) -> None:
    with integrity_checked(f"the {kind.value} of {'/'.join(owner)}"):
        check_record_binding(
            secrets.binding, kind=kind, owner=owner, material=material, binding=binding
        )


def _user_owner(user: User) -> tuple[str, str]:
    # The role is bound too: a user raised to coordinator in the database is not one.
    return str(user.public_id), user.role.value


def bind_user_key(user: User, *, secrets: ServerSecrets) -> None:
    """(Re)bind a user's public key to them and their role; call again when the role changes."""
    user.key_binding = record_binding(
        secrets.binding, kind=Bound.USER_KEY, owner=_user_owner(user), material=user.public_key
    )


def bind_recovery_key(recovery: RecoveryKey, *, secrets: ServerSecrets) -> None:
    recovery.key_binding = record_binding(
        secrets.binding, kind=Bound.RECOVERY_KEY, owner=(recovery.id,), material=recovery.public_key
    )


def user_public_key(user: User, *, secrets: ServerSecrets) -> PublicKey:
    """The user's public key, only if the desk recorded it for this user in this role."""
    _check(
        secrets,
        kind=Bound.USER_KEY,
        owner=_user_owner(user),
        material=user.public_key,
        binding=user.key_binding,
    )
    return PublicKey(user.public_key)


def recovery_public_key(recovery: RecoveryKey, *, secrets: ServerSecrets) -> PublicKey:
    _check(
        secrets,
        kind=Bound.RECOVERY_KEY,
        owner=(recovery.id,),
        material=recovery.public_key,
        binding=recovery.key_binding,
    )
    return PublicKey(recovery.public_key)


def check_intake_key(key: IntakeKey, *, secrets: ServerSecrets) -> None:
    """Refuse an intake key whose public key is not the one this desk bound to its id."""
    _check(
        secrets,
        kind=Bound.INTAKE_KEY,
        owner=(key.id,),
        material=key.public_key,
        binding=key.key_binding,
    )


def intake_public_key(key: IntakeKey, *, secrets: ServerSecrets) -> PublicKey:
    check_intake_key(key, secrets=secrets)
    return PublicKey(key.public_key)


def _grant_owner(grant: IntakeKeyGrant, holder: str) -> tuple[str, str]:
    return grant.intake_key_id, holder


def _grant_material(grant: IntakeKeyGrant) -> bytes:
    return grant.holder_key_id.encode("ascii") + b"\x00" + grant.sealed_private_key


def _holder_label(grant: IntakeKeyGrant) -> str:
    if grant.user is not None:
        return f"user:{grant.user.public_id}"
    return f"recovery:{grant.recovery_key_id}"


def _bind_grant(grant: IntakeKeyGrant, *, holder: str, secrets: ServerSecrets) -> None:
    grant.grant_binding = record_binding(
        secrets.binding,
        kind=Bound.DESK_KEY_GRANT,
        owner=_grant_owner(grant, holder),
        material=_grant_material(grant),
    )


def check_grant(grant: IntakeKeyGrant, *, secrets: ServerSecrets) -> None:
    """Refuse a grant row the desk did not make (inserted, copied or moved in the database)."""
    _check(
        secrets,
        kind=Bound.DESK_KEY_GRANT,
        owner=_grant_owner(grant, _holder_label(grant)),
        material=_grant_material(grant),
        binding=grant.grant_binding,
    )


def live_intake_keys(session: Session) -> list[IntakeKey]:
    query = select(IntakeKey).where(IntakeKey.state != IntakeKeyState.DESTROYED)
    return list(session.execute(query.order_by(IntakeKey.created_on, IntakeKey.id)).scalars())


def new_intake_key(session: Session, *, secrets: ServerSecrets) -> tuple[IntakeKey, PrivateKey]:
    private = PrivateKey.generate()
    key = IntakeKey(
        id=private.key_id,
        suite=SUITE,
        public_key=private.public.raw,
        key_binding=record_binding(
            secrets.binding,
            kind=Bound.INTAKE_KEY,
            owner=(private.key_id,),
            material=private.public.raw,
        ),
        state=IntakeKeyState.ACTIVE,
        created_on=utc_today(),
    )
    session.add(key)
    return key, private


def _seal_intake_key(private: PrivateKey, *, key_id: str, to: PublicKey) -> Sealed:
    return to.seal(private.seed(), info=bind(Purpose.INTAKE_PRIVATE_KEY, key_id))


def grant_to_user(
    session: Session, *, key_id: str, private: PrivateKey, user: User, secrets: ServerSecrets
) -> None:
    sealed = _seal_intake_key(private, key_id=key_id, to=user_public_key(user, secrets=secrets))
    grant = IntakeKeyGrant(
        intake_key_id=key_id,
        user_id=user.id,
        holder_key_id=sealed.key_id,
        suite=sealed.suite,
        sealed_private_key=sealed.ciphertext,
    )
    _bind_grant(grant, holder=f"user:{user.public_id}", secrets=secrets)
    session.add(grant)


def grant_to_recovery(
    session: Session,
    *,
    key_id: str,
    private: PrivateKey,
    recovery: RecoveryKey,
    secrets: ServerSecrets,
) -> None:
    sealed = _seal_intake_key(
        private, key_id=key_id, to=recovery_public_key(recovery, secrets=secrets)
    )
    grant = IntakeKeyGrant(
        intake_key_id=key_id,
        recovery_key_id=recovery.id,
        holder_key_id=sealed.key_id,
        suite=sealed.suite,
        sealed_private_key=sealed.ciphertext,
    )
    _bind_grant(grant, holder=f"recovery:{recovery.id}", secrets=secrets)
    session.add(grant)


def _open_grants(
    session: Session, grants: list[IntakeKeyGrant], holder: PrivateKey
) -> dict[str, PrivateKey]:
    opened: dict[str, PrivateKey] = {}
    for grant in grants:
        key = session.get_one(IntakeKey, grant.intake_key_id)
        sealed = Sealed(grant.suite, grant.holder_key_id, grant.sealed_private_key)
        with integrity_checked(f"the grant of intake key {key.id}"):
            private = PrivateKey(holder.open(sealed, info=bind(Purpose.INTAKE_PRIVATE_KEY, key.id)))
        if private.public.raw != key.public_key:
            raise DataIntegrityError(
                N_("the grant of intake key %(key)s holds another key"), key=key.id
            )
        opened[key.id] = private
    return opened


def _live_grants(session: Session, holder: ColumnElement[bool]) -> list[IntakeKeyGrant]:
    query = (
        select(IntakeKeyGrant)
        .join(IntakeKey, IntakeKey.id == IntakeKeyGrant.intake_key_id)
        .where(IntakeKey.state != IntakeKeyState.DESTROYED, holder)
    )
    return list(session.execute(query).scalars())


def unlock_intake_keys(
    session: Session, *, user: User, private_key: PrivateKey
) -> dict[str, PrivateKey]:
    """Every live intake private key this user holds, opened in memory."""
    grants = _live_grants(session, IntakeKeyGrant.user_id == user.id)
    return _open_grants(session, grants, private_key)


def unlock_intake_keys_with_recovery(
    session: Session, *, recovery: PrivateKey
) -> dict[str, PrivateKey]:
    if session.get(RecoveryKey, recovery.key_id) is None:
        raise Forbidden(N_("this recovery key does not belong to this desk"))
    grants = _live_grants(session, IntakeKeyGrant.recovery_key_id == recovery.key_id)
    return _open_grants(session, grants, recovery)


def require_all_live_keys(session: Session, opened: dict[str, PrivateKey], *, who: str) -> None:
    missing = [key.id for key in live_intake_keys(session) if key.id not in opened]
    if missing:
        raise Forbidden(
            N_("%(name)s does not hold every desk key (missing %(keys)s)"),
            name=who,
            keys=", ".join(missing),
        )


def key_holders(session: Session, *, secrets: ServerSecrets) -> list[User]:
    """Vetted key holders holding the active intake key, in name order.

    Each one's grant must be one the desk made: a grant row made up in the database (beside a
    role raised to coordinator, say) stops the caller instead of earning the next desk key.
    """
    active = active_intake_key(session)
    rows = session.execute(
        select(User, IntakeKeyGrant)
        .join(IntakeKeyGrant, IntakeKeyGrant.user_id == User.id)
        .where(
            IntakeKeyGrant.intake_key_id == active.id,
            User.vetted.is_(True),
            User.disabled.is_(False),
            User.role.in_(KEY_HOLDER_ROLES),
        )
        .order_by(User.name)
    ).all()
    for _, grant in rows:
        check_grant(grant, secrets=secrets)
    return [user for user, _ in rows]


def is_key_holder(session: Session, user: User) -> bool:
    query = (
        select(func.count()).select_from(IntakeKeyGrant).where(IntakeKeyGrant.user_id == user.id)
    )
    return (
        user.role in KEY_HOLDER_ROLES
        and user.vetted
        and not user.disabled
        and session.scalar(query) != 0
    )


def require_key_holder(session: Session, user: User) -> None:
    """Refuse anyone who is not (or, since their key was opened, no longer) a key holder.

    The account is read again in this unit of work: ``user`` may come from another one (a
    dashboard session is resumed in a read-only one) and be older than this transaction.
    """
    current = session.get(User, user.id, populate_existing=True)
    if current is None or not is_key_holder(session, current):
        raise Forbidden(N_("%(name)s is not a vetted key holder"), name=user.name)


@dataclass(frozen=True)
class IntakeKeyStatus:
    id: str
    state: str
    suite: str
    created_on: str
    fingerprint: str
    reports: int
    holders: list[str]
    recovery_keys: list[str]


def keyring_status(session: Session) -> list[IntakeKeyStatus]:
    per_key = select(Report.dek_key_id, func.count()).group_by(Report.dek_key_id)
    counts: dict[str, int] = dict(session.execute(per_key).all())
    statuses = []
    for key in session.execute(
        select(IntakeKey).order_by(IntakeKey.created_on, IntakeKey.id)
    ).scalars():
        grants = session.execute(
            select(IntakeKeyGrant).where(IntakeKeyGrant.intake_key_id == key.id)
        ).scalars()
        holders, recovery_keys = [], []
        for grant in grants:
            if grant.user is not None:
                holders.append(grant.user.name)
            elif grant.recovery_key_id is not None:
                recovery_keys.append(grant.recovery_key_id)
        statuses.append(
            IntakeKeyStatus(
                id=key.id,
                state=key.state.value,
                suite=key.suite,
                created_on=key.created_on.isoformat(),
                fingerprint=fingerprint_of(key.public_key),
                reports=counts.get(key.id, 0),
                holders=sorted(holders),
                recovery_keys=sorted(recovery_keys),
            )
        )
    return statuses
