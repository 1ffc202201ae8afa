"""A filled desk and its backup, for the backup tests."""

from pathlib import Path

import pytest

from hrd_reports.wiring import Runtime
from tests.backup_support import FilledDesk, back_up, fill_desk
from tests.helpers import Desk


@pytest.fixture
def filled(runtime: Runtime) -> FilledDesk:
    return fill_desk(Desk(runtime))


@pytest.fixture
def backup_file(runtime: Runtime, filled: FilledDesk, tmp_path: Path) -> Path:
    path = tmp_path / "desk.hrdb"
    back_up(runtime, path)
    return path
