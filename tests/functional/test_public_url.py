"""HRD_PUBLIC_URL: the address in every link the desk prints or shows (the setup link of
``serve``, ``user invite``, the dashboard's invitations). Without it, ``serve`` prints where it
listens and ``user invite`` says its address is a guess. X-Forwarded-* is never believed."""

import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from hrd_reports.models import Invitation, Role
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.wiring import Runtime
from tests.cli import invoke
from tests.dashboard_support import (
    Clock,
    assert_dashboard_cookie,
    enrol,
    install_clock,
    set_cookies,
    sign_in,
)
from tests.helpers import Desk, Person, hidden_value
from tests.server import ServerProcess

PUBLIC_HTTPS = "https://desk.example.org"
ONION = f"http://{'a' * 56}.onion"
# What a client may claim about where it came from; none of it is believed.
FORWARDED = {
    "x-forwarded-host": "evil.example",
    "x-forwarded-proto": "https",
    "x-forwarded-port": "443",
    "forwarded": "host=evil.example;proto=https",
}
INVITATION_LINK = re.compile(r"^  (\S+/dashboard/invitation/[\w-]+)$", re.MULTILINE)
SETUP_LINK = re.compile(r"^  (\S+/setup/[\w-]+)$", re.MULTILINE)


@pytest.fixture
def public_url() -> str | None:
    return None


@pytest.fixture
def settings(settings: Settings, public_url: str | None) -> Settings:
    return Settings(**{**settings.model_dump(), "public_url": public_url})


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return install_clock(monkeypatch)


def _opens_an_invitation(runtime: Runtime, link: str) -> bool:
    with TestClient(create_app(runtime.settings, runtime=runtime)) as client:
        return client.get(httpx.URL(link).path).status_code == 200


# ---- the dashboard's invitation links -------------------------------------------------------


def _invite_in_the_dashboard(
    runtime: Runtime, desk: Desk, admin: Person, fake_clock: Clock, headers: dict[str, str]
) -> str:
    staff = enrol(desk, admin, Role.ADMIN)
    # Over https where the cookies are Secure, as a browser behind the proxy would be.
    scheme = "https" if runtime.settings.public_url_is_https else "http"
    with TestClient(
        create_app(runtime.settings, runtime=runtime), base_url=f"{scheme}://testserver"
    ) as client:
        assert sign_in(client, staff, fake_clock) == 303
        csrf = hidden_value(client.get("/dashboard/users").text, "csrf_token")
        page = client.post(
            "/dashboard/users",
            data={"name": "nadia", "role": "case_worker", "csrf_token": csrf},
            headers=headers,
        )
    assert page.status_code == 200, page.text
    shown = re.search(r'data-testid="invitation-link"[^>]*>([^<]+)<', page.text)
    assert shown is not None
    return shown.group(1)


@pytest.mark.parametrize("public_url", [PUBLIC_HTTPS, ONION])
def test_dashboard_invitation_link_is_at_the_public_url_whatever_host_the_request_names(
    runtime: Runtime, desk: Desk, admin: Person, fake_clock: Clock, public_url: str
) -> None:
    forged = {**FORWARDED, "host": "evil.example"}
    link = _invite_in_the_dashboard(runtime, desk, admin, fake_clock, forged)
    assert re.fullmatch(re.escape(public_url) + r"/dashboard/invitation/[\w-]+", link)
    assert _opens_an_invitation(runtime, link)


def test_dashboard_invitation_link_without_public_url_ignores_forwarded_headers(
    runtime: Runtime, desk: Desk, admin: Person, fake_clock: Clock
) -> None:
    link = _invite_in_the_dashboard(runtime, desk, admin, fake_clock, FORWARDED)
    assert re.fullmatch(r"http://testserver/dashboard/invitation/[\w-]+", link)
    assert _opens_an_invitation(runtime, link)


# ---- user invite ----------------------------------------------------------------------------


def _invite(env: dict[str, str], *options: str) -> Any:
    return invoke(env, "user", "invite", "nadia", "--role", "case_worker", *options)


def _invitations(desk: Desk) -> int:
    with desk.session() as session:
        return session.execute(select(func.count()).select_from(Invitation)).scalar_one()


def test_user_invite_links_to_the_public_url(
    cli_env: dict[str, str], desk: Desk, runtime: Runtime
) -> None:
    run = _invite({**cli_env, "HRD_PUBLIC_URL": PUBLIC_HTTPS + "/"})
    assert run.exit_code == 0, run.stderr
    (link,) = INVITATION_LINK.findall(run.stdout)
    assert link.startswith(PUBLIC_HTTPS + "/dashboard/invitation/")
    assert run.stderr == ""
    assert _opens_an_invitation(runtime, link)


def test_user_invite_without_public_url_says_its_address_is_a_guess(
    cli_env: dict[str, str], desk: Desk, runtime: Runtime
) -> None:
    run = _invite(cli_env)
    assert run.exit_code == 0, run.stderr
    (link,) = INVITATION_LINK.findall(run.stdout)
    assert link.startswith("http://127.0.0.1:8000/dashboard/invitation/")
    assert "is a guess" in run.stderr
    assert "HRD_PUBLIC_URL=https://" in run.stderr
    assert _opens_an_invitation(runtime, link)


def test_user_invite_base_url_option_names_the_address(cli_env: dict[str, str], desk: Desk) -> None:
    run = _invite({**cli_env, "HRD_PUBLIC_URL": PUBLIC_HTTPS}, "--base-url", ONION + "/")
    assert run.exit_code == 0, run.stderr
    (link,) = INVITATION_LINK.findall(run.stdout)
    assert link.startswith(ONION + "/dashboard/invitation/")
    assert run.stderr == ""


@pytest.mark.parametrize(
    ("env_change", "options", "named"),
    [
        ({}, ("--base-url", "https://desk.example.org/dashboard"), "--base-url"),
        ({}, ("--base-url", "https://admin:pw@desk.example.org"), "--base-url"),
        ({"HRD_PUBLIC_URL": "desk.example.org"}, (), "HRD_PUBLIC_URL"),
        ({"HRD_PUBLIC_URL": "https://desk.example.org/?a=1"}, (), "HRD_PUBLIC_URL"),
    ],
)
def test_user_invite_with_an_address_that_is_not_an_origin_is_refused_and_invites_nobody(
    cli_env: dict[str, str],
    desk: Desk,
    env_change: dict[str, str],
    options: tuple[str, ...],
    named: str,
) -> None:
    run = _invite({**cli_env, **env_change}, *options)
    assert run.exit_code == 2
    assert run.stderr.startswith("error: ")
    assert named in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert _invitations(desk) == 0


# ---- serve ----------------------------------------------------------------------------------


@pytest.fixture
def uvicorn_runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """``serve`` up to the point where it hands over to Uvicorn, which is not started."""
    runs: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *_args, **kwargs: runs.append(kwargs))
    return runs


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        ("127.0.0.1", "http://127.0.0.1:8123"),
        ("localhost", "http://localhost:8123"),
        ("::1", "http://[::1]:8123"),
        ("desk.lan", "http://desk.lan:8123"),
        # Every interface: reached from this machine at the loopback address.
        ("0.0.0.0", "http://127.0.0.1:8123"),  # noqa: S104 - a test of what is printed
        ("::", "http://[::1]:8123"),
    ],
)
def test_serve_prints_the_setup_link_where_it_listens_without_public_url(
    cli_env: dict[str, str],
    runtime: Runtime,
    uvicorn_runs: list[dict[str, Any]],
    host: str,
    origin: str,
) -> None:
    run = invoke(cli_env, "serve", "--host", host, "--port", "8123")
    assert run.exit_code == 0, run.stderr
    (link,) = SETUP_LINK.findall(run.stdout)
    assert link.startswith(origin + "/setup/")
    assert "HRD_PUBLIC_URL" in run.stdout
    (started,) = uvicorn_runs
    assert (started["host"], started["port"]) == (host, 8123)
    with TestClient(create_app(runtime.settings, runtime=runtime)) as client:
        assert client.get(httpx.URL(link).path).status_code == 200


def test_serve_prints_the_setup_link_at_the_public_url(
    cli_env: dict[str, str], uvicorn_runs: list[dict[str, Any]]
) -> None:
    run = invoke({**cli_env, "HRD_PUBLIC_URL": PUBLIC_HTTPS}, "serve", "--port", "8123")
    assert run.exit_code == 0, run.stderr
    (link,) = SETUP_LINK.findall(run.stdout)
    assert link.startswith(PUBLIC_HTTPS + "/setup/")
    assert "HRD_PUBLIC_URL" not in run.stdout


def test_serve_believes_no_forwarded_header_from_any_address(
    cli_env: dict[str, str], uvicorn_runs: list[dict[str, Any]]
) -> None:
    assert invoke(cli_env, "serve").exit_code == 0
    (started,) = uvicorn_runs
    assert started["proxy_headers"] is False
    # Even if proxy headers were turned on, no address would be trusted to send them.
    assert started["forwarded_allow_ips"] == []


@pytest.fixture
def served(
    cli_env: dict[str, str], workdir: Path, public_url: str | None
) -> Iterator[ServerProcess]:
    """The real ``hrd-reports serve`` on a fresh desk, with HRD_PUBLIC_URL if one is given."""
    env = cli_env | ({"HRD_PUBLIC_URL": public_url} if public_url else {})
    with ExitStack() as started:
        server = ServerProcess(env, workdir, workers=1)
        started.callback(server.stop)
        server.start()
        yield server


@pytest.mark.parametrize(
    ("public_url", "secure"),
    [pytest.param(None, False, id="no-public-url"), pytest.param(PUBLIC_HTTPS, True, id="https")],
)
def test_real_server_links_and_cookies_follow_public_url_and_ignore_forwarded_headers(
    served: ServerProcess, public_url: str | None, secure: bool
) -> None:
    (link,) = SETUP_LINK.findall(served.log_tail(characters=100_000))
    assert link.startswith((public_url or served.url) + "/setup/")
    # Through the address the server listens on, as the proxy in front reaches it.
    path = httpx.URL(link).path
    assert httpx.get(served.url + path, headers=FORWARDED).status_code == 200
    form = httpx.get(served.url + "/dashboard/login", headers=FORWARDED)
    (login_cookie,) = set_cookies(form).values()
    assert_dashboard_cookie(login_cookie, secure=secure)
    assert ("strict-transport-security" in form.headers) == secure
