"""A person's security keys and passkeys (WebAuthn): registering, listing and removing them,
the challenges they answer, and whom the desk requires to use one.

A key proves that its holder is present; it opens nothing. The personal key stays wrapped
under the password (SECURITY.md): whoever signs in with a security key still gives the
password, which opens their key as before.
"""

import datetime as dt
import hashlib
import unicodedata
from uuid import UUID

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hrd_reports.crypto import authenticators
from hrd_reports.crypto.authenticators import KeyRefused, RelyingParty
from hrd_reports.i18n import N_
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import (
    IntakeKeyGrant,
    Role,
    User,
    WebAuthnChallenge,
    WebAuthnCredential,
    WebAuthnPolicy,
    WebAuthnPurpose,
)
from hrd_reports.services import audit, clock
from hrd_reports.services.errors import Conflict, Invalid, NotFound

# How long a challenge can be answered: long enough to find the key and type its PIN, short
# enough that a challenge seen by someone else is soon worth nothing.
CHALLENGE_LIFETIME = dt.timedelta(minutes=2)
MAX_KEYS = 10
MAX_NAME_LENGTH = 64

KEY_HOLDER_ROLES = frozenset({Role.ADMIN, Role.COORDINATOR})

UNAVAILABLE = N_(
    "security keys need the desk's public address: an administrator sets HRD_PUBLIC_URL to "
    "the address people use, with a host name (not an IP address)"
)
KEY_NOT_REGISTERED = N_(
    "the security key's answer was refused, so it was not added. Try again; if it fails "
    "again, the key may not support a PIN or fingerprint check, which the desk requires"
)
TOO_LATE = N_("the key did not answer in time, or this page was used already: please start again")
NAME_NEEDED = N_("give the key a name of 1 to 64 characters, such as “blue key” or “laptop”")


def check_key_name(name: str) -> str:
    """A key's name as kept: trimmed, in one Unicode form, printable, not too long."""
    name = unicodedata.normalize("NFC", name.strip())
    if not 1 <= len(name) <= MAX_NAME_LENGTH or not name.isprintable():
        raise Invalid(NAME_NEEDED)
    return name


def keys_of(session: Session, user: User) -> list[WebAuthnCredential]:
    return list(
        session.execute(
            select(WebAuthnCredential)
            .where(WebAuthnCredential.user_id == user.id)
            .order_by(WebAuthnCredential.id)
        ).scalars()
    )


def has_keys(session: Session, user: User) -> bool:
    count = session.execute(
        select(func.count())
        .select_from(WebAuthnCredential)
        .where(WebAuthnCredential.user_id == user.id)
    ).scalar_one()
    return int(count) > 0


def key_required(session: Session, user: User, policy: WebAuthnPolicy) -> bool:
    """Whether the desk requires ``user`` to sign in with a security key."""
    if policy == WebAuthnPolicy.ALL:
        return True
    if policy == WebAuthnPolicy.KEYHOLDERS and user.role in KEY_HOLDER_ROLES:
        held = session.execute(
            select(IntakeKeyGrant.id).where(IntakeKeyGrant.user_id == user.id).limit(1)
        ).first()
        return held is not None
    return False


def user_handle(user: User) -> bytes:
    """The account id a key holds for a discoverable credential: the random public id, never
    the name (a key can be read by whoever holds it)."""
    return user.public_id.bytes


def registration_lookup(session_lookup: bytes) -> bytes:
    """Where a key added in a session keeps its challenge: one per session, so that only that
    session (its cookie) can answer it, and a new attempt replaces the last."""
    return hashlib.sha256(b"hrd-reports/1/webauthn-register/" + session_lookup).digest()


def purge_expired_challenges(session: Session) -> int:
    result = session.execute(
        delete(WebAuthnChallenge).where(WebAuthnChallenge.expires_at <= clock.naive_utc_now())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def new_challenge(
    session: Session,
    *,
    user: User,
    purpose: WebAuthnPurpose,
    lookup: bytes,
    sealed_private_key: bytes | None = None,
) -> bytes:
    """A fresh challenge for ``user``, kept under ``lookup`` until answered or expired."""
    purge_expired_challenges(session)
    session.execute(delete(WebAuthnChallenge).where(WebAuthnChallenge.lookup == lookup))
    challenge = authenticators.new_challenge()
    session.add(
        WebAuthnChallenge(
            lookup=lookup,
            user_id=user.id,
            purpose=purpose,
            challenge=challenge,
            sealed_private_key=sealed_private_key,
            expires_at=clock.naive_utc_now() + CHALLENGE_LIFETIME,
        )
    )
    session.flush()
    return challenge


def take_challenge(
    session: Session, *, lookup: bytes, purpose: WebAuthnPurpose
) -> WebAuthnChallenge | None:
    """The challenge kept under ``lookup``, spent: deleted whatever comes next, so that no
    answer is ever checked against it twice. None if there is none, or it expired."""
    row = session.get(WebAuthnChallenge, lookup)
    if row is None:
        return None
    session.delete(row)
    session.flush()
    if row.purpose != purpose or row.expires_at <= clock.naive_utc_now():
        return None
    return row


def registration_options(
    session: Session, *, user: User, rp: RelyingParty, challenge: bytes
) -> dict[str, object]:
    """What the browser needs to create a key for ``user``; their keys are excluded, so the
    same key is not registered twice."""
    if len(keys_of(session, user)) >= MAX_KEYS:
        raise Conflict(N_("you have %(limit)d security keys; remove one first"), limit=MAX_KEYS)
    return authenticators.registration_options(
        rp,
        challenge=challenge,
        user_handle=user_handle(user),
        user_name=user.name,
        exclude=[key.credential_id for key in keys_of(session, user)],
    )


def audit_refusal(
    session: Session, *, user: User, reason: str, during: str, secrets: ServerSecrets
) -> None:
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=user.name,
        action="user.webauthn.refused",
        subject=user.name,
        detail={"reason": reason, "during": during},
    )


def register(
    session: Session,
    *,
    user: User,
    challenge: WebAuthnChallenge | None,
    rp: RelyingParty,
    name: str,
    response: str,
    secrets: ServerSecrets,
) -> WebAuthnCredential:
    """Check a ``navigator.credentials.create`` answer to ``challenge`` (already taken) and
    keep the new key under ``name``; audited either way.

    A refusal is flushed (its audit entry, the spent challenge) before it is raised: the
    caller commits it.
    """
    name = check_key_name(name)
    if challenge is None or challenge.user_id != user.id:
        audit_refusal(session, user=user, reason="expired", during="registration", secrets=secrets)
        raise Invalid(TOO_LATE)
    try:
        new = authenticators.registered_credential(
            rp, challenge=challenge.challenge, response=response
        )
    except KeyRefused as exc:
        audit_refusal(session, user=user, reason=exc.reason, during="registration", secrets=secrets)
        raise Invalid(KEY_NOT_REGISTERED) from None
    taken = session.execute(
        select(WebAuthnCredential.id).where(WebAuthnCredential.credential_id == new.credential_id)
    ).first()
    if taken is not None:
        audit_refusal(
            session, user=user, reason="already registered", during="registration", secrets=secrets
        )
        raise Conflict(N_("this security key is registered already"))
    if len(keys_of(session, user)) >= MAX_KEYS:
        raise Conflict(N_("you have %(limit)d security keys; remove one first"), limit=MAX_KEYS)
    key = WebAuthnCredential(
        user_id=user.id,
        credential_id=new.credential_id,
        public_key=new.public_key,
        sign_count=new.sign_count,
        name=name,
        transports=",".join(new.transports)[:128],
        created_on=clock.utc_today(),
        last_used_on=None,
    )
    session.add(key)
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=user.name,
        action="user.webauthn.register",
        subject=user.name,
        detail={"key": str(key.public_id)},
    )
    return key


def remove(
    session: Session,
    *,
    user: User,
    key_id: UUID,
    policy: WebAuthnPolicy,
    secrets: ServerSecrets,
) -> None:
    """Remove one of the person's own keys. The last key of someone the desk requires to use
    one stays: they would otherwise be back to a password and a code."""
    audit.lock_for_change(session)
    key = session.execute(
        select(WebAuthnCredential).where(
            WebAuthnCredential.public_id == key_id, WebAuthnCredential.user_id == user.id
        )
    ).scalar_one_or_none()
    if key is None:
        raise NotFound(N_("no such security key"))
    if key_required(session, user, policy) and len(keys_of(session, user)) == 1:
        raise Conflict(
            N_(
                "the desk requires a security key for your account: add another key before "
                "removing this one"
            )
        )
    session.delete(key)
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=user.name,
        action="user.webauthn.remove",
        subject=user.name,
        detail={"key": str(key_id)},
    )


def remove_all(session: Session, *, user: User, actor: str, secrets: ServerSecrets) -> int:
    """Every key of ``user`` removed (a lost key, by an administrator); how many."""
    audit.lock_for_change(session)
    keys = keys_of(session, user)
    for key in keys:
        session.delete(key)
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=actor,
        action="user.webauthn.remove",
        subject=user.name,
        detail={"keys": [str(key.public_id) for key in keys]},
    )
    return len(keys)
