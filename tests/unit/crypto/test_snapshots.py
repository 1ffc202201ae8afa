"""A published snapshot at rest: encrypted under a key from the pepper, bound to its row."""

import datetime as dt
import secrets
import uuid

import pytest

from hrd_reports.crypto import addresses, snapshots
from hrd_reports.crypto.errors import DecryptionFailed

PEPPER = secrets.token_bytes(32)
DAY = dt.date(2026, 3, 31)


def sealed(document: bytes, snapshot_id: uuid.UUID, by: str = "cora") -> bytes:
    return snapshots.seal_snapshot(
        document,
        key=snapshots.storage_key(PEPPER),
        snapshot_id=snapshot_id,
        published_by=by,
        published_on=DAY,
    )


def test_a_snapshot_opens_as_it_was_sealed_padded_to_a_step() -> None:
    snapshot_id = uuid.uuid4()
    document = b'{"v":1,"title":"first quarter"}'

    blob = sealed(document, snapshot_id)
    opened = snapshots.open_snapshot(
        blob,
        key=snapshots.storage_key(PEPPER),
        snapshot_id=snapshot_id,
        published_by="cora",
        published_on=DAY,
    )

    assert opened.rstrip(b" ") == document
    assert len(opened) == snapshots.PADDING_STEP
    assert b"first quarter" not in blob


@pytest.mark.parametrize(
    "changed",
    [
        {"snapshot_id": uuid.uuid4()},
        {"published_by": "mallory"},
        {"published_on": DAY + dt.timedelta(days=1)},
        {"key": snapshots.storage_key(secrets.token_bytes(32))},
    ],
)
def test_a_snapshot_moved_to_another_row_publisher_day_or_desk_does_not_open(
    changed: dict[str, object],
) -> None:
    snapshot_id = uuid.uuid4()
    blob = sealed(b'{"v":1}', snapshot_id)
    where = {
        "key": snapshots.storage_key(PEPPER),
        "snapshot_id": snapshot_id,
        "published_by": "cora",
        "published_on": DAY,
    } | changed

    with pytest.raises(DecryptionFailed):
        snapshots.open_snapshot(blob, **where)  # type: ignore[arg-type]


def test_a_document_past_the_bound_is_refused_both_ways() -> None:
    with pytest.raises(ValueError, match="larger than any"):
        sealed(b" " * (snapshots.MAX_DOCUMENT_SIZE + 1), uuid.uuid4())
    with pytest.raises(DecryptionFailed, match="larger than any"):
        snapshots.open_snapshot(
            b"\0" * (snapshots.MAX_DOCUMENT_SIZE * 2),
            key=snapshots.storage_key(PEPPER),
            snapshot_id=uuid.uuid4(),
            published_by="cora",
            published_on=DAY,
        )


def test_the_storage_key_is_its_own_not_the_addresses() -> None:
    assert snapshots.storage_key(PEPPER) != addresses.storage_key(PEPPER)
