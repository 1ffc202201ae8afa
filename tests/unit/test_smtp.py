"""The mail server's address and the SMTP transport: TLS always, the certificate verified,
credentials sent only over TLS, never a password in the address."""

import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

import pytest

from hrd_reports.settings import Settings
from hrd_reports.smtp import Security, SmtpServer, SmtpTransport, parse_smtp_url
from tests.mail_server import HOST, MailServer, make_certificate, running


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp+starttls://desk@mail.example.org", "smtp+starttls://desk@mail.example.org:587"),
        ("smtps://mail.example.org", "smtps://mail.example.org:465"),
        ("SMTPS://desk%40org@mail.example.org:2465", "smtps://desk%40org@mail.example.org:2465"),
        ("smtp://127.0.0.1:2525", "smtp://127.0.0.1:2525"),
        ("smtp://localhost", "smtp://localhost:25"),
        ("smtp://[::1]:25", "smtp://[::1]:25"),
    ],
)
def test_parse_smtp_url_accepts_tls_or_this_machine(url: str, expected: str) -> None:
    parsed = parse_smtp_url(url)
    assert str(parsed) == expected
    assert parse_smtp_url(str(parsed)) == parsed


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("smtp+starttls://desk:hunter2@mail.example.org", "no password"),
        ("smtp://mail.example.org", "only to this machine"),
        ("smtp://10.0.0.5", "only to this machine"),
        ("http://mail.example.org", "must start with"),
        ("smtps://mail.example.org/inbox", "the server only"),
        ("smtps://mail.example.org:99999", "invalid port"),
        ("smtps://", "needs a host"),
    ],
)
def test_parse_smtp_url_refuses_with_a_reason_that_never_repeats_it(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as refused:
        parse_smtp_url(url)
    assert "hunter2" not in str(refused.value)


def test_settings_refuse_a_password_in_the_smtp_url_without_repeating_it() -> None:
    with pytest.raises(ValueError, match="no password") as refused:
        Settings(smtp_url="smtps://desk:hunter2@mail.example.org", smtp_from="desk@example.org")
    assert "hunter2" not in str(refused.value)


def test_settings_need_a_sender_with_a_mail_server() -> None:
    with pytest.raises(ValueError, match="HRD_SMTP_FROM"):
        Settings(smtp_url="smtps://mail.example.org")


def _message() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "desk@example.org"
    message["To"] = "carol@example.org"
    message["Subject"] = "test"
    message.set_content("counts only")
    return message


def test_starttls_transport_logs_in_over_tls_and_delivers(tmp_path: Path) -> None:
    certificate = make_certificate(tmp_path)
    with running(MailServer(starttls=certificate.server_context())) as server:
        transport = SmtpTransport(
            SmtpServer(Security.STARTTLS, HOST, server.port, user="desk"),
            password="the relay's password",
            tls_context=certificate.client_context(),
        )
        transport.send(_message())

    assert server.logins == [("desk", "the relay's password")]
    assert [mail.recipients for mail in server.received] == [["carol@example.org"]]


def test_starttls_transport_refuses_a_certificate_it_cannot_verify(tmp_path: Path) -> None:
    certificate = make_certificate(tmp_path)
    with running(MailServer(starttls=certificate.server_context())) as server:
        # The system's authorities do not know the test's certificate: someone in the middle.
        transport = SmtpTransport(
            SmtpServer(Security.STARTTLS, HOST, server.port, user="desk"), password="secret"
        )
        with pytest.raises(ssl.SSLCertVerificationError):
            transport.send(_message())

    assert (server.logins, server.received) == ([], [])


def test_starttls_transport_never_falls_back_to_plain_text() -> None:
    with running(MailServer()) as server:  # offers no STARTTLS
        transport = SmtpTransport(
            SmtpServer(Security.STARTTLS, HOST, server.port, user="desk"), password="secret"
        )
        with pytest.raises(smtplib.SMTPNotSupportedError):
            transport.send(_message())

    assert (server.logins, server.received) == ([], [])


def test_implicit_tls_transport_delivers_to_a_verified_server(tmp_path: Path) -> None:
    certificate = make_certificate(tmp_path)
    with running(MailServer(implicit_tls=certificate.server_context())) as server:
        SmtpTransport(
            SmtpServer(Security.TLS, HOST, server.port), tls_context=certificate.client_context()
        ).send(_message())
        with pytest.raises(ssl.SSLCertVerificationError):
            SmtpTransport(SmtpServer(Security.TLS, HOST, server.port)).send(_message())

    assert len(server.received) == 1
