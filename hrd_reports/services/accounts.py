"""Accounts on the dashboard: invitations, and enrolling the second factor.

An administrator invites a person by name and role and passes on a one-time link; the person
chooses a password and enrols an authenticator app, and only then is their key pair made. An
account made from the command line (``init``, ``user add``) enrols its second factor through
the same kind of link (``hrd-reports user invite NAME``).
"""

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hrd_reports.crypto import totp
from hrd_reports.crypto.links import new_link_token, token_hash
from hrd_reports.crypto.passwords import PasswordProtection
from hrd_reports.i18n import N_
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import Invitation, Role, User
from hrd_reports.services import audit, clock, credentials, users
from hrd_reports.services.credentials import UnlockedUser
from hrd_reports.services.errors import (
    Conflict,
    Invalid,
    NotFound,
)
from hrd_reports.services.signin import Throttle, check_password_throttled

ISSUER = "hrd-reports"


# The link names the account, so this may say which of the two it was.
ENROLMENT_PASSWORD_REFUSED = N_(
    "the password is wrong, or this account is locked for a while after too many attempts"
)


ENROLMENT_CODE_WRONG = N_(
    "the code from the authenticator app is not the one expected now. You do not need to scan "
    "again: type the six digits the app shows at this moment, and if it still fails, check that "
    "the phone's clock is set automatically"
)


INVITATION_INVALID = N_(
    "this invitation link is not valid: it was used, has expired or was replaced"
)


def invite(
    session: Session,
    *,
    name: str,
    role: Role | None,
    actor: str,
    valid_for: dt.timedelta,
    secrets: ServerSecrets,
) -> str:
    """A one-time link token for a new person, or for an existing account's second factor.

    ``role`` is required for a new person and ignored for an existing account. A new
    invitation for the same name replaces the earlier one.
    """
    users.check_name(name)
    audit.lock_for_change(session)
    existing = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
    if existing is not None and existing.disabled:
        raise Conflict(N_("%(name)r is disabled"), name=name)
    if existing is not None:
        invited_role = existing.role
    elif role is not None:
        invited_role = role
    else:
        raise Invalid(N_("a new person needs a role"))
    token = new_link_token()
    session.execute(delete(Invitation).where(Invitation.name == name))
    session.add(
        Invitation(
            token_hash=token_hash(token),
            name=name,
            role=invited_role,
            user_id=existing.id if existing is not None else None,
            invited_by=actor,
            expires_at=clock.naive_utc_now() + valid_for,
        )
    )
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=actor,
        action="user.invite" if existing is None else "user.enrol_link",
        subject=name,
        detail={"role": invited_role.value},
    )
    return token


def pending_invitation(session: Session, *, token: str, lock: bool = False) -> Invitation:
    query = select(Invitation).where(Invitation.token_hash == token_hash(token))
    invitation = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if invitation is None or invitation.expires_at <= clock.naive_utc_now():
        raise NotFound(INVITATION_INVALID)
    return invitation


def accept_invitation(
    session: Session,
    *,
    token: str,
    password: str,
    totp_secret: bytes,
    code: str,
    passwords: PasswordProtection,
    secrets: ServerSecrets,
    throttle: Throttle,
) -> UnlockedUser:
    """Set the password (new person) or check it (existing account) and enrol the app; the
    person's key comes back open, for the caller to sign them in at once.

    The code proves that the authenticator app holds the secret before anyone depends on it.
    An existing account's password is checked as a sign-in checks it (counted, locked out,
    audited): whoever holds an intercepted link must not get unlimited guesses through it.
    A refusal of the password is flushed before it is raised, for the caller to commit.
    """
    invitation = pending_invitation(session, token=token, lock=True)
    step = totp.matching_step(
        totp_secret, code, now=clock.utc_now().timestamp(), last_used_step=None
    )
    if step is None:
        # The page keeps the same key: the app already holds it, and a new one would make the
        # person scan again and leave a dead entry in their app.
        raise Invalid(ENROLMENT_CODE_WRONG)
    if invitation.user_id is None:
        unlocked = users.create_account(
            session,
            name=invitation.name,
            role=invitation.role,
            password=password,
            passwords=passwords,
            secrets=secrets,
            actor=invitation.invited_by,
        )
    else:
        existing = session.get(User, invitation.user_id)
        if existing is None or existing.disabled:
            raise NotFound(INVITATION_INVALID)
        check_password_throttled(
            session,
            existing,
            password=password,
            passwords=passwords,
            throttle=throttle,
            secrets=secrets,
            refusal=ENROLMENT_PASSWORD_REFUSED,
            via="enrolment link",
        )
        unlocked = credentials.open_key(existing, password=password, passwords=passwords)
    user = unlocked.user
    user.totp_secret = totp.protect_secret(
        totp_secret, key=totp.storage_key(secrets.pepper), owner=str(user.public_id)
    )
    user.totp_last_step = step
    user.failed_logins = 0
    user.locked_until = None
    session.delete(invitation)
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=user.name,
        action="user.enrol",
        subject=user.name,
        detail={"role": user.role.value},
    )
    return unlocked
