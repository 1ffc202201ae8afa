"""``backup create``, ``backup verify``, ``backup restore`` and ``status`` as an operator
runs them."""

from pathlib import Path

import pytest

from hrd_reports.backups import schedule
from hrd_reports.wiring import Runtime
from tests.backup_support import empty_database
from tests.cli import Run, invoke, table_snapshot
from tests.conftest import CHEAP_ARGON2_ENV, DatabaseServer
from tests.functional.test_cli import ADMIN_PASSWORD, assert_refused
from tests.helpers import Desk, report_content


def _ok(run: Run) -> Run:
    assert run.exit_code == 0, run.stderr
    return run


@pytest.fixture
def recovery_key(cli_env: dict[str, str], runtime: Runtime, workdir: Path) -> str:
    """A desk set up on the command line, with a report; its recovery key."""
    key_file = workdir / "recovery.txt"
    _ok(
        invoke(
            cli_env,
            "init",
            "--admin",
            "admin",
            "--password-stdin",
            "--recovery-key-out",
            str(key_file),
            stdin=ADMIN_PASSWORD + "\n",
        )
    )
    Desk(runtime).submit(report_content("a car waits outside the office every night"))
    return key_file.read_text().strip()


@pytest.fixture
def backup(cli_env: dict[str, str], recovery_key: str, tmp_path: Path) -> Path:
    path = tmp_path / "desk.hrdb"
    created = _ok(invoke(cli_env, "backup", "create", "--out", str(path), "--json")).json()
    assert created["rows"]["reports"] == 1
    return path


@pytest.fixture
def target_env(database_server: DatabaseServer, tmp_path: Path) -> dict[str, str]:
    backend = "postgresql" if database_server.is_postgresql else "sqlite"
    return {
        "HRD_DATABASE_URL": empty_database(database_server, backend, tmp_path / "target"),
        "HRD_KEYS_DIR": str(tmp_path / "target" / "keys"),
        **CHEAP_ARGON2_ENV,
    }


def test_backup_verify_without_key_says_what_it_proves(backup: Path) -> None:
    run = _ok(invoke({}, "backup", "verify", str(backup)))
    assert "is whole" in run.stdout
    assert "not that nobody rewrote it" in run.stdout


def test_backup_verify_with_recovery_key_authenticates(backup: Path, recovery_key: str) -> None:
    run = _ok(
        invoke(
            {},
            "backup",
            "verify",
            str(backup),
            "--recovery-key-stdin",
            "--json",
            stdin=recovery_key + "\n",
        )
    )
    assert run.json()["authenticated"] is True


def test_backup_verify_flipped_byte_is_refused(backup: Path, tmp_path: Path) -> None:
    data = bytearray(backup.read_bytes())
    data[len(data) // 3] ^= 0x04
    flipped = tmp_path / "flipped.hrdb"
    flipped.write_bytes(bytes(data))
    run = invoke({}, "backup", "verify", str(flipped))
    assert_refused(run, "flipped.hrdb")
    assert run.exit_code == 1


def test_backup_restore_into_fresh_target_then_desk_works(
    backup: Path, recovery_key: str, target_env: dict[str, str]
) -> None:
    run = _ok(
        invoke(
            target_env,
            "backup",
            "restore",
            str(backup),
            "--recovery-key-stdin",
            stdin=recovery_key + "\n",
        )
    )
    assert "restored: 1 reports" in run.stdout
    url = target_env["HRD_DATABASE_URL"]
    if url.startswith("sqlite:///"):
        # The restored database is private to the server's user, as every desk file is.
        assert Path(url.removeprefix("sqlite:///")).stat().st_mode & 0o077 == 0
    assert "intact" in _ok(invoke(target_env, "audit", "verify")).stdout
    listed = _ok(
        invoke(
            target_env,
            "reports",
            "list",
            "--as",
            "admin",
            "--password-stdin",
            "--json",
            stdin=ADMIN_PASSWORD + "\n",
        )
    ).json()
    assert len(listed) == 1
    assert _ok(invoke(target_env, "status", "--json")).json()["checks"]["audit"]["entries"] > 0


def test_backup_restore_into_set_up_desk_exits_2_and_changes_nothing(
    backup: Path, recovery_key: str, cli_env: dict[str, str]
) -> None:
    keys_dir = Path(cli_env["HRD_KEYS_DIR"])
    before = (
        table_snapshot(cli_env["HRD_DATABASE_URL"]),
        {path.name: path.read_bytes() for path in keys_dir.iterdir()},
    )
    run = invoke(
        cli_env, "backup", "restore", str(backup), "--recovery-key-stdin", stdin=recovery_key + "\n"
    )
    assert_refused(run, "nothing was changed")
    assert run.exit_code == 2
    after = (
        table_snapshot(cli_env["HRD_DATABASE_URL"]),
        {path.name: path.read_bytes() for path in keys_dir.iterdir()},
    )
    assert after == before


def test_backup_restore_without_recovery_key_is_refused(
    backup: Path, target_env: dict[str, str]
) -> None:
    run = invoke(target_env, "backup", "restore", str(backup))
    assert run.exit_code == 2
    assert "recovery-key-stdin" in run.stderr


def test_backup_restore_mistyped_recovery_key_is_refused(
    backup: Path, recovery_key: str, target_env: dict[str, str]
) -> None:
    mistyped = recovery_key[:-1] + ("A" if recovery_key[-1] != "A" else "B")
    run = invoke(
        target_env, "backup", "restore", str(backup), "--recovery-key-stdin", stdin=mistyped + "\n"
    )
    assert_refused(run, "typing mistake")
    assert not Path(target_env["HRD_KEYS_DIR"]).exists()


def test_status_of_a_sound_desk_reports_every_part(
    recovery_key: str, cli_env: dict[str, str]
) -> None:
    document = _ok(invoke(cli_env, "status", "--json")).json()
    assert document["sound"] is True
    checks = document["checks"]
    assert set(checks) == {"database", "keys", "backup", "rotation", "audit", "storage", "disk"}
    assert checks["database"]["schema"] == checks["database"]["code_schema"]
    assert checks["keys"]["sound"] is True
    assert checks["rotation"]["unfinished"] is False
    assert checks["storage"]["database_bytes"] > 0


def test_status_failed_scheduled_backup_is_a_problem(
    recovery_key: str,
    cli_env: dict[str, str],
    runtime: Runtime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backup_dir = tmp_path / "backups"

    def disk_full(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(schedule, "write_backup_file", disk_full)
    schedule.back_up_now(runtime, backup_dir, now=schedule.dt.datetime.now(schedule.dt.UTC))
    run = invoke({**cli_env, "HRD_BACKUP_DIR": str(backup_dir)}, "status", "--json")
    assert run.exit_code == 1
    backup = run.json()["checks"]["backup"]
    assert backup["level"] == "problem"
    assert "No space left on device" in backup["last_error"]


def test_status_without_a_database_file_is_a_problem_and_creates_nothing(
    tmp_path: Path,
) -> None:
    env = {
        "HRD_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}",
        "HRD_KEYS_DIR": str(tmp_path / "keys"),
    }
    run = invoke(env, "status")
    assert run.exit_code == 1
    assert "PROBLEM" in run.stdout
    assert list(tmp_path.iterdir()) == []
