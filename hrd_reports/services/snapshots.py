"""Statistics snapshots: what a coordinator publishes for the desk's network and donors, and
all that auditors see of the reports.

A snapshot is a computation's statistics (``services.statistics``), aggregates only, with
small counts already suppressed, a title, who published it and the day. It is stored
encrypted under a server-held key (``crypto.snapshots``), so that auditors, who hold no report
key, can read it, and a copy of the database alone cannot.
"""

import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hrd_reports.crypto import snapshots as sealing
from hrd_reports.crypto.errors import CryptoError
from hrd_reports.i18n import N_
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import Role, StatisticsSnapshot
from hrd_reports.services import audit, statistics
from hrd_reports.services.credentials import UnlockedUser
from hrd_reports.services.errors import DataIntegrityError, Forbidden, Invalid, NotFound
from hrd_reports.services.statistics import Computed, Statistics

PUBLISHERS = frozenset({Role.ADMIN, Role.COORDINATOR})
MAX_TITLE_LENGTH = 120
# The newest first, and no more than a page can list.
LIST_LIMIT = 500
DOCUMENT_VERSION = 1
# A title is one line of text: control characters, line and paragraph separators and the
# bidirectional controls would rewrite how it reads on a page or in a spreadsheet.
_NOT_IN_TITLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Snapshot:
    id: UUID
    published_by: str
    published_on: dt.date
    title: str
    statistics: Statistics


def clean_title(text: str) -> str:
    title = " ".join(text.split())
    if len(title) > MAX_TITLE_LENGTH:
        raise Invalid(N_("a title has at most %(limit)d characters"), limit=MAX_TITLE_LENGTH)
    if _NOT_IN_TITLE.search(title):
        raise Invalid(N_("a title is one line of plain text"))
    return title


def _key(secrets: ServerSecrets) -> bytes:
    return sealing.storage_key(secrets.pepper)


def publish(
    session: Session,
    *,
    publisher: UnlockedUser,
    computed: Computed,
    title: str,
    secrets: ServerSecrets,
) -> UUID:
    """Store ``computed``'s statistics as a snapshot, and audit the publication."""
    if publisher.user.role not in PUBLISHERS:
        raise Forbidden(N_("statistics are published by a coordinator"))
    document = {
        "v": DOCUMENT_VERSION,
        "title": clean_title(title),
        "statistics": statistics.dump(computed.statistics),
    }
    snapshot_id = uuid.uuid4()
    published_on = computed.statistics.computed_on
    session.add(
        StatisticsSnapshot(
            public_id=snapshot_id,
            published_by=publisher.name,
            published_on=published_on,
            sealed=sealing.seal_snapshot(
                json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
                key=_key(secrets),
                snapshot_id=snapshot_id,
                published_by=publisher.name,
                published_on=published_on,
            ),
        )
    )
    session.flush()
    filters = computed.statistics.filters
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=publisher.name,
        action="statistics.publish",
        subject=str(snapshot_id),
        detail={
            "received_from": filters.received_from.isoformat() if filters.received_from else None,
            "received_to": filters.received_to.isoformat() if filters.received_to else None,
            "governorate": filters.governorate,
        },
    )
    return snapshot_id


def _read(document: Any) -> tuple[str, Statistics]:
    """The title and statistics of a snapshot's document; ValueError for anything else."""
    if not isinstance(document, dict) or document.get("v") != DOCUMENT_VERSION:
        raise ValueError("not a snapshot of this version")
    title = document.get("title")
    if not isinstance(title, str):
        raise ValueError("a snapshot without its title")  # noqa: TRY004 - one refusal for all
    return title, statistics.load(document.get("statistics"))


def _open(row: StatisticsSnapshot, secrets: ServerSecrets) -> Snapshot:
    try:
        padded = sealing.open_snapshot(
            row.sealed,
            key=_key(secrets),
            snapshot_id=row.public_id,
            published_by=row.published_by,
            published_on=row.published_on,
        )
        title, shown = _read(json.loads(padded))
    except (CryptoError, ValueError, ValidationError) as exc:
        raise DataIntegrityError(
            N_("the statistics snapshot %(snapshot)s does not open: it was altered or damaged"),
            snapshot=row.public_id,
        ) from exc
    return Snapshot(row.public_id, row.published_by, row.published_on, title, shown)


def get_snapshot(session: Session, *, snapshot_id: UUID, secrets: ServerSecrets) -> Snapshot:
    row = session.execute(
        select(StatisticsSnapshot).where(StatisticsSnapshot.public_id == snapshot_id)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(N_("there is no statistics snapshot %(snapshot)s"), snapshot=snapshot_id)
    return _open(row, secrets)


@dataclass(frozen=True)
class Listed:
    snapshots: list[Snapshot]
    # Snapshots that did not open (altered or damaged): named, so one hides none of the rest.
    damaged: list[UUID]


def list_snapshots(session: Session, *, secrets: ServerSecrets) -> Listed:
    rows = session.execute(
        select(StatisticsSnapshot)
        .order_by(StatisticsSnapshot.published_on.desc(), StatisticsSnapshot.id.desc())
        .limit(LIST_LIMIT)
    ).scalars()
    opened, damaged = [], []
    for row in rows:
        try:
            opened.append(_open(row, secrets))
        except DataIntegrityError:
            damaged.append(row.public_id)
    return Listed(opened, damaged)
