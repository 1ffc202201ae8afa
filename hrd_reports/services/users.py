"""People: adding them, vetting, revoking, roles and disabling.

Vetting is where least privilege becomes cryptographic: vetting a coordinator (or an
administrator) seals the desk's intake keys to their personal key; a case worker gets no
desk key, only the keys of the reports later assigned to them; an auditor gets none.
"""

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import CursorResult, Delete, Update, delete, select, update
from sqlalchemy.orm import Session

from hrd_reports.crypto.passwords import PasswordProtection
from hrd_reports.crypto.xwing import PrivateKey
from hrd_reports.i18n import N_, SUPPORTED_LOCALES
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import IntakeKeyGrant, Report, ReportGrant, Role, User
from hrd_reports.services import audit, keyring, sessions
from hrd_reports.services.clock import utc_today
from hrd_reports.services.credentials import UnlockedUser
from hrd_reports.services.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
)

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")


MIN_PASSWORD_LENGTH = 12


MAX_PASSWORD_LENGTH = 1024


def check_name(name: str) -> None:
    if not NAME_PATTERN.fullmatch(name):
        raise Invalid(
            N_(
                "a user name has 2 to 64 characters: lower-case letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        )


def check_password(*, name: str, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(N_("a password has at least %(limit)d characters"), limit=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise Invalid(N_("a password has at most %(limit)d characters"), limit=MAX_PASSWORD_LENGTH)
    if name.casefold() in password.casefold():
        raise Invalid(N_("a password must not contain the user name"))
    if len(set(password)) < 5:
        raise Invalid(N_("this password is too easy to guess; use several different words"))


def exists(session: Session, name: str) -> bool:
    return session.execute(select(User.id).where(User.name == name)).first() is not None


def get_user(session: Session, name: str) -> User:
    user = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
    if user is None:
        raise NotFound(N_("there is no user named %(name)r"), name=name)
    return user


def create_user(
    session: Session,
    *,
    name: str,
    role: Role,
    password: str,
    passwords: PasswordProtection,
    secrets: ServerSecrets,
    actor: str,
) -> User:
    return create_account(
        session,
        name=name,
        role=role,
        password=password,
        passwords=passwords,
        secrets=secrets,
        actor=actor,
    ).user


def create_account(
    session: Session,
    *,
    name: str,
    role: Role,
    password: str,
    passwords: PasswordProtection,
    secrets: ServerSecrets,
    actor: str,
) -> UnlockedUser:
    """A new person and their key pair, the private key still open: whoever creates an account
    from a form signs its person in at once, without a second Argon2 derivation to reopen it."""
    check_name(name)
    check_password(name=name, password=password)
    audit.lock_for_change(session)
    if exists(session, name):
        raise Conflict(N_("there is already a user named %(name)r"), name=name)
    private = PrivateKey.generate()
    public_id = uuid.uuid4()
    user = User(
        public_id=public_id,
        name=name,
        role=role,
        password_hash=passwords.hash_password(password),
        public_key=private.public.raw,
        key_id=private.key_id,
        # Bound to the user's public id: a protected key copied onto another row won't open.
        protected_private_key=passwords.protect_seed(
            private.seed(), password=password, owner=public_id
        ),
        vetted=False,
        disabled=False,
        created_on=utc_today(),
    )
    keyring.bind_user_key(user, secrets=secrets)
    session.add(user)
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=actor,
        action="user.add",
        subject=name,
        detail={"role": role.value},
    )
    return UnlockedUser(user=user, private_key=private)


@dataclass(frozen=True)
class VetOutcome:
    name: str
    role: Role
    keys_granted: list[str]
    already_vetted: bool


def vet_user(
    session: Session,
    *,
    name: str,
    vetter: User | None,
    intake_keys: dict[str, PrivateKey],
    vetted_by: str,
    secrets: ServerSecrets,
) -> VetOutcome:
    """Vet ``name``; a coordinator or administrator also gets every live desk key.

    ``vetter`` is the key holder who vets, or None when the recovery key does; ``intake_keys``
    are the keys they opened, which must be every live key, so that a new holder is never
    left half-equipped.
    """
    audit.lock_for_change(session)
    user = get_user(session, name)
    if vetter is not None:
        keyring.require_key_holder(session, vetter)
        if vetter.id == user.id:
            raise Forbidden(N_("nobody can vet themselves"))
    if user.disabled:
        raise Forbidden(N_("%(name)r is disabled"), name=name)
    if user.role == Role.AUDITOR:
        raise Forbidden(N_("auditors see the audit log and statistics, never report content"))
    keyring.require_all_live_keys(session, intake_keys, who=vetted_by)
    granted: list[str] = []
    if user.role in keyring.KEY_HOLDER_ROLES:
        held = set(
            session.execute(
                select(IntakeKeyGrant.intake_key_id).where(IntakeKeyGrant.user_id == user.id)
            ).scalars()
        )
        for key_id, private in sorted(intake_keys.items()):
            if key_id not in held:
                keyring.grant_to_user(
                    session, key_id=key_id, private=private, user=user, secrets=secrets
                )
                granted.append(key_id)
    already = user.vetted and not granted
    user.vetted = True
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=vetted_by,
        action="user.vet",
        subject=name,
        detail={"role": user.role.value, "intake_keys_granted": granted},
    )
    return VetOutcome(name=name, role=user.role, keys_granted=granted, already_vetted=already)


@dataclass(frozen=True)
class RevokeOutcome:
    name: str
    desk_keys_removed: int
    report_keys_removed: int
    reports_unassigned: int

    @property
    def rotation_advised(self) -> bool:
        # They could have kept a copy of what they could open: only a new key shuts them out
        # of reports that arrive from now on.
        return self.desk_keys_removed > 0 or self.report_keys_removed > 0


def count_rows(session: Session, statement: Delete | Update) -> int:
    """Rows changed by a bulk DELETE or UPDATE."""
    result = session.execute(statement)
    return result.rowcount if isinstance(result, CursorResult) else 0


def revoke_user(
    session: Session, *, name: str, actor: str, secrets: ServerSecrets
) -> RevokeOutcome:
    audit.lock_for_change(session)
    user = get_user(session, name)
    if keyring.is_key_holder(session, user):
        holders = keyring.key_holders(session, secrets=secrets)
        others = [holder for holder in holders if holder.id != user.id]
        if not others:
            raise Conflict(
                N_(
                    "%(name)r is the last key holder; vet another coordinator first, or every "
                    "report could only be opened with the recovery key"
                ),
                name=name,
            )
    desk_keys = count_rows(session, delete(IntakeKeyGrant).where(IntakeKeyGrant.user_id == user.id))
    report_keys = count_rows(session, delete(ReportGrant).where(ReportGrant.user_id == user.id))
    unassigned = count_rows(
        session, update(Report).where(Report.assignee_id == user.id).values(assignee_id=None)
    )
    user.vetted = False
    # A signed-in session holds the person's key; with their grants gone it opens nothing,
    # but they should not stay signed in to a desk that no longer trusts them.
    sessions.end_all(session, user)
    outcome = RevokeOutcome(
        name=name,
        desk_keys_removed=desk_keys,
        report_keys_removed=report_keys,
        reports_unassigned=unassigned,
    )
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=actor,
        action="user.revoke",
        subject=name,
        detail={
            "desk_keys_removed": outcome.desk_keys_removed,
            "report_keys_removed": outcome.report_keys_removed,
            "reports_unassigned": outcome.reports_unassigned,
        },
    )
    return outcome


def change_role(
    session: Session, *, name: str, role: Role, actor: str, secrets: ServerSecrets
) -> RevokeOutcome:
    """Give ``name`` another role: every key they held is removed and they must be vetted anew.

    Vetting grants keys for a role; keeping them across a change would leave a former
    coordinator holding the desk key as a case worker, or an auditor holding report keys.
    """
    user = get_user(session, name)
    if user.role == role:
        raise Conflict(N_("%(name)r already has the role %(role)s"), name=name, role=role.value)
    outcome = revoke_user(session, name=name, actor=actor, secrets=secrets)
    previous = user.role
    user.role = role
    # The key binding covers the role: rebound, or sealing to this user would be refused.
    keyring.bind_user_key(user, secrets=secrets)
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=actor,
        action="user.role",
        subject=name,
        detail={"from": previous.value, "to": role.value},
    )
    return outcome


def set_disabled(
    session: Session, *, name: str, disabled: bool, actor: str, secrets: ServerSecrets
) -> RevokeOutcome | None:
    """Disable (keys removed, signed out everywhere, no sign-in) or enable an account again."""
    user = get_user(session, name)
    if user.disabled == disabled:
        raise Conflict(
            N_("%(name)r is already disabled") if disabled else N_("%(name)r is already enabled"),
            name=name,
        )
    outcome = revoke_user(session, name=name, actor=actor, secrets=secrets) if disabled else None
    user.disabled = disabled
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=actor,
        action="user.disable" if disabled else "user.enable",
        subject=name,
        detail={},
    )
    return outcome


def choose_language(
    session: Session, *, name: str, language: str | None, secrets: ServerSecrets
) -> None:
    """The language of a person's own dashboard; None follows their browser again."""
    if language is not None and language not in SUPPORTED_LOCALES:
        raise Invalid(N_("choose one of the languages offered"))
    audit.lock_for_change(session)
    user = get_user(session, name)
    user.language = language
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=name,
        action="user.language",
        subject=name,
        detail={"language": language or "browser"},
    )


def list_users(session: Session) -> list[User]:
    return list(session.execute(select(User).order_by(User.name)).scalars())
