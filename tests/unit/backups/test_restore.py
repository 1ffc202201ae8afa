"""A restore goes only into an empty target, and changes nothing when it refuses."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from hrd_reports import db
from hrd_reports.backups.create import BackupRefused
from hrd_reports.backups.fileformat import BackupFormatError
from hrd_reports.backups.restore import TargetNotEmpty, restore_backup, target_problem
from hrd_reports.crypto.errors import CryptoError
from hrd_reports.crypto.xwing import PrivateKey
from hrd_reports.wiring import Runtime
from tests.backup_support import FilledDesk, empty_database
from tests.cli import table_snapshot
from tests.conftest import DatabaseServer


@pytest.fixture
def target(database_server: DatabaseServer, tmp_path: Path) -> str:
    backend = "postgresql" if database_server.is_postgresql else "sqlite"
    return empty_database(database_server, backend, tmp_path / "target")


@pytest.fixture
def target_engine(target: str) -> Iterator[Engine]:
    engine = db.make_engine(target)
    yield engine
    engine.dispose()


def _state(url: str, keys_dir: Path) -> tuple[object, list[str]]:
    tables = table_snapshot(url)
    files = sorted(p.name for p in keys_dir.iterdir()) if keys_dir.exists() else []
    return tables, files


def test_restore_into_the_desks_own_database_is_refused_and_changes_nothing(
    runtime: Runtime, filled: FilledDesk, backup_file: Path
) -> None:
    keys_dir = runtime.settings.keys_dir
    before = _state(runtime.settings.database_url, keys_dir)
    with pytest.raises(TargetNotEmpty, match="not empty"):
        restore_backup(
            runtime.engine, path=backup_file, recovery_key=filled.recovery_key, keys_dir=keys_dir
        )
    assert _state(runtime.settings.database_url, keys_dir) == before


def test_restore_into_empty_database_but_used_keys_folder_is_refused(
    filled: FilledDesk, backup_file: Path, target: str, target_engine: Engine, tmp_path: Path
) -> None:
    keys_dir = tmp_path / "used-keys"
    keys_dir.mkdir(mode=0o700)
    (keys_dir / "pepper.key").write_bytes(b"another desk's pepper\n")
    before = _state(target, keys_dir)
    with pytest.raises(TargetNotEmpty, match="keys folder"):
        restore_backup(
            target_engine, path=backup_file, recovery_key=filled.recovery_key, keys_dir=keys_dir
        )
    assert _state(target, keys_dir) == before
    assert (keys_dir / "pepper.key").read_bytes() == b"another desk's pepper\n"


def test_restore_twice_second_is_refused_and_first_stays(
    filled: FilledDesk, backup_file: Path, target: str, target_engine: Engine, tmp_path: Path
) -> None:
    keys_dir = tmp_path / "keys"
    restore_backup(
        target_engine, path=backup_file, recovery_key=filled.recovery_key, keys_dir=keys_dir
    )
    after_first = _state(target, keys_dir)
    assert after_first[1]
    with pytest.raises(TargetNotEmpty):
        restore_backup(
            target_engine, path=backup_file, recovery_key=filled.recovery_key, keys_dir=keys_dir
        )
    assert _state(target, keys_dir) == after_first


def _empty(engine: Engine, keys_dir: Path) -> bool:
    return target_problem(engine, keys_dir) is None and not keys_dir.exists()


@pytest.mark.parametrize("where", ["header", "middle", "end"])
def test_restore_flipped_byte_is_refused_and_target_stays_empty(
    filled: FilledDesk,
    backup_file: Path,
    target: str,
    target_engine: Engine,
    tmp_path: Path,
    where: str,
) -> None:
    data = bytearray(backup_file.read_bytes())
    data[{"header": 200, "middle": len(data) // 2, "end": len(data) - 40}[where]] ^= 0x80
    tampered = tmp_path / "tampered.hrdb"
    tampered.write_bytes(bytes(data))
    keys_dir = tmp_path / "keys"
    with pytest.raises((BackupFormatError, CryptoError)):
        restore_backup(
            target_engine, path=tampered, recovery_key=filled.recovery_key, keys_dir=keys_dir
        )
    assert _empty(target_engine, keys_dir)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".keys")] == []


def test_restore_wrong_recovery_key_is_refused_and_target_stays_empty(
    backup_file: Path, target: str, target_engine: Engine, tmp_path: Path
) -> None:
    keys_dir = tmp_path / "keys"
    with pytest.raises(CryptoError, match="not sealed to this recovery key"):
        restore_backup(
            target_engine, path=backup_file, recovery_key=PrivateKey.generate(), keys_dir=keys_dir
        )
    assert _empty(target_engine, keys_dir)


def test_restore_backup_of_other_schema_is_refused(
    filled: FilledDesk,
    backup_file: Path,
    target: str,
    target_engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(db, "head_revision", lambda: "9999")
    keys_dir = tmp_path / "keys"
    with pytest.raises(BackupRefused, match="schema 0"):
        restore_backup(
            target_engine, path=backup_file, recovery_key=filled.recovery_key, keys_dir=keys_dir
        )
    assert _empty(target_engine, keys_dir)
