"""`pip install .` (not only an editable install) must give a server with its pages."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).parents[2]


@pytest.mark.slow
def test_wheel_carries_templates_static_files_migrations_and_the_command(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(tmp_path),
            str(REPOSITORY),
        ],
        check=True,
        timeout=300,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("hrd_reports-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(
            archive.read(n).decode() for n in names if n.endswith("entry_points.txt")
        )
    for required in (
        "hrd_reports/templates/base.html",
        "hrd_reports/templates/setup.html",
        "hrd_reports/static/css/base.css",
        "hrd_reports/migrations/env.py",
        "hrd_reports/migrations/versions/0001_initial_schema.py",
    ):
        assert required in names
    assert "hrd-reports = hrd_reports.cli:main" in entry_points
    assert not any(name.startswith(("tests/", "keys/")) for name in names)
