"""The sender of the desk's notifications: a round every half minute counts what is new for
each person and mails what is due (``services.notifications``).

Every server process runs it; the database decides which one sends each mail. A round's
database and network work runs in a worker thread, never on the event loop, and a mail
server that is down or slow only delays mails: intake never waits for it.
"""

import asyncio
import logging
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from hrd_reports import keystore
from hrd_reports.db import unit_of_work
from hrd_reports.rounds import in_thread_to_the_end
from hrd_reports.services import notification_mail, notifications
from hrd_reports.services.clock import naive_utc_now
from hrd_reports.settings import Settings
from hrd_reports.smtp import SmtpTransport
from hrd_reports.wiring import Runtime, StartupError

ROUND_SECONDS = 30
logger = logging.getLogger("hrd_reports.notifications")


class MailTransport(Protocol):
    def send(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True)
class Round:
    sent: int
    failed: int


@dataclass(frozen=True)
class Notifier:
    runtime: Runtime
    transport: MailTransport
    sender: str
    # Where the dashboard is: at HRD_PUBLIC_URL, else its path alone.
    link: str

    def run_once(self) -> Round:
        """Count what is new, then send every mail due, one claim at a time."""
        sessions = self.runtime.sessions
        with unit_of_work(sessions) as session:
            horizon = notifications.report_horizon(session)
            session.commit()
        with unit_of_work(sessions) as session:
            notifications.collect(session, report_horizon=horizon, now=naive_utc_now())
            session.commit()
        sent = failed = 0
        for _ in range(notifications.BATCH):
            with unit_of_work(sessions) as session:
                outgoing = notifications.claim_next(
                    session, now=naive_utc_now(), secrets=self.runtime.secrets
                )
                session.commit()
            if outgoing is None:
                break
            if self._deliver(outgoing):
                sent += 1
            else:
                failed += 1
        return Round(sent=sent, failed=failed)

    def _deliver(self, outgoing: notifications.Outgoing) -> bool:
        message = notification_mail.compose(
            outgoing, sender=self.sender, link=self.link, now=naive_utc_now()
        )
        try:
            self.transport.send(message)
        except Exception as exc:  # noqa: BLE001 - any failure keeps the mail for a later try
            error = type(exc).__name__
            with unit_of_work(self.runtime.sessions) as session:
                retry_at = notifications.record_failure(
                    session, outgoing, error=error, now=naive_utc_now()
                )
                session.commit()
            # The error's class only: its message can quote the address or the server's reply.
            logger.warning(
                "the mail server did not take a notification (%s, failure %d in a row); "
                "it is kept and tried again at %s UTC",
                error,
                outgoing.attempts + 1,
                retry_at.strftime("%H:%M"),
            )
            return False
        with unit_of_work(self.runtime.sessions) as session:
            notifications.record_sent(session, outgoing, now=naive_utc_now())
            session.commit()
        return True


def build_notifier(runtime: Runtime, settings: Settings) -> Notifier | None:
    """The sender of this desk's mails, or None when HRD_SMTP_URL is unset (no e-mail)."""
    server = settings.smtp_server
    if server is None or settings.smtp_from is None:
        return None
    if settings.smtp_password is not None:
        password: str | None = settings.smtp_password.get_secret_value()
    else:
        try:
            password = keystore.read_smtp_password(settings.keys_dir)
        except keystore.KeystoreError as exc:
            raise StartupError(str(exc)) from exc
    if server.user is not None and password is None:
        raise StartupError(
            f"HRD_SMTP_URL names the user {server.user} but no password was given: set "
            f"HRD_SMTP_PASSWORD or write it to {settings.keys_dir / keystore.SMTP_PASSWORD_FILE}"
        )
    transport = SmtpTransport(
        server, password=password, helo_name=settings.smtp_from.rsplit("@", 1)[1]
    )
    return Notifier(
        runtime=runtime,
        transport=transport,
        sender=settings.smtp_from,
        link=settings.public_link("/dashboard") or "/dashboard",
    )


async def send_forever(notifier: Notifier) -> None:
    """A round now and every ``ROUND_SECONDS``, until cancelled with the server."""
    while True:
        try:
            await in_thread_to_the_end(notifier.run_once)
        except Exception as exc:  # noqa: BLE001 - a busy database must not end the sender
            logger.warning(
                "a round of notifications failed (%s); the next one is in %d seconds",
                type(exc).__name__,
                ROUND_SECONDS,
            )
        await asyncio.sleep(ROUND_SECONDS)
