"""Configuration, read once from ``HRD_*`` environment variables at start-up.

Nothing else in the package reads the environment: the CLI and the web server build a
``Settings`` and pass it down, so tests build their own with their own database.
"""

import ipaddress
import re
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hrd_reports.crypto.passwords import RFC9106_LOW_MEMORY, Argon2Params
from hrd_reports.models import ReportStatus, WebAuthnPolicy
from hrd_reports.smtp import SmtpServer, parse_smtp_url

# A timer may end only a case the desk has finished with: an open case is never destroyed
# because nobody touched it for a while.
EXPIRING_STATUSES = (ReportStatus.CLOSED, ReportStatus.DUPLICATE, ReportStatus.OUT_OF_MANDATE)

# Where `keys rotate` can be killed (hrd_reports/cli/keys.py, services/reseal.py).
_FAULT_POINT = (
    r"^(start-before-commit|after-start|batch-[1-9][0-9]*-(before|after)-commit"
    r"|before-finish|finish-before-commit|after-finish)$"
)
_HOST_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# An address as a mail header carries it: no spaces, no line breaks that would add headers.
_MAIL_ADDRESS = r"^[^\s@<>,;\"]{1,64}@[^\s@<>,;\"]{1,189}$"


def retention_policy(text: str) -> dict[ReportStatus, int]:
    """``closed=365,duplicate=30`` as days per status, or ValueError saying what is wrong."""
    policy: dict[ReportStatus, int] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, equals, days = part.partition("=")
        try:
            status = ReportStatus(name.strip())
        except ValueError:
            status = None
        if status not in EXPIRING_STATUSES:
            allowed = ", ".join(s.value for s in EXPIRING_STATUSES)
            raise ValueError(f"{name.strip()!r}: only these statuses can expire: {allowed}")
        if not equals or not days.strip().isdigit() or not 1 <= int(days) <= 36500:
            raise ValueError(f"{part!r}: say a number of days from 1 to 36500, as closed=365")
        if status in policy:
            raise ValueError(f"{status.value!r} is named twice")
        policy[status] = int(days)
    return policy


def public_origin(text: str) -> str:
    """``scheme://host[:port]`` of a desk's public address, or ValueError saying what is wrong.

    Only an origin: a path, query or fragment would be glued into every link, and credentials
    in a printed link would be handed to whoever receives it.
    """
    if not text.isascii() or not text.isprintable() or any(c.isspace() for c in text):
        raise ValueError("must be ASCII without spaces (a name in another script in its xn-- form)")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"} or not text[len(scheme) :].startswith("://"):
        raise ValueError("must start with https:// (or http:// for an onion address)")
    if "@" in parts.netloc:
        raise ValueError("must hold no user name or password")
    if parts.path not in {"", "/"} or "?" in text or "#" in text:
        raise ValueError(
            "must be the address only, such as https://desk.example.org: no path, query or fragment"
        )
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    host = parts.hostname or ""
    if parts.netloc.startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError("has an invalid IPv6 address") from None
        host = f"[{host}]"
    elif len(host) > 253 or not all(_HOST_LABEL.match(label) for label in host.split(".")):
        raise ValueError("needs a host name, such as desk.example.org")
    if port == 0:
        raise ValueError("has an invalid port")
    return f"{scheme}://{host}" + (f":{port}" if port is not None else "")


def relying_party_id(origin: str) -> str | None:
    """The WebAuthn relying party id of a desk's public origin: its host name, or None where
    WebAuthn cannot work (an IP address is no relying party id, browsers refuse it)."""
    host = urlsplit(origin).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host or None
    return None


class Settings(BaseSettings):
    # A refused value is never repeated in the error: it may be a password (HRD_SMTP_URL).
    model_config = SettingsConfigDict(env_prefix="HRD_", extra="ignore", hide_input_in_errors=True)

    database_url: str = Field(
        default="sqlite:///hrd-reports.db",
        description="SQLAlchemy URL: a SQLite file by default; postgresql+psycopg://... "
        "for several servers.",
    )
    keys_dir: Path = Field(
        default=Path("keys"),
        description="Folder of the server secrets (pepper, lookup, audit, binding); mode 0700.",
    )
    argon2_time_cost: int = Field(default=RFC9106_LOW_MEMORY.time_cost, ge=1)
    argon2_memory_kib: int = Field(default=RFC9106_LOW_MEMORY.memory_kib, ge=8)
    argon2_parallelism: int = Field(default=RFC9106_LOW_MEMORY.parallelism, ge=1)
    insecure_argon2_for_tests: bool = Field(
        default=False,
        description="Allow Argon2 parameters below RFC 9106's; for test suites only.",
    )
    rotation_batch_size: int = Field(default=500, ge=1, le=10_000)
    # Headless Chromium on a 2-vCPU server hashed about 150,000 times a second in the
    # proof-of-work worker; a mid-range phone is several times slower. 2^15 expected hashes
    # is then about a second on a phone (0.2 s on that server); the draw is geometric, so
    # some reporters wait a few times longer.
    pow_difficulty_bits: int = Field(
        default=15,
        ge=0,
        le=32,
        description="Proof-of-work difficulty in bits: about a second in a phone's browser.",
    )
    pow_flood_per_hour: int = Field(
        default=120,
        ge=1,
        description="Proofs of work an hour (submissions, uploads, messages, receipt look-ups) "
        "that this desk sees normally: above it the difficulty rises a bit per doubling.",
    )
    pow_flood_max_extra_bits: int = Field(
        default=6,
        ge=0,
        le=16,
        description="The most bits a flood adds to HRD_POW_DIFFICULTY_BITS (6: 64 times the "
        "work, about a minute on a phone).",
    )
    min_free_disk_mb: int = Field(
        default=1024,
        ge=0,
        description="Below this much free space where the SQLite database lives, reporters' "
        "submissions, uploads and messages are refused with 503 and Retry-After before the "
        "disk fills; staff pages keep working. 0 turns the guard off.",
    )
    server_sealed_per_minute: int = Field(
        default=30,
        ge=1,
        description="Reports accepted per minute, per server process, from browsers without "
        "JavaScript (they cannot solve a proof of work). A global bound, never per address.",
    )
    quick_exit_url: str = Field(
        default="https://www.wikipedia.org/",
        pattern=r"^https?://",
        description="Where the quick-exit button sends a reporter: a neutral, common site.",
    )
    desk_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=80,
        description="The name in the tab title and heading of every reporter page. A neutral "
        'name keeps the words "threat" and "report" out of a reporter\'s browser history; '
        'unset, the pages say "Protection desk" in the reader\'s language.',
    )
    tor_socks: str | None = Field(
        default=None,
        pattern=r"^socks5h?://[^/@]+:[0-9]{1,5}$",
        description="Tor's SOCKS proxy, such as socks5h://127.0.0.1:9050: `verify-assets` "
        "reaches a desk through it, and an onion address only through it.",
    )
    onion_location: str | None = Field(
        default=None,
        pattern=r"^http://[a-z2-7]{56}\.onion$",
        description="This desk's onion address; sent as Onion-Location on reporter pages.",
    )
    withdrawal_grace_days: int = Field(
        default=0,
        ge=0,
        le=90,
        description="Days a withdrawn report is kept before it is destroyed; 0 destroys it "
        "at once. The server purges due reports at start and every hour.",
    )
    retention: str = Field(
        default="",
        description="Days after which a finished report is destroyed, counted from the day "
        "its status last changed, per status: closed=365,duplicate=30,out_of_mandate=30. "
        "Unset keeps every report; open reports and reports on legal hold are never destroyed.",
    )
    attachment_max_mb: int = Field(
        default=100,
        ge=1,
        le=2048,
        description="The largest evidence file a reporter may attach, in MiB.",
    )
    attachments_per_report: int = Field(
        default=20,
        ge=0,
        le=200,
        description="How many files a report may have, with its messages' files; 0 turns "
        "attachments off.",
    )
    attachment_storage_gb: float = Field(
        default=50,
        ge=0,
        description="The storage budget of every evidence file together, in GiB: past it, new "
        "uploads are refused (reports without files still arrive) before the disk fills.",
    )
    upload_expiry_hours: int = Field(
        default=24,
        ge=1,
        le=24 * 14,
        description="Hours after which an upload never attached to a report is deleted.",
    )
    stats_min_cell: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Statistics show a count below this as '<5' (for 5), and hide one more "
        "cell of its table, so that the total does not give it away: a small count can name "
        "the few people behind it. 1 shows every count.",
    )
    setup_link_hours: int = Field(default=24, ge=1, le=24 * 7)
    invitation_hours: int = Field(
        default=72, ge=1, le=24 * 14, description="How long an invitation link stays valid."
    )
    session_idle_minutes: int = Field(
        default=30, ge=1, le=24 * 60, description="A dashboard session ends after this idle time."
    )
    session_absolute_hours: int = Field(
        default=12, ge=1, le=24 * 7, description="A dashboard session ends this long after sign-in."
    )
    login_max_failures: int = Field(
        default=5, ge=1, le=100, description="Failed sign-ins in a row that lock an account."
    )
    login_lockout_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="How long a locked account stays locked."
    )
    argon2_concurrency: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Sign-ins computing Argon2 at once, per server process; each takes "
        "HRD_ARGON2_MEMORY_KIB, so a flood of sign-ins cannot exhaust memory.",
    )
    public_url: str | None = Field(
        default=None,
        description="The address people reach this desk at (https://desk.example.org, or "
        "http://<56 characters>.onion): the base of every link the desk prints or shows. "
        "https makes the dashboard's cookies Secure, with the __Host- prefix.",
    )
    require_webauthn_for: WebAuthnPolicy = Field(
        default=WebAuthnPolicy.NONE,
        description="Who must sign in with a security key or passkey: keyholders "
        "(administrators and coordinators holding the desk key), all, or none. Someone it "
        "covers who has none registers one right after signing in with password and code. "
        "Needs HRD_PUBLIC_URL.",
    )
    backup_dir: Path | None = Field(
        default=None,
        description="Folder where the server writes a backup every HRD_BACKUP_HOURS (mode "
        "0700); unset, the server writes none (`hrd-reports backup create` still does).",
    )
    backup_hours: int = Field(
        default=24, ge=1, le=24 * 31, description="Hours between two scheduled backups."
    )
    backup_keep: int = Field(
        default=7, ge=1, le=1000, description="Scheduled backups kept; older ones are deleted."
    )
    smtp_url: str | None = Field(
        default=None,
        description="The mail server for the desk's notifications: "
        "smtp+starttls://USER@HOST:587 or smtps://USER@HOST:465 (smtp://127.0.0.1:25 only to "
        "this machine). Unset: no e-mail is sent. Never a password here.",
    )
    smtp_password: SecretStr | None = Field(
        default=None,
        description="The mail server's password; else the file smtp-password in the keys "
        "folder is read, if there is one.",
    )
    smtp_from: str | None = Field(
        default=None,
        pattern=_MAIL_ADDRESS,
        description="The sender address of notifications (needed with HRD_SMTP_URL).",
    )
    test_fault_kill_rotation_at: str | None = Field(
        default=None,
        pattern=_FAULT_POINT,
        description="Test suites only: SIGKILL `keys rotate` at a named point to prove it "
        "resumes. Refused unless HRD_INSECURE_ARGON2_FOR_TESTS=true.",
    )

    @field_validator("public_url", mode="before")
    @classmethod
    def _public_url_is_an_origin(cls, value: object) -> object:
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            return value  # pydantic's own type check refuses it
        return public_origin(value)

    @field_validator("tor_socks", mode="before")
    @classmethod
    def _empty_tor_socks_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("smtp_url", mode="before")
    @classmethod
    def _smtp_url_is_a_server(cls, value: object) -> object:
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            return value  # pydantic's own type check refuses it
        return str(parse_smtp_url(value))

    @model_validator(mode="after")
    def _webauthn_policy_has_an_origin(self) -> Self:
        # Security keys are bound to the desk's exact origin and host name; without them
        # nobody could register one, and a policy requiring one would lock everyone out.
        if self.require_webauthn_for != WebAuthnPolicy.NONE and self.webauthn_origin is None:
            raise ValueError(
                "HRD_REQUIRE_WEBAUTHN_FOR needs HRD_PUBLIC_URL, with a host name (not an IP "
                "address): security keys are bound to the address people use"
            )
        return self

    @model_validator(mode="after")
    def _smtp_has_a_sender(self) -> Self:
        if self.smtp_url is not None and self.smtp_from is None:
            raise ValueError("HRD_SMTP_FROM, the sender address, is needed with HRD_SMTP_URL")
        return self

    @field_validator("retention")
    @classmethod
    def _retention_is_a_policy(cls, value: str) -> str:
        retention_policy(value)
        return value

    @property
    def retention_days(self) -> dict[ReportStatus, int]:
        return retention_policy(self.retention)

    @model_validator(mode="after")
    def _argon2_not_below_rfc9106(self) -> Self:
        if not self.insecure_argon2_for_tests and not self.argon2.at_least(RFC9106_LOW_MEMORY):
            raise ValueError(
                "Argon2 parameters below RFC 9106 (t=3, m=65536 KiB, p=4) are refused; "
                "HRD_INSECURE_ARGON2_FOR_TESTS=true allows them in test suites"
            )
        return self

    @model_validator(mode="after")
    def _fault_points_only_in_test_suites(self) -> Self:
        # A switch that kills the rotation command has no place on a running desk: an
        # environment copied from a test set-up must not make every rotation die half-way.
        if self.test_fault_kill_rotation_at is not None and not self.insecure_argon2_for_tests:
            raise ValueError(
                "HRD_TEST_FAULT_KILL_ROTATION_AT is for test suites only; it is refused unless "
                "HRD_INSECURE_ARGON2_FOR_TESTS=true"
            )
        return self

    @property
    def public_url_is_https(self) -> bool:
        return self.public_url is not None and self.public_url.startswith("https://")

    @property
    def webauthn_origin(self) -> str | None:
        """The one origin a security key's answer may come from (HRD_PUBLIC_URL), or None
        when this desk offers no security keys: no public address, or an IP address."""
        if self.public_url is None or relying_party_id(self.public_url) is None:
            return None
        return self.public_url

    @property
    def webauthn_rp_id(self) -> str | None:
        """The relying party id security keys are registered for: HRD_PUBLIC_URL's host."""
        return None if self.webauthn_origin is None else relying_party_id(self.webauthn_origin)

    @property
    def smtp_server(self) -> SmtpServer | None:
        """The mail server of notifications, or None when the desk sends no e-mail."""
        return None if self.smtp_url is None else parse_smtp_url(self.smtp_url)

    @property
    def attachment_max_bytes(self) -> int:
        return self.attachment_max_mb * 1024 * 1024

    @property
    def attachment_storage_bytes(self) -> int:
        return int(self.attachment_storage_gb * 1024**3)

    def public_link(self, path: str) -> str | None:
        """``path`` (from ``/``) at HRD_PUBLIC_URL, or None when it is unset."""
        return None if self.public_url is None else self.public_url + path

    @property
    def argon2(self) -> Argon2Params:
        return Argon2Params(
            time_cost=self.argon2_time_cost,
            memory_kib=self.argon2_memory_kib,
            parallelism=self.argon2_parallelism,
        )
