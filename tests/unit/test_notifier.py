"""Building the sender of notifications from the settings, and the mail it writes: the
password from the environment or from keys/ (never readable by others), the dashboard's
link, and a mail of counts whose headers name no host of the server."""

import os
import re
import socket
from pathlib import Path

import pytest

from hrd_reports.models import NotificationKind
from hrd_reports.notifier import build_notifier
from hrd_reports.services import notification_mail
from hrd_reports.services.notifications import Outgoing
from hrd_reports.settings import Settings
from hrd_reports.smtp import SmtpTransport
from hrd_reports.wiring import Runtime, StartupError
from tests.cli import invoke
from tests.unit.services.notification_support import NOW


def _with_mail(settings: Settings, url: str, **more: object) -> Settings:
    return Settings.model_validate(
        {**settings.model_dump(), "smtp_url": url, "smtp_from": "desk@example.org", **more}
    )


def _password_file(settings: Settings, mode: int) -> Path:
    path = settings.keys_dir / "smtp-password"
    path.write_text("the relay's password\n", encoding="utf-8")
    path.chmod(mode)
    return path


def test_build_notifier_without_a_mail_server_sends_nothing(
    runtime: Runtime, settings: Settings
) -> None:
    assert build_notifier(runtime, settings) is None


def test_build_notifier_reads_the_password_file_in_keys(
    runtime: Runtime, settings: Settings
) -> None:
    _password_file(settings, 0o600)
    configured = _with_mail(settings, "smtps://desk@mail.example.org")

    notifier = build_notifier(runtime, configured)

    assert notifier is not None
    assert isinstance(notifier.transport, SmtpTransport)
    assert notifier.transport.password == "the relay's password"
    assert "the relay's password" not in repr(notifier)
    # The mail server is told the sender's domain as this side's name, not the machine's.
    assert notifier.transport.helo_name == "example.org"


def test_build_notifier_refuses_a_password_file_others_can_read(
    runtime: Runtime, settings: Settings
) -> None:
    _password_file(settings, 0o644)

    with pytest.raises(StartupError, match="can be read by other users"):
        build_notifier(runtime, _with_mail(settings, "smtps://desk@mail.example.org"))


def test_build_notifier_with_a_user_and_no_password_refuses_to_start(
    runtime: Runtime, settings: Settings
) -> None:
    with pytest.raises(StartupError, match="HRD_SMTP_PASSWORD"):
        build_notifier(runtime, _with_mail(settings, "smtps://desk@mail.example.org"))


def test_build_notifier_prefers_the_password_of_the_environment_and_links_to_the_public_url(
    runtime: Runtime, settings: Settings
) -> None:
    configured = _with_mail(
        settings,
        "smtp+starttls://desk@mail.example.org",
        smtp_password="from the environment",
        public_url="https://desk.example.org",
    )

    notifier = build_notifier(runtime, configured)

    assert notifier is not None
    assert isinstance(notifier.transport, SmtpTransport)
    assert notifier.transport.password == "from the environment"
    assert notifier.link == "https://desk.example.org/dashboard"


def test_serve_with_a_password_file_others_can_read_stops_in_one_line(
    settings: Settings, cli_env: dict[str, str]
) -> None:
    settings.keys_dir.mkdir(mode=0o700, exist_ok=True)
    _password_file(settings, 0o640)
    env = {
        **cli_env,
        "HRD_SMTP_URL": "smtps://desk@mail.example.org",
        "HRD_SMTP_FROM": "desk@example.org",
    }

    run = invoke(env, "serve")

    assert run.exit_code == 1
    assert run.stderr.startswith("error: ")
    assert "smtp-password can be read by other users" in run.stderr
    assert "Traceback" not in run.stderr


def _outgoing(kind: NotificationKind, **counts: int) -> Outgoing:
    values = {"reports": 0, "messages": 0, "urgent": 0} | counts
    return Outgoing(
        user_id=1, address="cora@example.org", locale="en", kind=kind, attempts=0, **values
    )


def test_compose_writes_counts_and_the_link_under_one_subject_for_every_kind() -> None:
    urgent = notification_mail.compose(
        _outgoing(NotificationKind.URGENT, reports=3, messages=1, urgent=2),
        sender="desk@example.org",
        link="https://desk.example.org/dashboard",
        now=NOW,
    )
    digest = notification_mail.compose(
        _outgoing(NotificationKind.DIGEST, messages=2),
        sender="desk@example.org",
        link="/dashboard",
        now=NOW,
    )

    assert urgent["Subject"] == digest["Subject"]
    body = urgent.get_content()
    assert "3 new reports are waiting." in body
    assert "1 new message from a reporter is waiting." in body
    assert "2 of them may be urgent" in body
    assert "https://desk.example.org/dashboard" in body
    assert "new report" not in digest.get_content()
    assert "2 new messages from reporters are waiting." in digest.get_content()
    assert "urgent" not in digest.get_content()
    # The message id is made under the sender's domain, not the machine's host name.
    assert re.fullmatch(r"<[^@]+@example\.org>", urgent["Message-ID"])
    assert socket.gethostname() not in urgent.as_string()
    assert os.uname().nodename not in urgent.as_string()
