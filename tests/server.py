"""The real server: ``hrd-reports serve`` as a process group that a test owns and always ends,
and the application under uvicorn in a thread of the test's own process.

Uvicorn with ``--workers N`` is a supervisor and N worker processes. The server is started in
a session of its own, so that one signal to its process group reaches all of them: that is how
a crash test kills the whole server at once, and how clean-up leaves no worker behind after
a failing test.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.wiring import Runtime

START_SECONDS = 90.0
STOP_SECONDS = 30.0
# A free port can be taken by another process between the probe and the server's bind.
START_ATTEMPTS = 3


class ServerDidNotStart(Exception):
    """The server exited or did not answer ``/healthz`` in time; the message holds its log."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def living_members(group: int) -> list[int]:
    """The processes of ``group`` that still run (Linux ``/proc``; zombies are not counted:
    a worker whose supervisor died is reaped by init, not by this test)."""
    living = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # it ended while we looked
        # The command name, in parentheses, may hold spaces: the fields follow the last ")".
        state, _ppid, pgrp = stat.rpartition(")")[2].split()[:3]
        if int(pgrp) == group and state != "Z":
            living.append(int(entry.name))
    return living


class ServerProcess:
    """One ``hrd-reports serve --workers N`` on a free port, its output in ``serve.log``."""

    def __init__(self, env: dict[str, str], cwd: Path, *, workers: int) -> None:
        self._env = {**os.environ, **env}
        self._cwd = cwd
        self._workers = workers
        self._log_path = cwd / "serve.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._ended = False
        self.url = ""

    @property
    def group(self) -> int:
        assert self._process is not None, "the server was never started"
        # start_new_session: the supervisor leads a group of its own, its workers in it.
        return self._process.pid

    def start(self) -> None:
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                self._start_once()
            except ServerDidNotStart:
                self.kill()
                if attempt == START_ATTEMPTS:
                    raise
            else:
                return

    def _start_once(self) -> None:
        self._ended = False
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "hrd_reports", "serve", "--port", str(port)]
        command += ["--workers", str(self._workers)]
        # A file, not a pipe: a pipe nobody reads fills up and stalls the server.
        with self._log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                cwd=self._cwd,
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ServerDidNotStart(f"the server exited:\n{self.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return
            time.sleep(0.1)
        raise ServerDidNotStart(f"no answer from /healthz in {START_SECONDS} s:\n{self.log_tail()}")

    def log_tail(self, characters: int = 3000) -> str:
        # Uvicorn's log and the application's access log: no address, receipt or content.
        if not self._log_path.exists():
            return ""
        return self._log_path.read_text(errors="replace")[-characters:]

    def kill(self) -> None:
        """SIGKILL the supervisor and every worker at once, and wait until none is left."""
        if self._process is None or self._ended:
            # Once ended and reaped, the group id may be reused by processes not ours.
            return
        # While the supervisor is not reaped, or a member of its group lives, the group id is
        # still this server's: the signal cannot reach a process that is not ours.
        if self._process.poll() is None or living_members(self.group):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.group, signal.SIGKILL)
        self._process.wait()
        self._wait_for_group_to_end()
        self._ended = True

    def terminate(self) -> None:
        """SIGTERM to the whole group, as an operator (or a service manager) stops it."""
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.group, signal.SIGTERM)

    def exit_status(self, *, within: float) -> int | None:
        """The supervisor's exit status once it and every worker have ended; None if any of
        them still runs after ``within`` seconds."""
        assert self._process is not None, "the server was never started"
        try:
            status = self._process.wait(timeout=within)
        except subprocess.TimeoutExpired:
            return None
        deadline = time.monotonic() + within
        while living_members(self.group):
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)
        return status

    def stop(self) -> None:
        """Stop as an operator would (SIGTERM to the group); SIGKILL whatever is left."""
        if self._process is None:
            return
        if self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.group, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=STOP_SECONDS)
        self.kill()

    def _wait_for_group_to_end(self) -> None:
        deadline = time.monotonic() + STOP_SECONDS
        while living_members(self.group):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"server processes outlived SIGKILL: {living_members(self.group)}"
                )
            time.sleep(0.05)


# What the ``start_server`` fixture hands a test: ``start_server(workers=2)``.
StartServer = Callable[..., ServerProcess]


class LiveServer:
    """The real application under uvicorn, in a thread of this process, on a free port."""

    def __init__(
        self,
        settings: Settings,
        runtime: Runtime,
        *,
        wrap: Callable[[Any], Any] | None = None,
        listening: socket.socket | None = None,
    ) -> None:
        # ``listening``: a socket bound beforehand, for a test whose settings must name the
        # port (HRD_PUBLIC_URL) before the server exists.
        self._socket = listening or socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if listening is None:
            self._socket.bind(("127.0.0.1", 0))
        port = self._socket.getsockname()[1]
        self.origin = f"http://localhost:{port}"
        app = create_app(settings, runtime=runtime)
        config = uvicorn.Config(
            # ``wrap``: an ASGI application around the desk's, for a test that watches requests.
            wrap(app) if wrap is not None else app,
            # uvicorn's own access log would name the client's address; the app keeps its own.
            access_log=False,
            log_config=None,
            lifespan="on",
            ws="none",
            # As `hrd-reports serve` runs it.
            proxy_headers=False,
            server_header=False,
            date_header=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._stopped = False

    def url(self, path: str) -> str:
        return self.origin + path

    def start(self) -> None:
        self._thread.start()
        for _ in range(200):
            if self._server.started or not self._thread.is_alive():
                break
            self._thread.join(0.05)
        if not self._server.started:
            self.stop()
            raise RuntimeError("the live server did not start")

    def stop(self) -> None:
        """Stop serving; the app's shutdown closes the runtime (its database connections)."""
        if self._stopped:
            return
        self._stopped = True
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._socket.close()
        if self._thread.is_alive():
            raise RuntimeError("the live server did not stop")
