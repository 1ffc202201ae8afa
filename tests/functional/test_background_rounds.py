"""The server's own rounds in worker threads (the intake guard's measure, housekeeping,
notifications) end before the server closes its database: stopping in the middle of one
once closed the database under it and left its connection to be dropped unclosed."""

import threading
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from hrd_reports.db import unit_of_work
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.web.intake_guard import IntakeGuard
from hrd_reports.wiring import Runtime
from tests.helpers import Desk


def test_server_stopping_in_the_middle_of_a_round_closes_the_database_after_it(
    settings: Settings, runtime: Runtime, desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    measuring = threading.Event()
    stop_now = threading.Event()

    def slow_measure(_guard: IntakeGuard) -> None:
        with unit_of_work(runtime.read_sessions) as session:
            session.execute(text("SELECT 1"))
            measuring.set()
            # Still in the database when the server is told to stop.
            stop_now.wait(timeout=30)
            time.sleep(0.2)
        events.append("round ended")

    real_close = Runtime.close

    def close(rt: Runtime) -> None:
        events.append("database closed")
        real_close(rt)

    monkeypatch.setattr(IntakeGuard, "measure", slow_measure)
    monkeypatch.setattr(Runtime, "close", close)
    with TestClient(create_app(settings, runtime=runtime)):
        assert measuring.wait(timeout=30)
        stop_now.set()
    assert events[:2] == ["round ended", "database closed"]
