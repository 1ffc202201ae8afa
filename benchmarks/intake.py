"""Intake throughput through the real HTTP server, against the floor route in the same run.

    python benchmarks/intake.py [--reports 2000] [--concurrency 16,64] [--workers 2]
                                [--database-url postgresql+psycopg://...]

The floor is ``intake_floor.py``: a bare Starlette route that durably inserts the request's
body (the same JSON a submission sends) with the desk's durability, one transaction per
request, served by uvicorn; it is measured with one worker and with ``--workers`` and the
faster counts. The measured path is ``hrd-reports serve`` (``--workers``) answering
``GET /api/v1/challenge`` and ``POST /api/v1/reports``: two requests a report. The same
client loads both, one after the other, from the same connections. Submissions are built,
and proofs of work solved, before the clock starts (that is the reporter's browser's work).
The target: the desk's accepted reports per second at least half the floor's requests per
second, under a flood: ``FLOOD_CONCURRENCY`` reporters at once, as the load test sends. The
floor stores each request alone, in its own transaction and flush, one after another, so its
rate does not grow with the load; the desk's group commit stores more reports per flush the
more arrive at once. Each concurrency asked for is measured, floor and desk anew; below a
flood's the figures are shown for the latency a few reporters see, without a target.
"""

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_desk import CHEAP_ARGON2, backend_of, free_port, server, serving, set_up_desk
from scratch_database import fresh_database

from hrd_reports.crypto.pow import solve
from hrd_reports.crypto.submission import Submission, new_submission
from hrd_reports.crypto.xwing import PublicKey
from hrd_reports.settings import Settings
from hrd_reports.wiring import build_runtime

TARGET_RATIO = 0.50
# Reporters at once in a flood, where the target applies: as many as the load test sends.
FLOOD_CONCURRENCY = 64
# Measured in turn: a few reporters at once, then a flood.
CONCURRENCIES = (16, FLOOD_CONCURRENCY)
CONTENT = b'{"v":1,"incident_types":["death_threat"],"narrative":"A benchmark report."}'


def settings_for(database_url: str, keys_dir: Path) -> Settings:
    # Cheap Argon2 and no proof-of-work cost: neither is what intake throughput measures. The
    # benchmark is a flood by design: the difficulty must not rise under it.
    return Settings(
        database_url=database_url,
        keys_dir=keys_dir,
        pow_difficulty_bits=0,
        pow_flood_per_hour=10**9,
        **CHEAP_ARGON2,
    )


def build(count: int, key: PublicKey) -> list[Submission]:
    return [new_submission(CONTENT, intake_key=key)[1] for _ in range(count)]


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def group_cpu_seconds(group: int) -> float:
    """CPU spent so far by the living processes of process group ``group`` (a server's
    supervisor and workers): read around the load alone, start-up and shutdown left out."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command's name, in parentheses, may hold spaces: fields follow its end.
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # ended meanwhile
        if int(fields[2]) == group:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class Connection:
    """One keep-alive HTTP/1.1 connection that sends JSON and reads the JSON answer.

    The load comes from the same two cores as the server: a general-purpose async client
    spends about 3 ms of CPU per report here, which would be taken from the server and
    counted against it. This one spends a tenth of that, so the figure is the server's.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, url: str) -> "Connection":
        host, port = url.removeprefix("http://").split(":")
        return cls(*await asyncio.open_connection(host, int(port)))

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, Any]:
        status, payload = await self.exchange(method, path, body)
        return status, json.loads(payload) if payload else None

    async def exchange(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """One request and its answer: the status and the body as bytes."""
        head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Length: {len(body)}\r\n"
        if body:
            head += "Content-Type: application/json\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self.writer.write(head.encode("ascii") + b"\r\n" + body)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return int(status_line.split()[1]), await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def open_connections(url: str, count: int) -> list[Connection]:
    """``count`` connections, opened one at a time as reporters arrive, not in one instant:
    a server's workers share one listening socket, and the first to wake up takes every
    connection waiting, so connections opened in the same instant would all be one worker's.
    """
    connections = []
    for _ in range(count):
        connections.append(await Connection.open(url))
        await asyncio.sleep(0.05)
    return connections


async def submit_all(
    url: str, submissions: list[Submission], concurrency: int
) -> tuple[float, list[float], int]:
    """Each client asks for a challenge, solves it (at difficulty 0: one hash) and posts."""
    queue: asyncio.Queue[Submission] = asyncio.Queue()
    for submission in submissions:
        queue.put_nowait(submission)
    latencies: list[float] = []
    failures = 0

    async def client(connection: Connection) -> None:
        nonlocal failures
        while not queue.empty():
            submission = queue.get_nowait()
            started = time.perf_counter()
            _, challenge = await connection.request("GET", "/api/v1/challenge")
            body: dict[str, Any] = {
                "proof_of_work": {
                    "challenge": challenge["challenge"],
                    "counter": solve(challenge["challenge"], 0),
                },
                "envelope": submission.to_wire(),
            }
            status, _ = await connection.request(
                "POST", "/api/v1/reports", json.dumps(body).encode()
            )
            latencies.append(time.perf_counter() - started)
            failures += status != 201

    connections = await open_connections(url, concurrency)
    try:
        started = time.perf_counter()
        await asyncio.gather(*(client(connection) for connection in connections))
        return time.perf_counter() - started, latencies, failures
    finally:
        for connection in connections:
            connection.close()


async def post_all(url: str, bodies: list[bytes], concurrency: int) -> tuple[float, int]:
    """The floor's load: each client posts a submission's body, as the desk's clients do."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    failures = 0

    async def client(connection: Connection) -> None:
        nonlocal failures
        while not queue.empty():
            status, _ = await connection.exchange("POST", "/api/v1/reports", queue.get_nowait())
            failures += status != 201

    connections = await open_connections(url, concurrency)
    try:
        started = time.perf_counter()
        await asyncio.gather(*(client(connection) for connection in connections))
        return time.perf_counter() - started, failures
    finally:
        for connection in connections:
            connection.close()


def floor_body(submission: Submission) -> bytes:
    """What the desk's client sends for ``submission``: the floor stores as many bytes."""
    proof = {"challenge": "x" * 120, "counter": 0}
    return json.dumps({"proof_of_work": proof, "envelope": submission.to_wire()}).encode()


@contextlib.contextmanager
def floor_server(database_url: str, workdir: Path, workers: int) -> Iterator[tuple[str, int]]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "intake_floor:app", "--port", str(port)]
    command += ["--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    env = os.environ | {
        "FLOOR_DATABASE_URL": database_url,
        "PYTHONPATH": str(Path(__file__).resolve().parent),
    }
    with serving(command, port, env=env, workdir=workdir, log="floor.log") as pid:
        yield f"http://127.0.0.1:{port}", pid


@dataclass(frozen=True)
class FloorResult:
    rate: float  # requests per second
    workers: int
    failures: int
    server_cpu_s: float


def measure_floor_route(
    server_url: str | None, workdir: Path, bodies: list[bytes], concurrency: int, workers: int
) -> FloorResult:
    """The floor route's best rate over one worker and ``workers``, with the refusals (there
    should be none) and the CPU its server spent."""
    best = FloorResult(0.0, 1, 0, 0.0)
    for count in sorted({1, workers}):
        with fresh_database(server_url, workdir, f"floor{count}") as url:
            # The floor speaks to SQLite and psycopg directly, without SQLAlchemy's dialects.
            plain = url.removeprefix("sqlite:///").replace("postgresql+psycopg", "postgresql")
            with floor_server(plain, workdir, count) as (served, group):
                server_cpu = group_cpu_seconds(group)
                seconds, failures = asyncio.run(post_all(served, bodies, concurrency))
                server_cpu = group_cpu_seconds(group) - server_cpu
        if len(bodies) / seconds > best.rate:
            best = FloorResult(len(bodies) / seconds, count, failures, server_cpu)
    return best


@dataclass(frozen=True)
class IntakeResult:
    backend: str
    reports: int
    workers: int
    concurrency: int
    floor: FloorResult
    http_s: float
    latencies: list[float]
    failures: int
    server_cpu_s: float
    client_cpu_s: float

    @property
    def http_rate(self) -> float:
        return self.reports / self.http_s

    @property
    def floor_rate(self) -> float:
        return self.floor.rate

    @property
    def is_a_flood(self) -> bool:
        """Whether the target applies to this run."""
        return self.concurrency >= FLOOD_CONCURRENCY

    @property
    def ratio(self) -> float:
        return self.http_rate / self.floor.rate


def run(count: int, concurrency: int, workers: int, server_url: str | None) -> IntakeResult:
    workdir = Path(tempfile.mkdtemp(prefix="hrd-bench-intake-"))
    try:
        with fresh_database(server_url, workdir, "http") as http_url:
            settings = settings_for(http_url, workdir / "keys-http")
            rt = build_runtime(settings)
            try:
                submissions = build(count, set_up_desk(rt))
            finally:
                rt.close()
            floor = measure_floor_route(
                server_url, workdir, [floor_body(s) for s in submissions], concurrency, workers
            )
            with server(settings, workdir, workers=workers) as (url, group):
                client_cpu = cpu_seconds(resource.RUSAGE_SELF)
                server_cpu = group_cpu_seconds(group)
                http_s, latencies, failures = asyncio.run(submit_all(url, submissions, concurrency))
                client_cpu = cpu_seconds(resource.RUSAGE_SELF) - client_cpu
                server_cpu = group_cpu_seconds(group) - server_cpu
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return IntakeResult(
        backend_of(server_url),
        count,
        workers,
        concurrency,
        floor,
        http_s,
        latencies,
        failures,
        server_cpu,
        client_cpu,
    )


def print_result(r: IntakeResult) -> None:
    print(f"\nintake, {r.backend}, {r.reports:,} reports, {r.workers} workers, ", end="")
    print(f"concurrency {r.concurrency}")
    print(f"  floor route:  {r.floor.rate:8,.0f} requests/s ({r.floor.workers} worker(s), ", end="")
    print(f"{r.floor.failures} refused)")
    print(f"  hrd-reports:  {r.http_rate:8,.0f} reports/s  (two requests each)   ", end="")
    if r.is_a_flood:
        print(f"ratio {r.ratio:.2f}   (target >= {TARGET_RATIO:.2f}, a flood)")
    else:
        print(f"ratio {r.ratio:.2f}   (no target below a flood's concurrency)")
    quantiles = statistics.quantiles(r.latencies, n=100)
    p50, p99 = quantiles[49] * 1000, quantiles[98] * 1000
    print(f"  latency of a report (challenge and submission) p50 {p50:.1f} ms, p99 {p99:.1f} ms;")
    print(f"  failures {r.failures}")
    print(
        f"  CPU per report: server {r.server_cpu_s / r.reports * 1000:.2f} ms, "
        f"client {r.client_cpu_s / r.reports * 1000:.2f} ms (under load only; both share the cores)"
    )
    floor_cpu = r.floor.server_cpu_s / r.reports * 1000
    print(f"  CPU per request of the floor route: {floor_cpu:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description="Intake throughput against its floor.")
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument(
        "--concurrency",
        type=lambda text: [int(part) for part in text.split(",")],
        default=list(CONCURRENCIES),
        help="connections at once, comma-separated; each is measured in turn",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", help="a PostgreSQL server to create a database on")
    args = parser.parse_args()
    for concurrency in args.concurrency:
        print_result(run(args.reports, concurrency, args.workers, args.database_url))


if __name__ == "__main__":
    main()
