"""A person changes their own password: the login hash and the protection of their private key
are made anew under it, and every other session of theirs ends.

In two halves, as a sign-in: ``prepare`` does the Argon2 work (checking the current password,
hashing the new one, protecting the key under it) in a read-only unit of work, holding no lock;
``apply`` decides under the lock, against the account as it is by then. On SQLite a write
transaction holds the desk's one writer lock, and three Argon2 computations inside it would stop
every report from being stored for that long.
"""

from dataclasses import dataclass, field

from sqlalchemy import delete
from sqlalchemy.orm import Session

from hrd_reports.crypto.passwords import PasswordProtection
from hrd_reports.crypto.sessions import SessionToken
from hrd_reports.crypto.xwing import PrivateKey
from hrd_reports.i18n import N_
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import DashboardSession, User
from hrd_reports.services import audit, credentials, users
from hrd_reports.services.errors import AuthenticationFailed, Conflict, Invalid
from hrd_reports.services.signin import Throttle, is_locked, record_failure

CURRENT_PASSWORD_REFUSED = N_(
    "the current password is wrong, or this account is locked for a while after too many attempts"
)


@dataclass(frozen=True)
class PreparedChange:
    """The outcome of ``prepare``: the new protections, or why the current password failed."""

    user_id: int
    # The hash the change was prepared against: a change made meanwhile is not overwritten.
    old_hash: str
    failure: str | None
    password_hash: str = field(default="", repr=False)
    protected_private_key: bytes = field(default=b"", repr=False)


def prepare(
    session: Session,
    *,
    name: str,
    current: str,
    new: str,
    passwords: PasswordProtection,
    private_key: PrivateKey | None = None,
) -> PreparedChange:
    """Check ``current`` and protect the key under ``new``; writes nothing.

    ``private_key`` is the key a signed-in session already holds; without it (the command
    line), the current password opens it.
    """
    user = users.get_user(session, name)
    users.check_password(name=user.name, password=new)
    if new == current:
        raise Invalid(N_("the new password is the same as the current one"))
    if is_locked(user):
        passwords.verify_dummy(current)
        return PreparedChange(user_id=user.id, old_hash=user.password_hash, failure="locked")
    if not passwords.verify_password(user.password_hash, current):
        return PreparedChange(user_id=user.id, old_hash=user.password_hash, failure="password")
    if private_key is None:
        private_key = credentials.opened_private_key(user, password=current, passwords=passwords)
    return PreparedChange(
        user_id=user.id,
        old_hash=user.password_hash,
        failure=None,
        password_hash=passwords.hash_password(new),
        protected_private_key=passwords.protect_seed(
            private_key.seed(), password=new, owner=user.public_id
        ),
    )


def apply(
    session: Session,
    *,
    prepared: PreparedChange,
    throttle: Throttle,
    secrets: ServerSecrets,
    keep: SessionToken | None = None,
) -> User:
    """Store the change, or count and audit a wrong current password (flushed before it is
    raised, for the caller to commit, as at sign-in).

    Every session of the person but ``keep`` (the one that asked) ends: whoever else had
    signed in with the old password is signed out.
    """
    audit.lock_for_change(session)
    user = session.get(User, prepared.user_id)
    if user is None or user.disabled:
        raise AuthenticationFailed(CURRENT_PASSWORD_REFUSED)
    if prepared.failure is not None:
        record_failure(
            session,
            name=user.name,
            account=user,
            counted=prepared.failure == "password",
            throttle=throttle,
            secrets=secrets,
            why=prepared.failure,
            via="password change",
        )
        raise AuthenticationFailed(CURRENT_PASSWORD_REFUSED)
    if user.password_hash != prepared.old_hash:
        raise Conflict(N_("the password was changed meanwhile; sign in again with the new one"))
    user.password_hash = prepared.password_hash
    user.protected_private_key = prepared.protected_private_key
    user.failed_logins = 0
    others = delete(DashboardSession).where(DashboardSession.user_id == user.id)
    if keep is not None:
        others = others.where(DashboardSession.lookup != keep.lookup)
    session.execute(others)
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=user.name,
        action="user.password",
        subject=user.name,
        detail={},
    )
    return user
