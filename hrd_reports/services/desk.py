"""Setting up a desk: the first administrator, the recovery key and the first intake key.

``hrd-reports init`` and the one-time setup link printed by ``hrd-reports serve`` both end
here. The first administrator becomes a key holder, since somebody must hold the desk key;
coordinators can be vetted later and the administrator's key access revoked.
"""

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hrd_reports.crypto.links import new_link_token, token_hash
from hrd_reports.crypto.passwords import PasswordProtection
from hrd_reports.crypto.recovery import encode_recovery_key
from hrd_reports.crypto.xwing import PrivateKey, fingerprint_of
from hrd_reports.i18n import N_
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import RecoveryKey, Role, SetupLink, User
from hrd_reports.services import audit, clock, keyring, users
from hrd_reports.services.clock import utc_today
from hrd_reports.services.errors import Conflict, NotFound


@dataclass(frozen=True)
class DeskSetup:
    admin_name: str
    intake_key_id: str
    intake_key_fingerprint: str
    recovery_key_id: str
    recovery_key: str  # shown once, never stored

    def __repr__(self) -> str:
        return f"DeskSetup(admin_name={self.admin_name!r}, intake_key_id={self.intake_key_id!r})"


def is_set_up(session: Session) -> bool:
    return session.execute(select(User.id).limit(1)).first() is not None


def set_up_desk(
    session: Session,
    *,
    admin_name: str,
    admin_password: str,
    passwords: PasswordProtection,
    secrets: ServerSecrets,
) -> DeskSetup:
    audit.lock_for_change(session)
    if is_set_up(session):
        raise Conflict(N_("this desk is already set up"))
    admin = users.create_user(
        session,
        name=admin_name,
        role=Role.ADMIN,
        password=admin_password,
        passwords=passwords,
        secrets=secrets,
        actor="setup",
    )
    admin.vetted = True
    recovery_private = PrivateKey.generate()
    recovery = RecoveryKey(
        id=recovery_private.key_id, public_key=recovery_private.public.raw, created_on=utc_today()
    )
    keyring.bind_recovery_key(recovery, secrets=secrets)
    session.add(recovery)
    key, private = keyring.new_intake_key(session, secrets=secrets)
    session.flush()
    keyring.grant_to_user(session, key_id=key.id, private=private, user=admin, secrets=secrets)
    keyring.grant_to_recovery(
        session, key_id=key.id, private=private, recovery=recovery, secrets=secrets
    )
    session.execute(delete(SetupLink))
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor="setup",
        action="desk.set_up",
        subject=admin_name,
        detail={"intake_key": key.id, "recovery_key": recovery.id},
    )
    return DeskSetup(
        admin_name=admin_name,
        intake_key_id=key.id,
        intake_key_fingerprint=fingerprint_of(key.public_key),
        recovery_key_id=recovery.id,
        recovery_key=encode_recovery_key(recovery_private),
    )


def issue_setup_link(session: Session, *, valid_for: dt.timedelta) -> str:
    """A fresh one-time setup token; any earlier link stops working."""
    if is_set_up(session):
        raise Conflict(N_("this desk is already set up"))
    token = new_link_token()
    session.execute(delete(SetupLink))
    session.add(
        SetupLink(token_hash=token_hash(token), expires_at=clock.naive_utc_now() + valid_for)
    )
    session.flush()
    return token


def check_setup_link(session: Session, *, token: str, lock: bool = False) -> None:
    """Refuse a link that was used, replaced or has expired.

    ``lock`` holds the link until commit, so that two clicks on "set up" cannot both pass
    the check: the second waits, then finds the link spent.
    """
    query = select(SetupLink).where(SetupLink.token_hash == token_hash(token))
    link = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if link is None or link.expires_at <= clock.naive_utc_now() or is_set_up(session):
        raise NotFound(
            N_(
                "this setup link is not valid: it was used, has expired or was replaced; "
                "restart `hrd-reports serve` for a new one"
            )
        )
