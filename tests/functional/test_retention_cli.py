"""``reports purge``, ``hold`` and ``release`` as an operator runs them, and what a purge
leaves in the database's files: nothing of the destroyed report's body or key."""

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url

from hrd_reports.models import Destroyer, Report, ReportStatus, WithdrawnReport
from hrd_reports.services import clock
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.wiring import Runtime
from tests.cli import invoke
from tests.helpers import Desk, Person, report_content

POLICY = "closed=365,duplicate=30"


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return {**cli_env, "HRD_RETENTION": POLICY}


@pytest.fixture
def today(monkeypatch: pytest.MonkeyPatch) -> list[dt.datetime]:
    """The services' clock, which the in-process commands read too; the test moves it."""
    now = [clock.utc_now()]
    monkeypatch.setattr(clock, "utc_now", lambda: now[0])
    return now


def _as_admin(env: dict[str, str], admin: Person, *args: str) -> tuple[int, str, str]:
    run = invoke(env, *args, "--as", admin.name, "--password-stdin", stdin=admin.password + "\n")
    return run.exit_code, run.stdout, run.stderr


def test_purge_dry_run_lists_what_goes_and_when_and_destroys_nothing(
    env: dict[str, str], desk: Desk, admin: Person, today: list[dt.datetime]
) -> None:
    soon = desk.submit(report_content("CANARY-purge soon")).report_id
    now = desk.submit(report_content("CANARY-purge now")).report_id
    desk.set_status(now, ReportStatus.DUPLICATE, by=admin)
    today[0] += dt.timedelta(days=25)
    desk.set_status(soon, ReportStatus.DUPLICATE, by=admin)
    today[0] += dt.timedelta(days=20)

    listed = invoke(env, "reports", "purge", "--dry-run", "--json")
    assert listed.exit_code == 0, listed.stderr
    document = listed.json()
    assert document["policy"] == {"closed": 365, "duplicate": 30}
    assert [(e["id"], e["now"]) for e in document["due"]] == [(str(now), True), (str(soon), False)]
    assert document["due"][1]["destroy_on"] == (today[0] + dt.timedelta(days=10)).date().isoformat()
    with desk.session() as session:
        assert len(session.execute(select(Report.id)).all()) == 2

    said = invoke(env, "reports", "purge", "--dry-run")
    assert f"{now}  duplicate" in said.stdout
    assert "1 report(s) would be destroyed now" in said.stdout


def test_hold_from_the_cli_keeps_a_due_report_through_a_purge_until_released(
    env: dict[str, str], desk: Desk, admin: Person, today: list[dt.datetime]
) -> None:
    report_id = desk.submit(report_content("CANARY-purge held")).report_id
    desk.set_status(report_id, ReportStatus.CLOSED, by=admin)
    code, _, stderr = _as_admin(env, admin, "reports", "hold", str(report_id), "--reason", "court")
    assert code == 0, stderr
    today[0] += dt.timedelta(days=366)
    kept = invoke(env, "reports", "purge", "--json")
    assert kept.json() == {"withdrawn": [], "retention": []}

    code, _, stderr = _as_admin(
        env, admin, "reports", "release", str(report_id), "--reason", "done"
    )
    assert code == 0, stderr
    gone = invoke(env, "reports", "purge", "--json")
    assert gone.json() == {"withdrawn": [], "retention": [str(report_id)]}


def _database_files(engine: Engine) -> list[Path]:
    """Every file the database keeps this desk's data in: SQLite's file and its journal, or
    every file of the PostgreSQL database's directory (tables, TOAST, indexes)."""
    if engine.dialect.name == "sqlite":
        path = Path(make_url(str(engine.url)).database or "")
        return [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]
    with engine.connect() as connection:
        data = connection.execute(text("SELECT current_setting('data_directory')")).scalar_one()
        heap = connection.execute(text("SELECT pg_relation_filepath('reports')")).scalar_one()
    directory = Path(data) / Path(heap).parent
    files = [p for p in directory.iterdir() if p.is_file()]
    # Read as the suite runs in CI (as root, beside the server): never skipped quietly.
    assert files, f"cannot read {directory}: run the suite where the database's files are readable"
    return files


def test_purge_leaves_nothing_of_the_destroyed_report_in_the_database_files(
    env: dict[str, str], desk: Desk, admin: Person, today: list[dt.datetime]
) -> None:
    report_id = desk.submit(report_content("CANARY-purge at rest " * 40)).report_id
    kept_id = desk.submit(report_content("CANARY-purge kept")).report_id
    desk.set_status(report_id, ReportStatus.CLOSED, by=admin)
    with desk.session() as session:
        body, sealed_dek = session.execute(
            select(Report.body, Report.sealed_dek).where(Report.public_id == report_id)
        ).one()
        kept_body = session.execute(
            select(Report.body).where(Report.public_id == kept_id)
        ).scalar_one()
    traces = {"body": bytes(body)[64:96], "sealed key": bytes(sealed_dek)[-32:]}
    engine = desk.runtime.engine
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("CHECKPOINT")
    found_before = {
        name
        for name, trace in traces.items()
        for f in _database_files(engine)
        if trace in f.read_bytes()
    }
    # The search finds them while the report exists: a search that finds nothing proves nothing.
    assert found_before == set(traces)

    today[0] += dt.timedelta(days=365)
    purged = invoke(env, "reports", "purge", "--json")
    assert purged.json()["retention"] == [str(report_id)]
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("CHECKPOINT")
    files = _database_files(engine)
    left = {
        name: [str(f) for f in files if trace in f.read_bytes()] for name, trace in traces.items()
    }
    assert left == {"body": [], "sealed key": []}
    # The report that stays is still whole.
    assert any(bytes(kept_body)[64:96] in f.read_bytes() for f in files)


def test_server_destroys_reports_whose_retention_period_ended_itself(
    settings: Settings, runtime: Runtime, desk: Desk, admin: Person, today: list[dt.datetime]
) -> None:
    report_id = desk.submit(report_content("CANARY-purge by the server")).report_id
    desk.set_status(report_id, ReportStatus.DUPLICATE, by=admin)
    today[0] += dt.timedelta(days=30)
    with TestClient(create_app(settings.model_copy(update={"retention": POLICY}), runtime=runtime)):
        pass  # start-up runs the first round
    with desk.session() as session:
        assert session.execute(select(Report.id)).all() == []
        tombstone = session.execute(select(WithdrawnReport)).scalar_one()
    assert (tombstone.public_id, tombstone.destroyed_by) == (report_id, Destroyer.RETENTION)
