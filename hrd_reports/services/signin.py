"""Signing in to the dashboard: the password and a one-time code that has not been used
before. Failures are counted per account and lock it for a while; the answer is the same
whoever and whatever was wrong.
"""

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from hrd_reports.crypto import totp
from hrd_reports.crypto.errors import DecryptionFailed
from hrd_reports.crypto.passwords import PasswordProtection
from hrd_reports.crypto.xwing import PrivateKey
from hrd_reports.i18n import N_
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import User
from hrd_reports.services import audit, clock, credentials, security_keys
from hrd_reports.services.credentials import UnlockedUser
from hrd_reports.services.errors import (
    AuthenticationFailed,
    DataIntegrityError,
)

# One sentence for an unknown name, a wrong password, a wrong or reused code and a locked
# account: none of them tells a guesser which it was, or that the name exists.
SIGN_IN_REFUSED = N_(
    "the name, password or code is wrong, or this account is locked for a while after "
    "too many attempts"
)


@dataclass(frozen=True)
class Throttle:
    max_failures: int
    lockout: dt.timedelta


def record_failure(
    session: Session,
    *,
    name: str,
    account: User | None,
    counted: bool,
    throttle: Throttle,
    secrets: ServerSecrets,
    why: str,
    via: str | None = None,
    action: str = "login.failure",
) -> None:
    """Audit a refused attempt; a counted one brings the account nearer to its lock-out.

    An attempt on an unknown name is audited as "unknown": what was typed as a name is
    sometimes a password, and the audit log must not keep it.
    """
    detail: dict[str, object] = {"reason": why}
    if via is not None:
        detail["via"] = via
    if account is not None and counted:
        account.failed_logins += 1
        if account.failed_logins >= throttle.max_failures:
            account.locked_until = clock.naive_utc_now() + throttle.lockout
            account.failed_logins = 0
            detail["locked_minutes"] = int(throttle.lockout.total_seconds() // 60)
        session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=name if account is not None else "unknown",
        action=action,
        subject=name if account is not None else None,
        detail=detail,
    )


def is_locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > clock.naive_utc_now()


def check_password_throttled(
    session: Session,
    user: User,
    *,
    password: str,
    passwords: PasswordProtection,
    throttle: Throttle,
    secrets: ServerSecrets,
    refusal: str,
    via: str | None,
) -> None:
    """The account's password, throttled and audited like every way in that checks one."""
    locked = is_locked(user)
    if locked:
        # The same work as a real check: the answer's timing does not say "locked".
        passwords.verify_dummy(password)
    elif passwords.verify_password(user.password_hash, password):
        return
    record_failure(
        session,
        name=user.name,
        account=user,
        counted=not locked,
        throttle=throttle,
        secrets=secrets,
        why="locked" if locked else "password",
        via=via,
    )
    raise AuthenticationFailed(refusal)


@dataclass(frozen=True)
class SignInCheck:
    """What the first half of a sign-in found, without holding any lock.

    The Argon2 work (the password, and the key it opens) is done here, in a read-only unit
    of work: on SQLite a write transaction holds the one writer lock for its whole length, and
    a sign-in that held it through Argon2 stopped every report from being stored for that
    long; anyone can make a sign-in attempt. ``record_sign_in`` then decides under the lock,
    against the account as it is by then.
    """

    name: str
    user_id: int | None
    # Why it failed (for the audit), and whether it counts towards a lock-out; None if not.
    failure: str | None
    counted: bool = False
    step: int | None = None
    # The account as this check saw it: a change in between (a parallel sign-in, a new
    # password) voids the check.
    seen: tuple[object, ...] = ()
    private_key: PrivateKey | None = field(default=None, repr=False)
    # Re-protected under raised Argon2 costs, to be stored if nothing changed in between.
    refreshed_hash: str | None = field(default=None, repr=False)
    refreshed_key: bytes | None = field(default=None, repr=False)


def account_state(user: User) -> tuple[object, ...]:
    return (
        user.password_hash,
        user.protected_private_key,
        user.totp_secret,
        user.totp_last_step,
        user.locked_until,
        user.disabled,
    )


def check_sign_in(
    session: Session,
    *,
    name: str,
    password: str,
    code: str,
    passwords: PasswordProtection,
    secrets: ServerSecrets,
) -> SignInCheck:
    """Name, password and one-time code, checked without writing anything (see SignInCheck).

    Every way through costs the same Argon2 work: an unknown name and a locked account are
    checked against a dummy hash, so the time of the answer does not tell them apart.
    """
    checked = credentials.verify_credentials(
        session, name=name, password=password, passwords=passwords, locked=is_locked
    )
    user = checked.user
    if user is None:
        return SignInCheck(name=name, user_id=None, failure=checked.failure)
    seen = account_state(user)
    if checked.failure is not None:
        # A wrong password counts towards a lock-out; trying a locked account does not.
        counted = checked.failure == "password"
        return SignInCheck(
            name=name, user_id=user.id, failure=checked.failure, counted=counted, seen=seen
        )
    if user.totp_secret is None:
        # The password was right, so saying this reveals nothing a guesser did not have.
        raise AuthenticationFailed(
            N_(
                "this account has no second factor yet; an administrator can send an "
                "enrolment link (hrd-reports user invite %(name)s)"
            ),
            name=name,
        )
    try:
        secret = totp.unprotect_secret(
            user.totp_secret, key=totp.storage_key(secrets.pepper), owner=str(user.public_id)
        )
    except DecryptionFailed as exc:
        raise DataIntegrityError(
            N_("the second factor of %(name)r fails its integrity check"), name=name
        ) from exc
    step = totp.matching_step(
        secret, code, now=clock.utc_now().timestamp(), last_used_step=user.totp_last_step
    )
    if step is None:
        return SignInCheck(name=name, user_id=user.id, failure="code", counted=True, seen=seen)
    private = credentials.opened_private_key(user, password=password, passwords=passwords)
    refreshed_hash, refreshed_key = credentials.refreshed_protection(
        user, private, password=password, passwords=passwords
    )
    return SignInCheck(
        name=name,
        user_id=user.id,
        failure=None,
        step=step,
        seen=seen,
        private_key=private,
        refreshed_hash=refreshed_hash,
        refreshed_key=refreshed_key,
    )


def record_sign_in(
    session: Session,
    *,
    check: SignInCheck,
    throttle: Throttle,
    secrets: ServerSecrets,
    keys_replace_codes: bool = False,
) -> UnlockedUser:
    """Decide a checked sign-in under the lock: count and audit a failure, or spend the code.

    ``keys_replace_codes``: the desk offers security keys (HRD_PUBLIC_URL is set), and an
    account that has one may no longer sign in with a code.

    A refusal is flushed (failure count, lock-out, audit entry) before it is raised: the
    caller commits it, so that guessing costs the guesser the lock-out it should.
    """
    audit.lock_for_change(session)
    user = session.get(User, check.user_id) if check.user_id is not None else None
    if user is None or user.disabled:
        record_failure(
            session,
            name=check.name,
            account=None,
            counted=False,
            throttle=throttle,
            secrets=secrets,
            why="unknown or disabled",
        )
        raise AuthenticationFailed(SIGN_IN_REFUSED)
    failure, counted = check.failure, check.counted
    if is_locked(user):
        failure, counted = "locked", False
    elif failure is None and account_state(user) != check.seen:
        # Changed since the check: the code was spent by a parallel sign-in, the password
        # was changed, or the account was locked. Refused without counting; try again.
        code_spent = user.totp_last_step is not None and user.totp_last_step >= (check.step or 0)
        failure = "code" if code_spent else "changed during sign-in"
    elif failure is None and keys_replace_codes and security_keys.has_keys(session, user):
        # Whoever has a security key signs in with it: a code phished along with the
        # password must not get around the key.
        failure, counted = "security key required", False
    if failure is not None or check.private_key is None or check.step is None:
        record_failure(
            session,
            name=user.name,
            account=user,
            counted=counted,
            throttle=throttle,
            secrets=secrets,
            why=failure or "password",
        )
        raise AuthenticationFailed(SIGN_IN_REFUSED)
    # Spent in the same transaction as the session it opens: the same code cannot open two.
    user.totp_last_step = check.step
    if check.refreshed_hash is not None:
        user.password_hash = check.refreshed_hash
    if check.refreshed_key is not None:
        user.protected_private_key = check.refreshed_key
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=user.name,
        action="login.success",
        subject=user.name,
        detail={},
    )
    return UnlockedUser(user=user, private_key=check.private_key)


def sign_in(
    session: Session,
    *,
    name: str,
    password: str,
    code: str,
    passwords: PasswordProtection,
    secrets: ServerSecrets,
    throttle: Throttle,
) -> UnlockedUser:
    """Check name, password and one-time code; open the person's key; audit either way.

    Both halves in one unit of work (the dashboard runs the check in a read-only one first,
    so that no lock is held through Argon2; see SignInCheck).
    """
    check = check_sign_in(
        session, name=name, password=password, code=code, passwords=passwords, secrets=secrets
    )
    return record_sign_in(session, check=check, throttle=throttle, secrets=secrets)
