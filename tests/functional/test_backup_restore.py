"""A desk backed up and restored into a fresh database of the other backend works as before:
every sign-in, report, message and file, and its audit log."""

import hashlib
import os
from pathlib import Path

import pytest
from sqlalchemy import select

from hrd_reports.backups.restore import restore_backup
from hrd_reports.db import make_engine, unit_of_work
from hrd_reports.models import AuditEvent
from hrd_reports.services import audit, credentials
from tests.backup_support import (
    FILE_CONTENT,
    back_up,
    desk_runtime,
    empty_database,
    fill_desk,
    settings_for,
)
from tests.cli import invoke
from tests.conftest import CHEAP_ARGON2_ENV, DatabaseServer
from tests.helpers import Desk

# Each direction between the two backends when a PostgreSQL server is there; without one,
# the restore still goes into a fresh database.
PAIRS = (
    [("sqlite", "postgresql"), ("postgresql", "sqlite")]
    if os.environ.get("HRD_TEST_DATABASE_URL")
    else [("sqlite", "sqlite")]
)


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_restore_into_other_backend_every_signin_report_file_and_message_work(
    database_server: DatabaseServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    source: str,
    target: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    source_dir, target_dir = tmp_path / f"{source}-source", tmp_path / f"{target}-target"
    source_settings = settings_for(
        empty_database(database_server, source, source_dir), source_dir / "keys"
    )
    with desk_runtime(source_settings) as rt:
        desk = Desk(rt)
        filled = fill_desk(desk)
        before = {
            name: [(v.id, v.content, v.assignee) for v in desk.list_reports(person)]
            for name, person in filled.people.items()
            if name != "erin"
        }
        thread_before = [
            (m.sender, m.text) for m in desk.thread(filled.reports[0], by=filled.people["admin"])
        ]
        summary = back_up(rt, tmp_path / f"{source}.hrdb")

    target_settings = settings_for(
        empty_database(database_server, target, target_dir), target_dir / "keys"
    )
    engine = make_engine(target_settings.database_url)
    try:
        restore_backup(
            engine,
            path=tmp_path / f"{source}.hrdb",
            recovery_key=filled.recovery_key,
            keys_dir=target_settings.keys_dir,
        )
    finally:
        engine.dispose()

    with desk_runtime(target_settings) as rt:
        restored = Desk(rt)
        after = {
            name: [(v.id, v.content, v.assignee) for v in restored.list_reports(person)]
            for name, person in filled.people.items()
            if name != "erin"
        }
        assert after == before
        assert len(after["admin"]) == len(filled.reports)
        assert [v[0] for v in after["dave"]] == [filled.assigned]
        thread = [
            (m.sender, m.text)
            for m in restored.thread(filled.reports[0], by=filled.people["admin"])
        ]
        assert thread == thread_before
        assert [text for _, text in thread] == [
            "they came back last night",
            "we are calling you tomorrow",
        ]
        with unit_of_work(rt.sessions) as session:
            for person in filled.people.values():
                unlocked = credentials.unlock(
                    session, name=person.name, password=person.password, passwords=rt.passwords
                )
                assert unlocked.name == person.name
        with unit_of_work(rt.read_sessions) as session:
            verdict = audit.verify(session, audit_secret=rt.secrets.audit)
            restore_entry = session.execute(
                select(AuditEvent).where(AuditEvent.seq == summary.audit_entries + 1)
            ).scalar_one()
        assert verdict.intact, verdict.problem
        assert restore_entry.action == "desk.restore"
        assert restore_entry.subject == str(summary.backup_id)

    env = {
        "HRD_DATABASE_URL": target_settings.database_url,
        "HRD_KEYS_DIR": str(target_settings.keys_dir),
        **CHEAP_ARGON2_ENV,
    }
    out = target_dir / "evidence.jpg"
    carol = filled.people["carol"]
    written = invoke(
        env,
        "reports",
        "attachment",
        str(filled.with_file),
        "1",
        "--out",
        str(out),
        "--as",
        "carol",
        "--password-stdin",
        stdin=carol.password + "\n",
    )
    assert written.exit_code == 0, written.stderr
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(FILE_CONTENT).digest()
    verified = invoke(env, "audit", "verify")
    assert verified.exit_code == 0, verified.stderr
