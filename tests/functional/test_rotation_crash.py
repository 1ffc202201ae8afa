"""A `keys rotate` process killed with SIGKILL at any point completes when run again, and
every report still decrypts (DESIGN.md invariant 7).

The threat: a rotation is often run because a key holder's device was seized; a power cut, an
operator's Ctrl-C or the OOM killer must not leave reports that no key opens, nor a rotation
that cannot be finished. Each point of the command (``hrd_reports/cli/keys.py``) is killed in
a real process, then the same command is run again.
"""

import math
import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hrd_reports.models import IntakeKey, IntakeKeyState, Report, Role
from hrd_reports.services import rotation
from hrd_reports.wiring import Runtime
from tests.cli import run_process
from tests.helpers import Desk, Person, report_content

REPORTS = 15
BATCH = 2  # 15 reports in batches of 2: eight batches, the last one short
BATCHES = math.ceil(REPORTS / BATCH)

ACTIVE, RETIRED, DESTROYED = IntakeKeyState.ACTIVE, IntakeKeyState.RETIRED, IntakeKeyState.DESTROYED
# What a kill leaves: the intake keys' states and whether a rotation is open to resume.
NOT_STARTED = ([ACTIVE], False)
UNDER_WAY = ([ACTIVE, RETIRED], True)
FINISHED = ([ACTIVE, RETIRED], False)
FINISHED_AND_RETIRED = ([ACTIVE, DESTROYED], False)


def _resealed_by(batch: int) -> int:
    return min(batch * BATCH, REPORTS)


# Every point where the command can be killed (21 of them), in the order it passes them, with
# what the kill leaves and how many reports are on the new key by then. A point the command
# never reached would fail its test: the process would exit 0 instead of being killed.
KILL_POINTS = [
    pytest.param("start-before-commit", False, NOT_STARTED, 0, id="start-before-commit"),
    pytest.param("after-start", False, UNDER_WAY, 0, id="after-start"),
    *(
        pytest.param(
            f"batch-{n}-{when}-commit", False, UNDER_WAY, resealed, id=f"batch-{n}-{when}-commit"
        )
        for n in range(1, BATCHES + 1)
        for when, resealed in (("before", _resealed_by(n - 1)), ("after", _resealed_by(n)))
    ),
    pytest.param("before-finish", False, UNDER_WAY, REPORTS, id="before-finish"),
    pytest.param("finish-before-commit", False, UNDER_WAY, REPORTS, id="finish-before-commit"),
    # With --retire-old the finish also destroys the old key's grants, in the same
    # transaction: killed before its commit, the old key is still retired, not destroyed.
    pytest.param(
        "finish-before-commit", True, UNDER_WAY, REPORTS, id="finish-before-commit-retire-old"
    ),
    pytest.param("after-finish", False, FINISHED, REPORTS, id="after-finish"),
    pytest.param("after-finish", True, FINISHED_AND_RETIRED, REPORTS, id="after-finish-retire-old"),
]


@pytest.fixture
def full_desk(desk: Desk, admin: Person) -> Desk:
    desk.add_vetted("carol", Role.COORDINATOR, by=admin)
    for i in range(REPORTS):
        desk.submit(report_content(f"report {i} before the crash"))
    return desk


def _rotate(
    env: dict[str, str],
    cwd: Path,
    admin: Person,
    kill_at: str | None = None,
    *,
    retire_old: bool = False,
) -> int:
    env = {**env, "HRD_ROTATION_BATCH_SIZE": str(BATCH)}
    if kill_at is not None:
        env["HRD_TEST_FAULT_KILL_ROTATION_AT"] = kill_at
    retire = ["--retire-old"] if retire_old else []
    run = run_process(
        env,
        cwd,
        "keys",
        "rotate",
        "--as",
        admin.name,
        "--password-stdin",
        *retire,
        stdin=admin.password + "\n",
    )
    assert "Traceback" not in run.stderr
    return run.exit_code


def _key_states(runtime: Runtime) -> list[IntakeKeyState]:
    with Desk(runtime).session() as session:
        return sorted(session.execute(select(IntakeKey.state)).scalars())


def _rotation_open(runtime: Runtime) -> bool:
    with Desk(runtime).session() as session:
        return rotation.open_rotation(session) is not None


def _moved_off(runtime: Runtime, key_id: str) -> int:
    """How many reports are no longer sealed to ``key_id`` (the key before the rotation)."""
    with Desk(runtime).session() as session:
        query = select(func.count()).select_from(Report).where(Report.dek_key_id != key_id)
        return int(session.execute(query).scalar_one())


def _on_new_key(runtime: Runtime) -> int:
    with Desk(runtime).session() as session:
        running = rotation.open_rotation(session)
        if running is None:
            return 0
        query = (
            select(func.count()).select_from(Report).where(Report.dek_key_id == running.to_key_id)
        )
        return int(session.execute(query).scalar_one())


def _assert_rotation_completed_and_everything_decrypts(
    desk: Desk, admin: Person, *, old_keys: list[IntakeKeyState] | None = None
) -> None:
    assert _key_states(desk.runtime) == [ACTIVE, *(old_keys or [RETIRED])]
    views = desk.list_reports(admin)
    assert len(views) == REPORTS
    assert all(view.content is not None for view in views)
    with desk.session() as session:
        assert rotation.open_rotation(session) is None
        active = session.execute(select(IntakeKey.id).where(IntakeKey.state == ACTIVE)).scalar_one()
        assert set(session.execute(select(Report.dek_key_id)).scalars()) == {active}


@pytest.mark.parametrize(("kill_at", "retire_old", "left", "moved_before_kill"), KILL_POINTS)
def test_rotation_killed_at_a_point_completes_when_run_again(
    full_desk: Desk,
    admin: Person,
    cli_env: dict[str, str],
    workdir: Path,
    kill_at: str,
    retire_old: bool,
    left: tuple[list[IntakeKeyState], bool],
    moved_before_kill: int,
) -> None:
    old_key = full_desk.intake_key().key_id
    assert _rotate(cli_env, workdir, admin, kill_at, retire_old=retire_old) == -signal.SIGKILL
    # Killed: what committed before the kill stays, nothing after it happened.
    assert (_key_states(full_desk.runtime), _rotation_open(full_desk.runtime)) == left
    assert _moved_off(full_desk.runtime, old_key) == moved_before_kill
    # Half rotated, every report still opens: some with the old key, some with the new.
    assert all(view.content is not None for view in full_desk.list_reports(admin))

    assert _rotate(cli_env, workdir, admin, retire_old=retire_old) == 0
    # Run again, an open rotation is resumed, never a second one started. Only where the
    # killed run had finished does the command, run again, rotate once more.
    rotations = 2 if left in (FINISHED, FINISHED_AND_RETIRED) else 1
    _assert_rotation_completed_and_everything_decrypts(
        full_desk, admin, old_keys=[DESTROYED if retire_old else RETIRED] * rotations
    )


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


def test_rotation_killed_at_a_different_point_of_each_resumed_run_still_completes(
    full_desk: Desk, admin: Person, cli_env: dict[str, str], workdir: Path
) -> None:
    # A resumed run has its own start (it records the resumption) and its own finish: each
    # is killed once, with --retire-old, and the rotation still ends with every report on
    # the new key and the old key's grants destroyed only then.
    for kill_at, on_new_key in (
        ("after-start", 0),
        ("start-before-commit", 0),
        ("batch-2-after-commit", 2 * BATCH),
        ("before-finish", REPORTS),
        ("finish-before-commit", REPORTS),
    ):
        assert _rotate(cli_env, workdir, admin, kill_at, retire_old=True) == -signal.SIGKILL
        assert _on_new_key(full_desk.runtime) == on_new_key
        assert _key_states(full_desk.runtime) == [ACTIVE, RETIRED]
    assert _rotate(cli_env, workdir, admin, retire_old=True) == 0
    _assert_rotation_completed_and_everything_decrypts(full_desk, admin, old_keys=[DESTROYED])


def test_fault_kill_switch_outside_a_test_suite_is_refused_before_anything_changes(
    full_desk: Desk, admin: Person, cli_env: dict[str, str], workdir: Path
) -> None:
    # Configured as a desk is (RFC 9106 Argon2, not the test suite's), the switch that kills
    # the rotation is a configuration error: exit 2, and no rotation starts.
    desk_env = {
        name: value
        for name, value in cli_env.items()
        if not name.startswith("HRD_ARGON2_") and name != "HRD_INSECURE_ARGON2_FOR_TESTS"
    }
    run = run_process(
        desk_env | {"HRD_TEST_FAULT_KILL_ROTATION_AT": "after-start"},
        workdir,
        "keys",
        "rotate",
        "--as",
        admin.name,
        "--password-stdin",
        stdin=admin.password + "\n",
    )
    assert run.exit_code == 2
    assert "HRD_TEST_FAULT_KILL_ROTATION_AT is for test suites only" in run.stderr
    assert "Traceback" not in run.stderr
    assert (_key_states(full_desk.runtime), _rotation_open(full_desk.runtime)) == NOT_STARTED
