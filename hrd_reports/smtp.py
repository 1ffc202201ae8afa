"""Sending e-mail through the desk's mail server: the one place that speaks SMTP.

Only over TLS (implicit, or STARTTLS that the server must offer) with the certificate and
host name verified against the system's authorities, so that the credentials and the mail
cannot be read or answered by whoever sits on the path. Plain SMTP is accepted only to a
server on this machine (a local relay that does its own TLS onwards).
"""

import ipaddress
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from enum import StrEnum
from urllib.parse import quote, unquote, urlsplit

# Long enough for a slow relay, short enough that a hung one does not hold the sender.
TIMEOUT_SECONDS = 30.0
_LOCAL_NAMES = frozenset({"localhost"})


class Security(StrEnum):
    STARTTLS = "smtp+starttls"
    TLS = "smtps"
    # Only to this machine (see ``parse_smtp_url``).
    PLAIN = "smtp"


_DEFAULT_PORTS = {Security.STARTTLS: 587, Security.TLS: 465, Security.PLAIN: 25}


@dataclass(frozen=True)
class SmtpServer:
    security: Security
    host: str
    port: int
    user: str | None = None

    def __str__(self) -> str:
        """The server as an administrator reads it; it never held a password."""
        user = f"{quote(self.user, safe='')}@" if self.user else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.security.value}://{user}{host}:{self.port}"


def _is_local(host: str) -> bool:
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_smtp_url(text: str) -> SmtpServer:
    """``smtp+starttls://[user@]host[:port]``, ``smtps://...`` or ``smtp://`` to this machine;
    ValueError saying what is wrong, never repeating the text (it may hold a password)."""
    parts = urlsplit(text.strip())
    try:
        security = Security(parts.scheme.lower())
    except ValueError:
        raise ValueError(
            "must start with smtp+starttls:// or smtps:// (smtp:// only to this machine)"
        ) from None
    if parts.password is not None:
        raise ValueError(
            "must hold no password: it would show wherever the address is printed; put it in "
            "HRD_SMTP_PASSWORD or in the file smtp-password in the keys folder"
        )
    if parts.path not in {"", "/"} or parts.query or parts.fragment:
        raise ValueError("must be the server only, such as smtp+starttls://desk@mail.example.org")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    host = parts.hostname or ""
    if not host:
        raise ValueError("needs a host name, such as smtp+starttls://mail.example.org")
    if security is Security.PLAIN and not _is_local(host):
        raise ValueError(
            "smtp:// without TLS is accepted only to this machine (127.0.0.1, ::1, "
            "localhost); use smtp+starttls:// or smtps://"
        )
    user = unquote(parts.username) if parts.username else None
    return SmtpServer(
        security=security, host=host, port=port or _DEFAULT_PORTS[security], user=user
    )


@dataclass(frozen=True)
class SmtpTransport:
    """Sends one message per connection: a few mails an hour need no pooled connection, and
    a fresh one recovers from whatever broke the last."""

    server: SmtpServer
    password: str | None = field(default=None, repr=False)
    timeout: float = TIMEOUT_SECONDS
    # The name this side gives in EHLO: smtplib would send the machine's own host name, which
    # may say where the desk's server stands; the sender's domain says nothing new.
    helo_name: str = "localhost"
    # The authorities to verify the server against: the system's, unless a test gives its own.
    tls_context: ssl.SSLContext | None = field(default=None, repr=False)

    def _context(self) -> ssl.SSLContext:
        return self.tls_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        server = self.server
        if server.security is Security.TLS:
            return smtplib.SMTP_SSL(
                server.host,
                server.port,
                local_hostname=self.helo_name,
                timeout=self.timeout,
                context=self._context(),
            )
        connection = smtplib.SMTP(
            server.host, server.port, local_hostname=self.helo_name, timeout=self.timeout
        )
        if server.security is Security.STARTTLS:
            try:
                # Raises when the server does not offer STARTTLS: never falls back to plain.
                connection.starttls(context=self._context())
            except BaseException:
                connection.close()
                raise
        return connection

    def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` to the server, or raise (``smtplib.SMTPException``, ``OSError``);
        the caller keeps it queued and tries again later."""
        with self._connect() as connection:
            if self.server.user is not None:
                connection.login(self.server.user, self.password or "")
            connection.send_message(message)
