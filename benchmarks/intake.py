"""Intake throughput through the real HTTP server, against a floor measured in the same run.

    python benchmarks/intake.py [--reports 2000] [--concurrency 16] [--workers 2]
                                [--database-url postgresql+psycopg://...]

The floor stores the same kind of submissions without the app: the intake service's own
checks and insert, and the spent challenge, one transaction per report, in this process.
The measured path is ``hrd-reports serve`` (uvicorn, ``--workers``) answering
``GET /api/v1/challenge`` and ``POST /api/v1/reports`` from concurrent clients that submit
through the reference client. Submissions are built, and proofs of work solved, before the
clock starts (that is the reporter's browser's work). The target: at least 60 % of the floor.
"""

import argparse
import asyncio
import json
import resource
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_desk import CHEAP_ARGON2, backend_of, server, set_up_desk
from scratch_database import fresh_database

from hrd_reports import db
from hrd_reports.crypto.pow import solve
from hrd_reports.crypto.submission import Submission, new_submission
from hrd_reports.crypto.xwing import PublicKey
from hrd_reports.services import challenges, intake
from hrd_reports.settings import Settings
from hrd_reports.wiring import Runtime, build_runtime

TARGET_RATIO = 0.60
CONTENT = b'{"v":1,"incident_types":["death_threat"],"narrative":"A benchmark report."}'


def settings_for(database_url: str, keys_dir: Path) -> Settings:
    # Cheap Argon2 and no proof-of-work cost: neither is what intake throughput measures.
    return Settings(
        database_url=database_url, keys_dir=keys_dir, pow_difficulty_bits=0, **CHEAP_ARGON2
    )


def build(count: int, key: PublicKey) -> list[Submission]:
    return [new_submission(CONTENT, intake_key=key)[1] for _ in range(count)]


def measure_floor(rt: Runtime, submissions: list[Submission]) -> float:
    """The same checks and inserts as a request, with no HTTP, JSON or framework around them."""
    tokens = [challenges.issue(secrets=rt.secrets, difficulty=0).token for _ in submissions]
    started = time.perf_counter()
    for submission, token in zip(submissions, tokens, strict=True):
        with db.unit_of_work(rt.sessions) as session:
            challenges.spend(session, token=token, counter=0, secrets=rt.secrets, difficulty=0)
            intake.submit_report(session, submission=submission, secrets=rt.secrets)
            session.commit()
    return time.perf_counter() - started


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


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

    connections = [await Connection.open(url) for _ in range(concurrency)]
    try:
        started = time.perf_counter()
        await asyncio.gather(*(client(connection) for connection in connections))
        return time.perf_counter() - started, latencies, failures
    finally:
        for connection in connections:
            connection.close()


@dataclass(frozen=True)
class IntakeResult:
    backend: str
    reports: int
    workers: int
    concurrency: int
    floor_s: float
    http_s: float
    latencies: list[float]
    failures: int
    server_cpu_s: float
    client_cpu_s: float

    @property
    def floor_rate(self) -> float:
        return self.reports / self.floor_s

    @property
    def http_rate(self) -> float:
        return self.reports / self.http_s

    @property
    def ratio(self) -> float:
        return self.http_rate / self.floor_rate


def run(count: int, concurrency: int, workers: int, server_url: str | None) -> IntakeResult:
    workdir = Path(tempfile.mkdtemp(prefix="hrd-bench-intake-"))
    try:
        with fresh_database(server_url, workdir, "floor") as floor_url:
            rt = build_runtime(settings_for(floor_url, workdir / "keys-floor"))
            try:
                floor_s = measure_floor(rt, build(count, set_up_desk(rt)))
            finally:
                rt.close()
        with fresh_database(server_url, workdir, "http") as http_url:
            settings = settings_for(http_url, workdir / "keys-http")
            rt = build_runtime(settings)
            try:
                submissions = build(count, set_up_desk(rt))
            finally:
                rt.close()
            client_cpu = cpu_seconds(resource.RUSAGE_SELF)
            server_cpu = cpu_seconds(resource.RUSAGE_CHILDREN)
            with server(settings, workdir, workers=workers) as (url, _pid):
                http_s, latencies, failures = asyncio.run(submit_all(url, submissions, concurrency))
                client_cpu = cpu_seconds(resource.RUSAGE_SELF) - client_cpu
            # The server's processes are counted once they have exited.
            server_cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - server_cpu
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return IntakeResult(
        backend_of(server_url),
        count,
        workers,
        concurrency,
        floor_s,
        http_s,
        latencies,
        failures,
        server_cpu,
        client_cpu,
    )


def print_result(r: IntakeResult) -> None:
    print(f"\nintake, {r.backend}, {r.reports:,} reports, {r.workers} workers, ", end="")
    print(f"concurrency {r.concurrency}")
    print(f"  floor (service, no HTTP): {r.floor_rate:8,.0f} reports/s")
    print(f"  HTTP server:              {r.http_rate:8,.0f} reports/s   ", end="")
    print(f"ratio {r.ratio:.2f}   (target >= {TARGET_RATIO:.2f})")
    quantiles = statistics.quantiles(r.latencies, n=100)
    p50, p99 = quantiles[49] * 1000, quantiles[98] * 1000
    print(f"  latency p50 {p50:.1f} ms, p99 {p99:.1f} ms; failures {r.failures}")
    print(
        f"  CPU per report: server {r.server_cpu_s / r.reports * 1000:.2f} ms, "
        f"client {r.client_cpu_s / r.reports * 1000:.2f} ms (both share this machine's cores)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Intake throughput against its floor.")
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", help="a PostgreSQL server to create a database on")
    args = parser.parse_args()
    print_result(run(args.reports, args.concurrency, args.workers, args.database_url))


if __name__ == "__main__":
    main()
