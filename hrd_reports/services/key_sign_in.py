"""Signing in with a password and a security key, in two steps.

First the name and password, checked as every sign-in checks them (Argon2 off the writer
lock, throttled, audited). Then the key, asked for by a step that looks the same whatever the
first found: the browser is given a challenge and no list of the account's keys (they are
discoverable credentials), so a guesser learns from it neither that the name exists nor that
the password was right. Only the key's answer decides, and the answer says the same for
every refusal.

Between the two steps the person's key, opened by the password, waits in the challenge's row
sealed under a random key that only the step's cookie carries, as in a session: the server
alone cannot open it, and the row is spent by the first answer.

Where the desk requires a key of someone who has none yet, password and code lead instead to
registering one (ENROL), and only then to a session.
"""

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from hrd_reports.crypto import authenticators
from hrd_reports.crypto.authenticators import KeyRefused, RelyingParty
from hrd_reports.crypto.errors import DecryptionFailed
from hrd_reports.crypto.passwords import PasswordProtection
from hrd_reports.crypto.sessions import SessionToken
from hrd_reports.crypto.xwing import PrivateKey
from hrd_reports.i18n import N_
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import User, WebAuthnChallenge, WebAuthnCredential, WebAuthnPurpose
from hrd_reports.services import audit, clock, credentials, security_keys, signin
from hrd_reports.services.credentials import UnlockedUser
from hrd_reports.services.errors import AuthenticationFailed
from hrd_reports.services.signin import SignInCheck, Throttle

# One sentence for every refusal of the key step, as for the code.
KEY_SIGN_IN_REFUSED = N_(
    "the name, password or security key is wrong, the key took too long to answer, or this "
    "account is locked for a while after too many attempts"
)


def check_password(
    session: Session, *, name: str, password: str, passwords: PasswordProtection
) -> SignInCheck:
    """The first step, without writing anything: the password, and the key it opens.

    Two Argon2 computations on every path (the password, then the key, or the same work
    spent on nothing), so the time of the answer does not say whether the password was right.
    """
    checked = credentials.verify_credentials(
        session, name=name, password=password, passwords=passwords, locked=signin.is_locked
    )
    user = checked.user
    if user is None or checked.failure is not None:
        passwords.spend_key_opening(password)
        return SignInCheck(
            name=name,
            user_id=user.id if user is not None else None,
            failure=checked.failure,
            counted=checked.failure == "password",
            seen=signin.account_state(user) if user is not None else (),
        )
    private = credentials.opened_private_key(user, password=password, passwords=passwords)
    refreshed_hash, refreshed_key = credentials.refreshed_protection(
        user, private, password=password, passwords=passwords
    )
    return SignInCheck(
        name=name,
        user_id=user.id,
        failure=None,
        seen=signin.account_state(user),
        private_key=private,
        refreshed_hash=refreshed_hash,
        refreshed_key=refreshed_key,
    )


def _sealing_owner(user: User) -> str:
    # Bound to the person and to this use: a key sealed for a sign-in step opens as nothing else.
    return f"{user.public_id}.key-step"


def seal_for_step(token: SessionToken, user: User, private_key: PrivateKey) -> bytes:
    return token.seal(private_key.seed(), owner=_sealing_owner(user))


def open_from_step(token: SessionToken, user: User, sealed: bytes | None) -> PrivateKey | None:
    if sealed is None:
        return None
    try:
        private = PrivateKey(token.open(sealed, owner=_sealing_owner(user)))
    except DecryptionFailed:
        return None
    return private if private.public.raw == user.public_key else None


@dataclass(frozen=True)
class KeyStep:
    """What the page of the key step needs: the same shape for every outcome of the first."""

    challenge: bytes = field(repr=False)


def record_password(
    session: Session,
    *,
    check: SignInCheck,
    token: SessionToken,
    throttle: Throttle,
    secrets: ServerSecrets,
) -> KeyStep:
    """Decide the first step under the lock. A right password of an account with a key keeps
    a challenge (and the opened key, sealed to ``token``); anything else is counted and
    audited as a refusal now, and gets a challenge that nothing will ever accept."""
    audit.lock_for_change(session)
    user = session.get(User, check.user_id) if check.user_id is not None else None
    if user is None or user.disabled:
        signin.record_failure(
            session,
            name=check.name,
            account=None,
            counted=False,
            throttle=throttle,
            secrets=secrets,
            why="unknown or disabled",
            via="security key",
        )
        return KeyStep(authenticators.new_challenge())
    failure, counted = check.failure, check.counted
    if signin.is_locked(user):
        failure, counted = "locked", False
    elif failure is None and signin.account_state(user) != check.seen:
        failure, counted = "changed during sign-in", False
    elif failure is None and not security_keys.has_keys(session, user):
        # The password was right, but the account signs in with a code, and none was typed.
        failure, counted = "no code and no security key", False
    if failure is not None or check.private_key is None:
        signin.record_failure(
            session,
            name=user.name,
            account=user,
            counted=counted,
            throttle=throttle,
            secrets=secrets,
            why=failure or "password",
            via="security key",
        )
        return KeyStep(authenticators.new_challenge())
    if check.refreshed_hash is not None:
        user.password_hash = check.refreshed_hash
    if check.refreshed_key is not None:
        user.protected_private_key = check.refreshed_key
    challenge = security_keys.new_challenge(
        session,
        user=user,
        purpose=WebAuthnPurpose.SIGN_IN,
        lookup=token.lookup,
        sealed_private_key=seal_for_step(token, user, check.private_key),
    )
    return KeyStep(challenge)


def sign_in_with_key(
    session: Session,
    *,
    token: SessionToken,
    response: str,
    rp: RelyingParty,
    throttle: Throttle,
    secrets: ServerSecrets,
) -> UnlockedUser:
    """The second step: the key's answer to the challenge kept for ``token``.

    The challenge is spent whatever the answer. A refusal is flushed (failure count, audit
    entry) before it is raised: the caller commits it, as at every sign-in.
    """
    audit.lock_for_change(session)
    kept = security_keys.take_challenge(
        session, lookup=token.lookup, purpose=WebAuthnPurpose.SIGN_IN
    )
    user = session.get(User, kept.user_id) if kept is not None else None
    if kept is None or user is None:
        # A first step that failed, an answer too late or given twice: the first step
        # already counted and audited what it found.
        raise AuthenticationFailed(KEY_SIGN_IN_REFUSED)
    if user.disabled or signin.is_locked(user):
        signin.record_failure(
            session,
            name=user.name,
            account=user,
            counted=False,
            throttle=throttle,
            secrets=secrets,
            why="locked" if not user.disabled else "unknown or disabled",
            via="security key",
        )
        raise AuthenticationFailed(KEY_SIGN_IN_REFUSED)
    try:
        key, assertion = _verified(session, user=user, rp=rp, response=response, kept=kept)
    except KeyRefused as exc:
        # Counted: someone has this password and is trying keys that are not the person's.
        signin.record_failure(
            session,
            name=user.name,
            account=user,
            counted=True,
            throttle=throttle,
            secrets=secrets,
            why=exc.reason,
            via="sign-in",
            action="user.webauthn.refused",
        )
        raise AuthenticationFailed(KEY_SIGN_IN_REFUSED) from None
    private = open_from_step(token, user, kept.sealed_private_key)
    if private is None:
        raise AuthenticationFailed(KEY_SIGN_IN_REFUSED)
    key.sign_count = assertion.sign_count
    key.last_used_on = clock.utc_today()
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=user.name,
        action="login.success",
        subject=user.name,
        detail={"via": "security key", "key": str(key.public_id)},
    )
    return UnlockedUser(user=user, private_key=private)


def _verified(
    session: Session, *, user: User, rp: RelyingParty, response: str, kept: WebAuthnChallenge
) -> tuple[WebAuthnCredential, authenticators.Assertion]:
    claimed = authenticators.asserted_credential_id(response)
    key = session.execute(
        select(WebAuthnCredential).where(
            WebAuthnCredential.credential_id == claimed, WebAuthnCredential.user_id == user.id
        )
    ).scalar_one_or_none()
    if key is None:
        # Another person's key, a removed one, or one this desk never saw.
        raise KeyRefused("not a key of this account")
    assertion = authenticators.verified_assertion(
        rp,
        challenge=kept.challenge,
        response=response,
        public_key=key.public_key,
        stored_sign_count=key.sign_count,
    )
    if assertion.user_handle is not None and assertion.user_handle != security_keys.user_handle(
        user
    ):
        raise KeyRefused("not a key of this account")
    return key, assertion


def begin_enrolment(session: Session, *, unlocked: UnlockedUser, token: SessionToken) -> bytes:
    """After password and code, for someone the desk requires a key of and who has none: a
    challenge to register one, with their key sealed to ``token`` until they do."""
    return security_keys.new_challenge(
        session,
        user=unlocked.user,
        purpose=WebAuthnPurpose.ENROL,
        lookup=token.lookup,
        sealed_private_key=seal_for_step(token, unlocked.user, unlocked.private_key),
    )


def finish_enrolment(
    session: Session,
    *,
    token: SessionToken,
    name: str,
    response: str,
    rp: RelyingParty,
    secrets: ServerSecrets,
) -> UnlockedUser:
    """The new key registered, and the person's key back from its seal to open a session."""
    audit.lock_for_change(session)
    kept = security_keys.take_challenge(session, lookup=token.lookup, purpose=WebAuthnPurpose.ENROL)
    user = session.get(User, kept.user_id) if kept is not None else None
    if kept is None or user is None or user.disabled:
        raise AuthenticationFailed(security_keys.TOO_LATE)
    security_keys.register(
        session, user=user, challenge=kept, rp=rp, name=name, response=response, secrets=secrets
    )
    private = open_from_step(token, user, kept.sealed_private_key)
    if private is None:
        raise AuthenticationFailed(security_keys.TOO_LATE)
    return UnlockedUser(user=user, private_key=private)
