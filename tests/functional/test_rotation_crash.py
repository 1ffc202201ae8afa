"""A `keys rotate` process killed with SIGKILL at any point completes when run again, and
every report still decrypts (DESIGN.md invariant 7)."""

import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hrd_reports.models import IntakeKey, IntakeKeyState, Report, Role
from hrd_reports.services import rotation
from hrd_reports.wiring import Runtime
from tests.cli import run_process
from tests.helpers import Desk, Person, report_content

REPORTS = 9
BATCH = 2  # 9 reports in batches of 2: five batches, the last one short


@pytest.fixture
def full_desk(desk: Desk, admin: Person) -> Desk:
    desk.add_vetted("carol", Role.COORDINATOR, by=admin)
    for i in range(REPORTS):
        desk.submit(report_content(f"report {i} before the crash"))
    return desk


def _rotate(env: dict[str, str], cwd: Path, admin: Person, kill_at: str | None = None) -> int:
    env = {**env, "HRD_ROTATION_BATCH_SIZE": str(BATCH)}
    if kill_at is not None:
        env["HRD_FAULT_KILL_ROTATION_AT"] = kill_at
    run = run_process(
        env,
        cwd,
        "keys",
        "rotate",
        "--as",
        admin.name,
        "--password-stdin",
        stdin=admin.password + "\n",
    )
    assert "Traceback" not in run.stderr
    return run.exit_code


def _key_states(runtime: Runtime) -> list[IntakeKeyState]:
    with Desk(runtime).session() as session:
        return sorted(session.execute(select(IntakeKey.state)).scalars())


def _on_new_key(runtime: Runtime) -> int:
    with Desk(runtime).session() as session:
        running = rotation.open_rotation(session)
        if running is None:
            return 0
        query = (
            select(func.count()).select_from(Report).where(Report.dek_key_id == running.to_key_id)
        )
        return session.execute(query).scalar_one()


def _assert_rotation_completed_and_everything_decrypts(desk: Desk, admin: Person) -> None:
    assert _key_states(desk.runtime) == [IntakeKeyState.ACTIVE, IntakeKeyState.RETIRED]
    views = desk.list_reports(admin)
    assert len(views) == REPORTS
    assert all(view.content is not None for view in views)
    with desk.session() as session:
        assert rotation.open_rotation(session) is None
        active = session.execute(
            select(IntakeKey.id).where(IntakeKey.state == IntakeKeyState.ACTIVE)
        ).scalar_one()
        assert set(session.execute(select(Report.dek_key_id)).scalars()) == {active}


@pytest.mark.parametrize(
    ("kill_at", "resealed_before_kill"),
    [
        ("after-start", 0),
        ("batch-1-before-commit", 0),
        ("batch-1-after-commit", 2),
        ("batch-3-before-commit", 4),
        ("batch-3-after-commit", 6),
        ("batch-5-before-commit", 8),
        ("batch-5-after-commit", 9),
    ],
)
def test_rotation_killed_at_a_point_completes_when_run_again(
    full_desk: Desk,
    admin: Person,
    cli_env: dict[str, str],
    workdir: Path,
    kill_at: str,
    resealed_before_kill: int,
) -> None:
    assert _rotate(cli_env, workdir, admin, kill_at=kill_at) == -signal.SIGKILL
    # Killed: the new key exists and is active, the batches committed before the kill stay.
    assert _key_states(full_desk.runtime) == [IntakeKeyState.ACTIVE, IntakeKeyState.RETIRED]
    assert _on_new_key(full_desk.runtime) == resealed_before_kill
    # Half rotated, every report still opens: some with the old key, some with the new.
    assert all(view.content is not None for view in full_desk.list_reports(admin))

    assert _rotate(cli_env, workdir, admin) == 0
    _assert_rotation_completed_and_everything_decrypts(full_desk, admin)


def test_rotation_killed_again_and_again_still_completes(
    full_desk: Desk, admin: Person, cli_env: dict[str, str], workdir: Path
) -> None:
    # Each rerun starts from the first report still on the old key, so its batch numbers
    # start at 1 again: killing each rerun after its first batch still makes progress.
    assert _rotate(cli_env, workdir, admin, kill_at="batch-1-after-commit") == -signal.SIGKILL
    for resealed in (4, 6, 8):
        assert _rotate(cli_env, workdir, admin, kill_at="batch-1-after-commit") == -signal.SIGKILL
        assert _on_new_key(full_desk.runtime) == resealed
    assert _rotate(cli_env, workdir, admin) == 0
    _assert_rotation_completed_and_everything_decrypts(full_desk, admin)
