"""Proving who one is with a password, and opening one's private key with it: the one check of
a name and password for every way in (the dashboard's sign-in, the command line's ``--as``).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from hrd_reports.crypto.passwords import PasswordProtection
from hrd_reports.crypto.xwing import PrivateKey
from hrd_reports.i18n import N_
from hrd_reports.models import User
from hrd_reports.services import keyring
from hrd_reports.services.errors import (
    AuthenticationFailed,
)

# Said the same way for an unknown name and a wrong password, so neither reveals who exists.
LOGIN_REFUSED = N_("unknown user or wrong password")


@dataclass(frozen=True)
class UnlockedUser:
    """A user whose private key is open in memory for the length of one command or request."""

    user: User
    private_key: PrivateKey = field(repr=False)

    @property
    def name(self) -> str:
        return self.user.name


@dataclass(frozen=True)
class CredentialCheck:
    """The one check of a person's name and password, for every way in (the dashboard's
    sign-in, the command line's ``--as``)."""

    # None: no such account, or a disabled one.
    user: User | None
    # Why it is refused ("unknown or disabled", "locked", "password"); None: the password is
    # right and the account may use it.
    failure: str | None


def verify_credentials(
    session: Session,
    *,
    name: str,
    password: str,
    passwords: PasswordProtection,
    locked: Callable[[User], bool] = lambda _user: False,
) -> CredentialCheck:
    """Whether ``password`` is ``name``'s; writes nothing.

    Every way through costs one Argon2 verification: an unknown name, a disabled account and
    a ``locked`` one are checked against a dummy hash, so the time of the answer does not tell
    a guesser which names exist, or which are locked.
    """
    user = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
    if user is None or user.disabled:
        passwords.verify_dummy(password)
        return CredentialCheck(None, "unknown or disabled")
    if locked(user):
        passwords.verify_dummy(password)
        return CredentialCheck(user, "locked")
    if not passwords.verify_password(user.password_hash, password):
        return CredentialCheck(user, "password")
    return CredentialCheck(user, None)


def unlock(
    session: Session, *, name: str, password: str, passwords: PasswordProtection
) -> UnlockedUser:
    """Check the password and open the user's private key; refresh both if costs were raised."""
    checked = verify_credentials(session, name=name, password=password, passwords=passwords)
    if checked.user is None or checked.failure is not None:
        raise AuthenticationFailed(LOGIN_REFUSED)
    return open_key(checked.user, password=password, passwords=passwords)


def open_key(user: User, *, password: str, passwords: PasswordProtection) -> UnlockedUser:
    """Open the private key of ``user``, whose password the caller has just checked, and
    re-protect both under raised Argon2 costs.

    Apart from ``unlock`` so that a sign-in, which checks the password itself (to count and
    audit a failure), does not pay for a second Argon2 verification.
    """
    private = opened_private_key(user, password=password, passwords=passwords)
    refreshed_hash, refreshed_key = refreshed_protection(
        user, private, password=password, passwords=passwords
    )
    if refreshed_hash is not None:
        user.password_hash = refreshed_hash
    if refreshed_key is not None:
        user.protected_private_key = refreshed_key
    return UnlockedUser(user=user, private_key=private)


def opened_private_key(user: User, *, password: str, passwords: PasswordProtection) -> PrivateKey:
    """The private key of ``user`` opened with ``password``; the user row is not changed."""
    name = user.name
    with keyring.integrity_checked(f"the private key of {name!r}"):
        private = PrivateKey(
            passwords.unprotect_seed(
                user.protected_private_key, password=password, owner=user.public_id
            )
        )
    if private.public.raw != user.public_key:
        raise AuthenticationFailed(
            N_("the private key of %(name)r does not match its public key"), name=name
        )
    return private


def refreshed_protection(
    user: User, private: PrivateKey, *, password: str, passwords: PasswordProtection
) -> tuple[str | None, bytes | None]:
    """The password hash and the protected key anew where Argon2's costs were raised since
    they were made (None where they are current)."""
    refreshed_hash = (
        passwords.hash_password(password)
        if passwords.password_hash_outdated(user.password_hash)
        else None
    )
    refreshed_key = (
        passwords.protect_seed(private.seed(), password=password, owner=user.public_id)
        if passwords.protection_outdated(user.protected_private_key)
        else None
    )
    return refreshed_hash, refreshed_key
