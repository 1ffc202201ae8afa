"""A backup file: whole, sealed, and refused as soon as one byte differs."""

import io
import json
import threading
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from hrd_reports.backups.create import (
    BackupRefused,
    BackupSummary,
    verify_backup,
    write_backup,
    write_backup_file,
)
from hrd_reports.backups.fileformat import (
    MAGIC,
    BackupFormatError,
    columns_of,
    decode_value,
    value_json,
)
from hrd_reports.crypto.errors import CryptoError, DecryptionFailed
from hrd_reports.crypto.xwing import PrivateKey
from hrd_reports.models import Base, Report, ReportStatus
from hrd_reports.wiring import Runtime
from tests.atrest import find_leaks
from tests.backup_support import FILE_CONTENT, FilledDesk, back_up


def _verify(data: bytes, key: PrivateKey | None) -> None:
    verify_backup(io.BytesIO(data), recovery_key=key)


def _positions(size: int) -> list[int]:
    # Every byte of the start (magic, header, first frames) and of the end (last frame,
    # trailer), and a spread of positions between.
    return sorted({*range(min(size, 2048)), *range(max(0, size - 512), size), *range(0, size, 97)})


def test_verify_with_recovery_key_authenticates_and_counts_every_row(
    runtime: Runtime, filled: FilledDesk, backup_file: Path
) -> None:
    with backup_file.open("rb") as stream:
        outcome = verify_backup(stream, recovery_key=filled.recovery_key)
    assert outcome.authenticated
    assert {"pepper.key", "audit.key", "binding.key", "lookup.key"} <= set(outcome.key_files)
    with runtime.engine.connect() as connection:
        counts = {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in Base.metadata.sorted_tables
        }
    assert outcome.rows == counts
    assert counts["reports"] == len(filled.reports)


def test_verify_without_key_checks_structure_but_claims_no_authenticity(
    backup_file: Path,
) -> None:
    with backup_file.open("rb") as stream:
        outcome = verify_backup(stream, recovery_key=None)
    assert not outcome.authenticated
    assert outcome.key_files == []


@pytest.mark.parametrize("keyed", [False, True], ids=["without-key", "with-key"])
def test_verify_one_flipped_byte_anywhere_is_refused(
    filled: FilledDesk, backup_file: Path, keyed: bool
) -> None:
    data = backup_file.read_bytes()
    key = filled.recovery_key if keyed else None
    for position in _positions(len(data)):
        flipped = bytearray(data)
        flipped[position] ^= 0x01
        with pytest.raises((BackupFormatError, CryptoError)):
            _verify(bytes(flipped), key)


def test_verify_truncated_file_is_refused(filled: FilledDesk, backup_file: Path) -> None:
    data = backup_file.read_bytes()
    for length in [0, len(MAGIC), *_positions(len(data))[::7], len(data) - 1]:
        with pytest.raises(BackupFormatError):
            _verify(data[:length], filled.recovery_key)


def test_verify_bytes_appended_is_refused(backup_file: Path) -> None:
    with pytest.raises(BackupFormatError, match="follow its end"):
        _verify(backup_file.read_bytes() + b"\x00", None)


def test_verify_wrong_recovery_key_is_refused(backup_file: Path) -> None:
    with pytest.raises(DecryptionFailed, match="not sealed to this recovery key"):
        _verify(backup_file.read_bytes(), PrivateKey.generate())


def test_verify_other_backups_sealed_secrets_do_not_open(
    runtime: Runtime, filled: FilledDesk, backup_file: Path, tmp_path: Path
) -> None:
    # The sealed secrets are bound to their backup's id: moved into another backup's header
    # (here: the same header with another id), they are refused.
    other = tmp_path / "other.hrdb"
    back_up(runtime, other)
    first, second = backup_file.read_bytes(), other.read_bytes()
    first_id = verify_backup(io.BytesIO(first), recovery_key=None).backup_id
    second_id = verify_backup(io.BytesIO(second), recovery_key=None).backup_id
    spliced = first.replace(str(first_id).encode(), str(second_id).encode())
    with pytest.raises((BackupFormatError, CryptoError)):
        _verify(spliced, filled.recovery_key)


def test_backup_file_holds_no_server_secret_nor_file_content(
    runtime: Runtime, backup_file: Path
) -> None:
    keys_dir = runtime.settings.keys_dir
    secrets = {f"{path.name}": path.read_bytes().strip() for path in keys_dir.iterdir()}
    secrets |= {"pepper (raw)": runtime.secrets.pepper, "audit (raw)": runtime.secrets.audit}
    secrets["evidence file"] = FILE_CONTENT[:64]
    leaks = find_leaks([(str(backup_file), backup_file.read_bytes())], secrets)
    assert not leaks, leaks


def test_create_existing_file_is_refused_and_kept(runtime: Runtime, backup_file: Path) -> None:
    before = backup_file.read_bytes()
    with pytest.raises(BackupRefused, match="already exists"):
        back_up(runtime, backup_file)
    assert backup_file.read_bytes() == before
    assert {p.name for p in backup_file.parent.iterdir()} == {backup_file.name, "desk"}


def test_create_failing_half_way_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "half.hrdb"

    def fails(out: BinaryIO) -> BackupSummary:
        out.write(b"some bytes, then the disk is full")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        write_backup_file(target, fails)
    assert list(tmp_path.iterdir()) == []


class FillsUp(io.BytesIO):
    """A file on a disk that fills up after ``room`` bytes."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    def write(self, data: Any) -> int:
        if self.tell() + len(data) > self.room:
            raise OSError(28, "No space left on device")
        return super().write(data)


@pytest.mark.parametrize("room", [10, 5_000, 50_000])
def test_create_disk_full_while_writing_rows_stops_the_backup_with_the_error(
    runtime: Runtime, filled: FilledDesk, room: int
) -> None:
    # Frames are written on a thread of their own: its error must stop the backup, not be
    # lost with the thread while the rest is encoded into nowhere.
    out = FillsUp(room)

    with pytest.raises(OSError, match="No space"):
        write_backup(
            runtime.engine, out=out, secrets=runtime.secrets, keys_dir=runtime.settings.keys_dir
        )

    assert out.tell() <= room
    assert not [t for t in threading.enumerate() if t.name.startswith("backup-writer")]


TRICKY_TEXT = st.text(st.characters(codec=None, min_codepoint=0), max_size=40)


@given(
    st.one_of(
        st.tuples(st.just("str"), TRICKY_TEXT),
        st.tuples(st.just("bytes"), st.binary(max_size=64)),
        st.tuples(st.just("uuid"), st.uuids()),
        st.tuples(st.just("date"), st.dates()),
        st.tuples(st.just("datetime"), st.datetimes()),
        st.tuples(st.just("enum"), st.sampled_from(list(ReportStatus))),
        st.tuples(st.just("bool"), st.booleans()),
        st.tuples(st.just("int"), st.integers(min_value=-(2**63), max_value=2**63 - 1)),
        st.tuples(st.sampled_from(["str", "bytes", "uuid", "int"]), st.none()),
    )
)
def test_value_written_as_json_reads_back_as_the_same_value(case: tuple[str, Any]) -> None:
    codec, value = case
    written = value_json(codec, value)

    assert written.isascii()
    assert decode_value(codec, Report.__table__.c.status.type, json.loads(written)) == value


def test_create_file_is_private(backup_file: Path) -> None:
    assert backup_file.stat().st_mode & 0o077 == 0


def test_every_column_of_the_schema_has_a_backup_codec() -> None:
    # A new table or column of a type the format cannot write would make every backup fail:
    # caught here, not on a desk's first scheduled backup after an upgrade.
    for table in Base.metadata.sorted_tables:
        assert len(columns_of(table)) == len(table.columns), table.name
