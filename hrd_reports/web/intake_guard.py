"""Flood defence of the reporter side, measured every few seconds off the event loop: the
proof of work's difficulty follows the rate of accepted proofs, and reporters' writes are
refused with 503 before a filling disk makes the database fail.

Both decisions are read from memory by every request (no database, no file work on the
event loop); a worker thread refreshes them. Staff pages are never refused here: the desk
must be able to work through a flood, and to free space.
"""

import asyncio
import logging
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url
from starlette.types import ASGIApp, Receive, Scope, Send

from hrd_reports.db import is_sqlite, unit_of_work
from hrd_reports.i18n import N_
from hrd_reports.rounds import in_thread_to_the_end
from hrd_reports.services import challenges
from hrd_reports.settings import Settings
from hrd_reports.web.middleware import send_json
from hrd_reports.wiring import Runtime

logger = logging.getLogger("hrd_reports.web")

MEASURE_EVERY_SECONDS = 15
# How long a refused reporter is asked to wait: long enough for an operator to act.
RETRY_AFTER_SECONDS = 900

UNAVAILABLE = N_(
    "the desk cannot take reports right now, and nothing was stored; please try again later"
)

# What a reporter writes: a report (with or without JavaScript), an upload and its chunks, a
# message from the inbox. Reading the inbox and the pages goes on; the inbox's form without
# JavaScript, which both reads and writes, refuses a message itself (web.reporter).
_WRITES = re.compile(r"^(/api/v1/(reports|uploads(/.*)?|inbox/messages)|/report)$")


class IntakeGuard:
    def __init__(self, runtime: Runtime, settings: Settings) -> None:
        self._runtime = runtime
        self._base = settings.pow_difficulty_bits
        self._normal_per_hour = settings.pow_flood_per_hour
        self._max_extra = settings.pow_flood_max_extra_bits
        self._min_free = settings.min_free_disk_mb * 1024 * 1024
        # Where the database's file lives; a PostgreSQL server's disk is its own to watch.
        self._data_dir: Path | None = None
        if is_sqlite(settings.database_url):
            database = make_url(settings.database_url).database or ""
            self._data_dir = Path(database).resolve().parent
        self.difficulty = self._base
        self.disk_low = False

    def measure(self) -> None:
        """One measurement (blocking: a count in the database and a statvfs)."""
        with unit_of_work(self._runtime.read_sessions) as session:
            recent = challenges.recent_proofs(session)
        difficulty = challenges.flood_difficulty(
            recent=recent,
            base=self._base,
            normal_per_hour=self._normal_per_hour,
            max_extra=self._max_extra,
        )
        if difficulty != self.difficulty:
            logger.warning("proof-of-work difficulty now %d bits", difficulty)
        self.difficulty = difficulty
        low = (
            self._min_free > 0
            and self._data_dir is not None
            and shutil.disk_usage(self._data_dir).free < self._min_free
        )
        if low != self.disk_low:
            logger.warning(
                "free disk space is %s: reporters' submissions are %s",
                "below HRD_MIN_FREE_DISK_MB" if low else "back above HRD_MIN_FREE_DISK_MB",
                "refused" if low else "taken again",
            )
        self.disk_low = low

    async def run(self) -> None:
        while True:
            try:
                await in_thread_to_the_end(self.measure)
            except Exception:  # noqa: BLE001 - a busy database must not stop the guard
                logger.warning("measuring the intake's load failed; keeping the last measure")
            await asyncio.sleep(MEASURE_EVERY_SECONDS)


class IntakeGuardGate:
    """Refuse a reporter's write with 503 and Retry-After while the disk is low, before the
    application reads the body."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        guard: IntakeGuard,
        page: Callable[[Scope], ASGIApp | None],
    ) -> None:
        self.app = app
        self._guard = guard
        # The refusal as a reporter's page in their language, or None for the JSON API.
        self._page = page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and self._guard.disk_low
            and scope["method"] in {"POST", "PUT"}
            and _WRITES.match(scope["path"])
        ):
            page = self._page(scope)
            if page is not None:
                await page(scope, receive, send)
            else:
                await send_json(send, *DISK_LOW)
            return
        await self.app(scope, receive, send)


# The JSON API's refusal of a reporter's write while the disk is low.
DISK_LOW = (
    503,
    "the desk cannot take reports right now; nothing was stored. Please try again later",
    [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())],
)
