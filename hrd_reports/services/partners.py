"""Partner organisations the desk refers cases to: each registered with a public key that was
checked, listed with its fingerprint to compare with the partner out of band, and disabled
when the desk stops working with it (kept, since referrals name it). Administrators only;
every change audited.
"""

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hrd_reports.crypto.binding import Bound, check_record_binding, record_binding
from hrd_reports.crypto.partners import (
    KeyKind,
    PartnerKeyRefused,
    Refusal,
    fingerprint_groups,
    read_partner_key,
)
from hrd_reports.i18n import N_
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import Partner, PartnerKeyKind
from hrd_reports.services import audit, clock, keyring
from hrd_reports.services.errors import Conflict, Invalid, NotFound

MAX_NAME_LENGTH = 100

# What a person reads when a key is refused, by the reason the crypto package gives.
REFUSALS = {
    Refusal.EMPTY: N_("no key was given: paste the partner's public key"),
    Refusal.TOO_LARGE: N_("this is too large to be a public key"),
    Refusal.SECRET_KEY: N_(
        "this is a private (secret) key, not a public one, and it was not kept. A private key "
        "that was shared has left its owner's hands: tell the partner to replace it, and ask "
        "them for their public key"
    ),
    Refusal.NOT_A_KEY: N_(
        "this is neither an age public key (age1...) nor an OpenPGP public key block"
    ),
    Refusal.SSH_KEY: N_(
        "this is an SSH key; ask the partner for an age or OpenPGP public key made for encryption"
    ),
    Refusal.AGE_MALFORMED: N_("this age public key is not valid: check that it was copied whole"),
    Refusal.AGE_SEVERAL: N_("give one age public key for a partner, not several"),
    Refusal.AGE_PQ_UNSUPPORTED: N_(
        "post-quantum age keys (age1pq1...) cannot be used yet: the age library of this desk "
        "does not support them. Ask the partner for an OpenPGP key with a post-quantum "
        "subkey, or an age key (age1tagpq1... or age1...)"
    ),
    Refusal.AGE_PLUGIN: N_(
        "this age key needs a plugin program to encrypt to it, which the desk does not run; "
        "ask the partner for a native age key (age1...)"
    ),
    Refusal.OPENPGP_MALFORMED: N_(
        "this is not a valid OpenPGP public key: check that it was copied whole"
    ),
    Refusal.OPENPGP_SEVERAL: N_(
        "this holds several OpenPGP keys; give the one key of this partner"
    ),
    Refusal.OPENPGP_REVOKED: N_(
        "this OpenPGP key was revoked by its owner; ask the partner for their current key"
    ),
    Refusal.OPENPGP_EXPIRED: N_(
        "this OpenPGP key expired on %(day)s; ask the partner for their current key, or to "
        "extend this one"
    ),
    Refusal.OPENPGP_NO_ENCRYPTION_KEY: N_(
        "this OpenPGP key has no valid key for encryption; ask the partner for one that has"
    ),
    Refusal.OPENPGP_WEAK: N_(
        "this OpenPGP key uses %(algorithm)s, too weak for reports that must stay secret for "
        "decades; ask the partner for a new key (Curve25519, RSA of at least 3072 bits, or "
        "post-quantum)"
    ),
}


def refusal(exc: PartnerKeyRefused) -> Invalid:
    """The refusal of a key as a person reads it."""
    return Invalid(REFUSALS[exc.reason], **exc.params)


@dataclass(frozen=True)
class PartnerView:
    id: UUID
    name: str
    kind: str
    fingerprint: str
    algorithm: str
    post_quantum: bool
    added_on: dt.date
    added_by: str
    disabled: bool

    @property
    def fingerprint_groups(self) -> str:
        return fingerprint_groups(self.fingerprint)


def view_of(partner: Partner) -> PartnerView:
    return PartnerView(
        id=partner.public_id,
        name=partner.name,
        kind=partner.kind.value,
        fingerprint=partner.fingerprint,
        algorithm=partner.algorithm,
        post_quantum=partner.post_quantum,
        added_on=partner.added_on,
        added_by=partner.added_by,
        disabled=partner.disabled,
    )


def check_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise Invalid(N_("give the partner a name"))
    if len(name) > MAX_NAME_LENGTH:
        raise Invalid(
            N_("a partner's name has at most %(limit)d characters"), limit=MAX_NAME_LENGTH
        )
    if not name.isprintable():
        raise Invalid(N_("a partner's name is plain text, without control characters"))
    return name


def _owner(partner: Partner) -> tuple[str]:
    return (str(partner.public_id),)


def _material(partner: Partner) -> bytes:
    # A JSON list: no name, kind or key can be shifted into another.
    return json.dumps([partner.name, partner.kind.value, partner.public_key]).encode("utf-8")


def add_partner(
    session: Session, *, name: str, key_data: bytes, actor: str, secrets: ServerSecrets
) -> PartnerView:
    """Register a partner and its public key, once the key passes every check."""
    name = check_name(name)
    try:
        key = read_partner_key(key_data, now=clock.utc_now())
    except PartnerKeyRefused as exc:
        raise refusal(exc) from None
    audit.lock_for_change(session)
    taken = session.execute(
        select(Partner.id).where(func.lower(Partner.name) == name.lower())
    ).first()
    if taken is not None:
        raise Conflict(N_("there is already a partner named %(name)s"), name=name)
    partner = Partner(
        public_id=uuid.uuid4(),
        name=name,
        kind=PartnerKeyKind(key.kind.value),
        public_key=key.text,
        fingerprint=key.fingerprint,
        algorithm=key.algorithm,
        post_quantum=key.post_quantum,
        key_binding=b"",
        added_on=clock.utc_today(),
        added_by=actor,
    )
    partner.key_binding = record_binding(
        secrets.binding, kind=Bound.PARTNER_KEY, owner=_owner(partner), material=_material(partner)
    )
    session.add(partner)
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=actor,
        action="partner.add",
        subject=name[:64],
        detail={
            "partner": str(partner.public_id),
            "kind": key.kind.value,
            "fingerprint": key.fingerprint,
            "algorithm": key.algorithm,
            "post_quantum": key.post_quantum,
        },
    )
    return view_of(partner)


def list_partners(session: Session, *, include_disabled: bool = True) -> list[PartnerView]:
    query = select(Partner).order_by(Partner.disabled, func.lower(Partner.name))
    if not include_disabled:
        query = query.where(Partner.disabled.is_(False))
    return [view_of(partner) for partner in session.execute(query).scalars()]


def get_partner(session: Session, partner_id: str | UUID) -> Partner:
    try:
        public_id = partner_id if isinstance(partner_id, UUID) else UUID(partner_id)
    except ValueError:
        raise NotFound(N_("there is no such partner")) from None
    partner = session.execute(
        select(Partner).where(Partner.public_id == public_id)
    ).scalar_one_or_none()
    if partner is None:
        raise NotFound(N_("there is no such partner"))
    return partner


def partner_named(session: Session, name: str) -> Partner:
    partner = session.execute(
        select(Partner).where(func.lower(Partner.name) == " ".join(name.split()).lower())
    ).scalar_one_or_none()
    if partner is None:
        raise NotFound(N_("there is no partner named %(name)s"), name=name)
    return partner


def disable_partner(
    session: Session, *, partner: Partner, actor: str, secrets: ServerSecrets
) -> bool:
    """No case is referred to it from now on; False when it already was disabled."""
    audit.lock_for_change(session)
    if partner.disabled:
        return False
    partner.disabled = True
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=actor,
        action="partner.disable",
        subject=partner.name[:64],
        detail={"partner": str(partner.public_id), "fingerprint": partner.fingerprint},
    )
    return True


def key_to_encrypt_to(partner: Partner, *, secrets: ServerSecrets) -> tuple[KeyKind, str]:
    """The partner's key, once its row is shown to be the one the desk recorded."""
    with keyring.integrity_checked(f"the key of partner {partner.public_id}"):
        check_record_binding(
            secrets.binding,
            kind=Bound.PARTNER_KEY,
            owner=_owner(partner),
            material=_material(partner),
            binding=partner.key_binding,
        )
    return KeyKind(partner.kind.value), partner.public_key
