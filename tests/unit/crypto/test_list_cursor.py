"""The report list's cursor: opens only for the reader it was sealed for, unaltered."""

import datetime as dt

import pytest

from hrd_reports.crypto.list_cursor import (
    MAX_ROW_ID,
    CursorInvalid,
    Direction,
    ListCursor,
    cursor_key,
    open_cursor,
    seal_cursor,
)

KEY = cursor_key(b"\x07" * 32)
PLACE = ListCursor(Direction.BEFORE, False, dt.date(2026, 3, 20), 4321)


def test_cursor_opens_as_sealed_for_its_reader() -> None:
    assert open_cursor(seal_cursor(PLACE, key=KEY, reader="7"), key=KEY, reader="7") == PLACE


@pytest.mark.parametrize(
    ("key", "reader"), [(KEY, "8"), (cursor_key(b"\x08" * 32), "7")], ids=["reader", "server"]
)
def test_cursor_of_another_reader_or_server_is_refused(key: bytes, reader: str) -> None:
    with pytest.raises(CursorInvalid):
        open_cursor(seal_cursor(PLACE, key=KEY, reader="7"), key=key, reader=reader)


def test_cursor_with_any_character_changed_is_refused() -> None:
    token = seal_cursor(PLACE, key=KEY, reader="7")
    for index in range(len(token)):
        changed = token[:index] + ("B" if token[index] == "A" else "A") + token[index + 1 :]
        with pytest.raises(CursorInvalid):
            open_cursor(changed, key=KEY, reader="7")


def test_cursor_past_the_database_row_ids_is_never_sealed() -> None:
    with pytest.raises(ValueError, match="row id"):
        seal_cursor(
            ListCursor(Direction.AFTER, True, PLACE.received_on, MAX_ROW_ID + 1),
            key=KEY,
            reader="7",
        )
