"""Running the ``hrd-reports`` command line from tests, in-process or as a real process."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect, text
from typer.testing import CliRunner

from hrd_reports.cli import app


@dataclass(frozen=True)
class Run:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def invoke(env: dict[str, str], *args: str, stdin: str | bytes | None = None) -> Run:
    result = CliRunner().invoke(app, list(args), input=stdin, env=env, catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


def run_process(env: dict[str, str], cwd: Path, *args: str, stdin: str | None = None) -> Run:
    """A separate ``python -m hrd_reports`` process, for what only a real process shows."""
    completed = subprocess.run(
        [sys.executable, "-m", "hrd_reports", *args],
        env={**os.environ, **env},
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)


def table_snapshot(
    database_url: str, *, skip: frozenset[str] = frozenset()
) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to show that a refused command changed nothing."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return {
                table: sorted(
                    (tuple(row) for row in connection.execute(text(f'SELECT * FROM "{table}"'))),  # noqa: S608 - names from the schema
                    key=repr,
                )
                for table in inspect(connection).get_table_names()
                if table not in skip
            }
    finally:
        engine.dispose()
