"""The app in a test client, a clock the tests move, and the real server for the tests of
this folder that need one (load, crash)."""

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.wiring import Runtime
from tests.dashboard_support import Clock, install_clock
from tests.helpers import Desk
from tests.server import ServerProcess, StartServer


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return install_clock(monkeypatch)


@pytest.fixture
def client(settings: Settings, runtime: Runtime, desk: Desk) -> Iterator[TestClient]:
    """The app of a set-up desk, started (its lifespan ran) and stopped after the test."""
    with TestClient(create_app(settings, runtime=runtime)) as test_client:
        yield test_client


@pytest.fixture
def start_server(cli_env: dict[str, str], workdir: Path) -> Iterator[StartServer]:
    """Starts ``hrd-reports serve`` on this test's desk (``env``: more of its environment);
    every server it started is ended (process group and all) when the test ends, passed or
    failed."""
    with ExitStack() as started:

        def start(*, workers: int = 2, env: dict[str, str] | None = None) -> ServerProcess:
            server = ServerProcess({**cli_env, **(env or {})}, workdir, workers=workers)
            # Registered before it starts: a server that failed to start is ended too.
            started.callback(server.stop)
            server.start()
            return server

        yield start
