"""Scheduled backups: written when due, the last few kept, every outcome recorded."""

import datetime as dt
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hrd_reports.backups import schedule
from hrd_reports.backups.create import verify_backup
from hrd_reports.backups.schedule import back_up_now, backup_files, is_due, read_status
from hrd_reports.db import one_server_at_a_time
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.wiring import Runtime
from tests.backup_support import FilledDesk

NOW = dt.datetime(2026, 12, 7, 9, 41, 17, tzinfo=dt.UTC)
DAY = dt.timedelta(hours=24)


@pytest.fixture
def scheduled(runtime: Runtime, tmp_path: Path) -> Runtime:
    runtime.settings = runtime.settings.model_copy(
        update={"backup_dir": tmp_path / "backups", "backup_keep": 3}
    )
    return runtime


def _dir(rt: Runtime) -> Path:
    assert rt.settings.backup_dir is not None
    return rt.settings.backup_dir


def test_back_up_now_writes_a_private_backup_named_by_day_and_records_it(
    scheduled: Runtime, filled: FilledDesk
) -> None:
    status = back_up_now(scheduled, _dir(scheduled), now=NOW)
    assert status is not None
    assert status.ok
    [written] = backup_files(_dir(scheduled))
    assert written.name == "hrd-backup-2026-12-07-01.hrdb"
    assert written.stat().st_mode & 0o077 == 0
    assert _dir(scheduled).stat().st_mode & 0o077 == 0
    with written.open("rb") as stream:
        assert verify_backup(stream, recovery_key=filled.recovery_key).authenticated
    assert read_status(_dir(scheduled)) == status
    # To the minute: the status file keeps no finer time.
    assert status.last_success == "2026-12-07T09:41:00+00:00"


def test_back_up_now_keeps_only_the_newest_backups(scheduled: Runtime, filled: FilledDesk) -> None:
    moments = [NOW, NOW + dt.timedelta(hours=6), NOW + DAY, NOW + 2 * DAY, NOW + 3 * DAY]
    for moment in moments:
        back_up_now(scheduled, _dir(scheduled), now=moment)
    assert [path.name for path in backup_files(_dir(scheduled))] == [
        "hrd-backup-2026-12-08-01.hrdb",
        "hrd-backup-2026-12-09-01.hrdb",
        "hrd-backup-2026-12-10-01.hrdb",
    ]


def test_back_up_now_failure_is_recorded_and_last_success_kept(
    scheduled: Runtime, filled: FilledDesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = back_up_now(scheduled, _dir(scheduled), now=NOW)
    assert first is not None

    def disk_full(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(schedule, "write_backup_file", disk_full)
    failed = back_up_now(scheduled, _dir(scheduled), now=NOW + DAY)
    assert failed is not None
    assert not failed.ok
    assert failed.error is not None
    assert "No space left on device" in failed.error
    assert failed.last_success == first.last_success
    assert read_status(_dir(scheduled)) == failed
    assert len(backup_files(_dir(scheduled))) == 1


def test_back_up_now_while_another_process_writes_one_does_nothing(
    scheduled: Runtime, filled: FilledDesk
) -> None:
    # Another worker, or another server on the same database, holds the backup's lock.
    with one_server_at_a_time(scheduled.engine, "backup") as held:
        assert held
        assert back_up_now(scheduled, _dir(scheduled), now=NOW) is None
    assert backup_files(_dir(scheduled)) == []


def test_is_due_after_success_waits_a_period_after_failure_an_hour() -> None:
    done = schedule.BackupStatus(
        last_attempt=NOW.isoformat(), ok=True, error=None, last_success=None, last_file=None
    )
    failed = schedule.BackupStatus(
        last_attempt=NOW.isoformat(), ok=False, error="x", last_success=None, last_file=None
    )
    assert is_due(None, every=DAY, now=NOW)
    assert not is_due(done, every=DAY, now=NOW + dt.timedelta(hours=23))
    assert is_due(done, every=DAY, now=NOW + DAY)
    assert not is_due(failed, every=DAY, now=NOW + dt.timedelta(minutes=59))
    assert is_due(failed, every=DAY, now=NOW + dt.timedelta(hours=1))


def test_server_with_backup_dir_writes_a_backup_when_it_starts(
    settings: Settings, runtime: Runtime, filled: FilledDesk, tmp_path: Path
) -> None:
    backup_dir = tmp_path / "served-backups"
    served = settings.model_copy(update={"backup_dir": backup_dir})
    runtime.settings = served
    with TestClient(create_app(served, runtime=runtime)):
        # The scheduler's thread writes the first backup at once; wait for it (bounded).
        for _ in range(600):
            if read_status(backup_dir) is not None:
                break
            time.sleep(0.1)
    status = read_status(backup_dir)
    assert status is not None
    assert status.ok, status.error
    assert len(backup_files(backup_dir)) == 1
