"""The real server for the tests of this folder that need one (load, crash)."""

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.server import ServerProcess, StartServer


@pytest.fixture
def start_server(cli_env: dict[str, str], workdir: Path) -> Iterator[StartServer]:
    """Starts ``hrd-reports serve`` on this test's desk; every server it started is ended
    (process group and all) when the test ends, passed or failed."""
    with ExitStack() as started:

        def start(*, workers: int = 2) -> ServerProcess:
            server = ServerProcess(cli_env, workdir, workers=workers)
            # Registered before it starts: a server that failed to start is ended too.
            started.callback(server.stop)
            server.start()
            return server

        yield start
