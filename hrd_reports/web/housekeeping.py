"""The server's own chores, at start and every hour: destroying what the withdrawal grace and
the retention policy say is due, deleting uploads never attached, and making sure destroyed
reports leave the database's files.

Each round is one unit of work in a worker thread: the event loop only waits for it. A round
that fails (a busy database) is logged without detail and tried again the next hour; it never
stops the server.
"""

import asyncio
import datetime as dt
import logging

from hrd_reports.db import (
    checkpoint_deleted,
    one_server_at_a_time,
    shred_deleted_reports,
    unit_of_work,
)
from hrd_reports.rounds import in_thread_to_the_end
from hrd_reports.services import attachments, retention, withdrawal
from hrd_reports.settings import Settings
from hrd_reports.wiring import Runtime

logger = logging.getLogger("hrd_reports.web")
INTERVAL_SECONDS = 3600


class Housekeeping:
    def __init__(self, runtime: Runtime, settings: Settings) -> None:
        self._runtime = runtime
        self._grace = dt.timedelta(days=settings.withdrawal_grace_days)
        self._policy = settings.retention_days
        # How many reports had been destroyed when their rows were last shredded from the
        # database's files. Unknown at start: a desk that ever destroyed a report is shredded
        # once then, and one that never did is not rewritten for nothing at every start.
        self._shredded_at = 0

    def _round(self) -> None:
        with one_server_at_a_time(self._runtime.engine, "housekeeping") as ours:
            # Another server (or worker) is doing this round: the same work, done once.
            if ours:
                self._round_alone()

    def _round_alone(self) -> None:
        runtime = self._runtime
        with unit_of_work(runtime.sessions) as session:
            # Without a grace period a withdrawal destroys at once: nothing waits to be purged.
            if self._grace > dt.timedelta(0):
                withdrawal.purge_withdrawn(
                    session, grace=self._grace, actor="server", secrets=runtime.secrets
                )
            # Due by the day: run every hour, it destroys each report on the day its period
            # ends.
            retention.purge(session, policy=self._policy, actor="server", secrets=runtime.secrets)
            attachments.delete_expired_uploads(session)
            session.commit()
            # Withdrawals and the desk's destructions happen between rounds too: any new
            # tombstone means rows to shred.
            destroyed = withdrawal.tombstone_count(session)
        checkpoint_deleted(runtime.engine)
        if destroyed != self._shredded_at:
            shred_deleted_reports(runtime.engine)
            self._shredded_at = destroyed

    async def run_now(self) -> None:
        try:
            await in_thread_to_the_end(self._round)
        except Exception:  # noqa: BLE001 - a busy database must not stop the server or the loop
            logger.warning(
                "purging withdrawn and expired reports and expired uploads failed; "
                "trying again in an hour"
            )

    async def run_hourly(self) -> None:
        while True:
            await asyncio.sleep(INTERVAL_SECONDS)
            await self.run_now()
