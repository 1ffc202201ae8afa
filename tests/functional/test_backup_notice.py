"""A failed scheduled backup is shown to administrators on the People page, to them only."""

import datetime as dt
from pathlib import Path

import pytest

from hrd_reports.backups import schedule
from hrd_reports.models import Role
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.wiring import Runtime
from tests.dashboard_support import Clock, StaffBrowser, enrol, install_clock
from tests.helpers import Desk, Person


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return install_clock(monkeypatch)


def _people_pages(
    settings: Settings, runtime: Runtime, desk: Desk, admin: Person, clock: Clock
) -> list[str]:
    """The People page as the administrator and as a coordinator see it."""
    coordinator = desk.add_vetted("carol", Role.COORDINATOR, by=admin)
    staff = (enrol(desk, admin, Role.ADMIN), enrol(desk, coordinator, Role.COORDINATOR))
    # Outside a ``with`` block the app's lifespan, and so its own scheduler, does not run:
    # the test writes the backup status itself.
    app = create_app(settings, runtime=runtime)
    return [StaffBrowser(app, member, clock).page("/dashboard/users") for member in staff]


def test_people_page_failed_backup_is_shown_to_administrators_only(
    settings: Settings,
    runtime: Runtime,
    desk: Desk,
    admin: Person,
    fake_clock: Clock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backup_dir = tmp_path / "backups"
    runtime.settings = settings.model_copy(update={"backup_dir": backup_dir})

    def disk_full(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(schedule, "write_backup_file", disk_full)
    schedule.back_up_now(runtime, backup_dir, now=fake_clock.now)
    admins, coordinators = _people_pages(settings, runtime, desk, admin, fake_clock)
    assert 'data-testid="backup-problem"' in admins
    assert f"({fake_clock.now.date().isoformat()})" in admins
    assert "No space left" not in admins
    assert 'data-testid="backup-problem"' not in coordinators


def test_people_page_recent_backup_shows_no_problem(
    settings: Settings,
    runtime: Runtime,
    desk: Desk,
    admin: Person,
    fake_clock: Clock,
    tmp_path: Path,
) -> None:
    backup_dir = tmp_path / "backups"
    runtime.settings = settings.model_copy(update={"backup_dir": backup_dir})
    assert schedule.back_up_now(runtime, backup_dir, now=fake_clock.now - dt.timedelta(hours=1))
    admins, _ = _people_pages(settings, runtime, desk, admin, fake_clock)
    assert 'data-testid="backup-problem"' not in admins
