"""Reporters under a flood of dashboard requests: the challenge's p99 in a flood and at rest.

    python benchmarks/flood.py [--requests 2000] [--flooders 4]
                               [--database-url postgresql+psycopg://...]

Anyone can send dashboard requests with session cookies of their own making. Before the fix,
two clients doing that in a loop made ``GET /api/v1/challenge`` take 27 s instead of 6 ms:
each made-up cookie was looked up on the event loop, where it waited for SQLite's writer
lock. Here ``hrd-reports serve`` (one worker, as it starts by default) answers a reporter
asking for challenges one after another, at rest and then while ``--flooders`` clients loop
on ``/dashboard/reports``, in two floods:

- made-up cookies (what anyone can send): refused by the cookie's HMAC, before any routing;
- a cookie the server issued, for a session that does not exist (what someone holding an old
  cookie can send): the first costs a database read in a worker thread, then the server
  knows the session is over and refuses the cookie as it refuses a made-up one.

The floor is the same reporter's p99 at rest, in the same run: rounds at rest and in a flood
alternate, so that whatever else the machine does falls on both alike. The reporter and the
flooding clients share this process and its event loop: on two cores, the server has one
and the clients the other. Target: the p99 in each flood within 3 times the p99 at rest.
"""

import argparse
import asyncio
import secrets
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench_desk import CHEAP_ARGON2, backend_of, server, set_up_desk
from intake import Connection
from scratch_database import fresh_database

from hrd_reports.crypto.sessions import SessionToken
from hrd_reports.settings import Settings
from hrd_reports.wiring import build_runtime

TARGET_RATIO = 3.0


@dataclass
class FloodResult:
    backend: str
    cookies: str
    flooders: int
    at_rest: list[float]
    in_flood: list[float]
    flood_statuses: dict[int, int] = field(default_factory=dict)
    flood_requests: int = 0

    @staticmethod
    def p99(latencies: list[float]) -> float:
        return statistics.quantiles(latencies, n=100)[98]

    @property
    def ratio(self) -> float:
        return self.p99(self.in_flood) / self.p99(self.at_rest)


async def _challenges(url: str, count: int) -> list[float]:
    """A reporter's page asking for ``count`` challenges, one after another."""
    connection = await Connection.open(url)
    latencies = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            status, _ = await connection.exchange("GET", "/api/v1/challenge")
            latencies.append(time.perf_counter() - started)
            if status != 200:
                raise SystemExit(f"a challenge was answered {status}")
    finally:
        connection.close()
    return latencies


async def _flood(url: str, cookies: list[str], stop: asyncio.Event, result: FloodResult) -> None:
    connection = await Connection.open(url)
    try:
        turn = 0
        while not stop.is_set():
            cookie = cookies[turn % len(cookies)]
            turn += 1
            status, _ = await connection.exchange(
                "GET", "/dashboard/reports", headers={"Cookie": f"hrd-session={cookie}"}
            )
            result.flood_statuses[status] = result.flood_statuses.get(status, 0) + 1
            result.flood_requests += 1
    finally:
        connection.close()


ROUNDS = 5


async def _measure(
    url: str, requests: int, flooders: int, cookie: str, result: FloodResult
) -> None:
    per_round = max(1, requests // ROUNDS)
    for _ in range(ROUNDS):
        result.at_rest += await _challenges(url, per_round)
        stop = asyncio.Event()
        started = result.flood_requests
        floods = [asyncio.create_task(_flood(url, [cookie], stop, result)) for _ in range(flooders)]
        # The flood is under way before the reporter's requests are timed.
        while result.flood_requests < started + 10 * flooders:
            await asyncio.sleep(0.01)
        result.in_flood += await _challenges(url, per_round)
        stop.set()
        await asyncio.gather(*floods)


def run(requests: int, flooders: int, server_url: str | None) -> list[FloodResult]:
    """One flood of made-up cookies and one of issued cookies of no session, each with its
    own measurement at rest just before."""
    workdir = Path(tempfile.mkdtemp(prefix="hrd-bench-flood-"))
    backend = backend_of(server_url)
    results = []
    try:
        with fresh_database(server_url, workdir, "flood") as database_url:
            settings = Settings(
                database_url=database_url,
                keys_dir=workdir / "keys",
                pow_difficulty_bits=0,
                **CHEAP_ARGON2,
            )
            rt = build_runtime(settings)
            try:
                set_up_desk(rt)
                cookies = {
                    "made-up cookies": SessionToken.new().cookie_value(
                        secret=secrets.token_bytes(32)
                    ),
                    "issued cookies, no session": SessionToken.new().cookie_value(
                        secret=rt.secrets.session
                    ),
                }
            finally:
                rt.close()
            with server(settings, workdir, workers=1) as (url, _pid):
                for kind, cookie in cookies.items():
                    result = FloodResult(backend, kind, flooders, [], [])
                    asyncio.run(_measure(url, requests, flooders, cookie, result))
                    results.append(result)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def print_result(results: list[FloodResult]) -> None:
    for r in results:
        rest, flood = r.p99(r.at_rest) * 1000, r.p99(r.in_flood) * 1000
        print(f"\nreporter under a dashboard flood of {r.cookies}, {r.backend}, ", end="")
        print(f"{r.flooders} flooding clients")
        print(f"  challenge p99 at rest:    {rest:7.2f} ms  (p50 {_p50(r.at_rest):.2f} ms)")
        print(f"  challenge p99 in a flood: {flood:7.2f} ms  (p50 {_p50(r.in_flood):.2f} ms)")
        print(f"  ratio {r.ratio:.2f}   (target <= {TARGET_RATIO:.1f})")
        print(f"  flood: {r.flood_requests:,} dashboard requests answered {r.flood_statuses}")


def _p50(latencies: list[float]) -> float:
    return statistics.median(latencies) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description="Reporter latency under a dashboard flood.")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--flooders", type=int, default=4)
    parser.add_argument("--database-url", help="a PostgreSQL server to create a database on")
    args = parser.parse_args()
    print_result(run(args.requests, args.flooders, args.database_url))


if __name__ == "__main__":
    main()
