"""Security keys and passkeys over HTTP, through the dashboard's own forms, with a key made of
software (tests/webauthn_support.py): registering, signing in, every refusal (another origin,
a cloned key's counter, a replayed or late answer, another person's key) audited, removal,
the desk's policy, and the sign-in step that tells a guesser nothing."""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from hrd_reports.models import (
    AuditEvent,
    DashboardSession,
    DeviceKind,
    Role,
    WebAuthnChallenge,
    WebAuthnCredential,
)
from hrd_reports.services import users
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.wiring import Runtime
from tests.cli import invoke
from tests.dashboard_support import Clock, Staff, csrf_of, enrol, install_clock, sign_in
from tests.functional.test_dashboard_sign_in import Argon2Spy
from tests.helpers import Desk, Person, hidden_value
from tests.webauthn_support import (
    PUBLIC_URL,
    RP_ID,
    SoftKey,
    add_key_page,
    answer_key_step,
    options_of,
    register_key,
    sign_in_with_key,
    start_key_sign_in,
)

PHISHING = "https://desk-example.org"
KEY_REFUSED = "security key is wrong"


@pytest.fixture
def public_url() -> str | None:
    return PUBLIC_URL


@pytest.fixture
def policy() -> str:
    return "none"


@pytest.fixture
def idle_minutes() -> int:
    return 30


@pytest.fixture
def settings(
    settings: Settings, public_url: str | None, policy: str, idle_minutes: int
) -> Settings:
    return Settings(
        **{
            **settings.model_dump(),
            "public_url": public_url,
            "require_webauthn_for": policy,
            "session_idle_minutes": idle_minutes,
        }
    )


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return install_clock(monkeypatch)


@pytest.fixture
def app(settings: Settings, runtime: Runtime, desk: Desk) -> FastAPI:
    return create_app(settings, runtime=runtime)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # The desk's own address: its cookies are Secure there, and go back only over https.
    with TestClient(app, base_url=PUBLIC_URL) as test_client:
        yield test_client


@pytest.fixture
def coordinator(desk: Desk, admin: Person, fake_clock: Clock) -> Staff:
    return enrol(desk, desk.add_vetted("cora", Role.COORDINATOR, by=admin), Role.COORDINATOR)


@pytest.fixture
def case_worker(desk: Desk, admin: Person, fake_clock: Clock) -> Staff:
    return enrol(desk, desk.add_vetted("wafa", Role.CASE_WORKER, by=admin), Role.CASE_WORKER)


def browser(app: FastAPI, staff: Staff, fake_clock: Clock, *, agent: str = "") -> TestClient:
    """A browser of ``staff`` at the desk's address, signed in with password and code."""
    headers = {"user-agent": agent} if agent else {}
    client = TestClient(app, base_url=PUBLIC_URL, headers=headers)
    assert sign_in(client, staff, fake_clock) == 303
    return client


def key_for(staff: Staff) -> SoftKey:
    return SoftKey(PUBLIC_URL, RP_ID)


@dataclass(frozen=True)
class Entry:
    actor: str
    detail: dict[str, Any]


def audited(desk: Desk, action: str) -> list[Entry]:
    with desk.session() as session:
        return [
            Entry(event.actor, json.loads(event.detail))
            for event in session.execute(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            ).scalars()
        ]


def stored_keys(desk: Desk, name: str) -> list[WebAuthnCredential]:
    with desk.session() as session:
        user = users.get_user(session, name)
        return list(
            session.execute(
                select(WebAuthnCredential).where(WebAuthnCredential.user_id == user.id)
            ).scalars()
        )


def failed_logins(desk: Desk, name: str) -> int:
    with desk.session() as session:
        return users.get_user(session, name).failed_logins


def with_key(app: FastAPI, staff: Staff, fake_clock: Clock) -> SoftKey:
    """``staff`` with a key registered from their account page, signed out again."""
    signed_in = browser(app, staff, fake_clock)
    key = key_for(staff)
    assert (
        register_key(signed_in, csrf_of(signed_in, "/dashboard/password"), key).status_code == 303
    )
    return key


# ---- registering and signing in -----------------------------------------------------------


def test_a_person_registers_a_key_and_signs_in_with_it_instead_of_a_code(
    app: FastAPI, client: TestClient, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    signed_in = browser(app, coordinator, fake_clock)
    csrf = csrf_of(signed_in, "/dashboard/password")
    key = key_for(coordinator)
    added = register_key(signed_in, csrf, key, name="blue key")
    assert added.status_code == 303
    assert added.headers["location"].endswith("done=key_added#security-keys")
    account = signed_in.get("/dashboard/password").text
    assert "blue key" in account
    (stored,) = stored_keys(desk, "cora")
    assert stored.credential_id == key.credential_id
    assert (stored.name, stored.transports, stored.last_used_on) == ("blue key", "usb", None)
    (registered,) = audited(desk, "user.webauthn.register")
    assert (registered.actor, registered.detail) == ("cora", {"key": str(stored.public_id)})

    answer = sign_in_with_key(client, coordinator.person.name, coordinator.person.password, key)
    assert answer.status_code == 303, answer.text
    assert client.get("/dashboard/reports").status_code == 200
    (used,) = stored_keys(desk, "cora")
    assert used.sign_count == key.sign_count
    assert used.last_used_on == fake_clock.now.date()
    assert audited(desk, "login.success")[-1].detail == {
        "via": "security key",
        "key": str(stored.public_id),
    }
    # The step's challenge is spent and gone.
    with desk.session() as session:
        assert session.execute(select(WebAuthnChallenge)).first() is None


def test_a_person_with_a_key_can_no_longer_sign_in_with_a_code(
    app: FastAPI, client: TestClient, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    with_key(app, coordinator, fake_clock)
    # A code phished along with the password must not get around the key.
    assert sign_in(client, coordinator, fake_clock) == 401
    assert audited(desk, "login.failure")[-1].detail == {"reason": "security key required"}


def test_an_answer_from_another_origin_is_refused_counted_and_audited(
    app: FastAPI, client: TestClient, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    key = with_key(app, coordinator, fake_clock)
    # A look-alike address relaying the sign-in: the browser signs its own origin.
    answer = sign_in_with_key(
        client, coordinator.person.name, coordinator.person.password, key, origin=PHISHING
    )
    assert answer.status_code == 401
    assert KEY_REFUSED in answer.text
    assert client.get("/dashboard/reports", follow_redirects=False).status_code == 303
    refused = audited(desk, "user.webauthn.refused")[-1]
    assert (refused.actor, refused.detail) == (
        "cora",
        {"reason": "origin", "via": "sign-in"},
    )
    assert failed_logins(desk, "cora") == 1


def test_a_cloned_key_whose_counter_went_back_is_refused_and_audited(
    app: FastAPI, client: TestClient, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    key = with_key(app, coordinator, fake_clock)
    name, password = coordinator.person.name, coordinator.person.password
    assert sign_in_with_key(client, name, password, key).status_code == 303
    clone = key.clone(sign_count=0)
    answer = sign_in_with_key(TestClient(app, base_url=PUBLIC_URL), name, password, clone)
    assert answer.status_code == 401
    refused = audited(desk, "user.webauthn.refused")[-1]
    assert refused.detail == {"reason": "sign counter went back (cloned key?)", "via": "sign-in"}
    # The counter the genuine key reached is kept: the clone cannot lower it.
    assert stored_keys(desk, "cora")[0].sign_count == key.sign_count


def test_a_key_step_answer_works_once(
    app: FastAPI, client: TestClient, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    key = with_key(app, coordinator, fake_clock)
    step = start_key_sign_in(client, coordinator.person.name, coordinator.person.password)
    answer = key.get(options_of(step.text))
    cookies = dict(client.cookies)
    assert answer_key_step(client, step.text, answer).status_code == 303
    # The same answer, with the same step cookie, replayed from another browser.
    replay = TestClient(app, base_url=PUBLIC_URL, cookies=cookies)
    assert answer_key_step(replay, step.text, answer).status_code == 401


def test_a_key_step_answered_after_two_minutes_is_refused(
    app: FastAPI, client: TestClient, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    key = with_key(app, coordinator, fake_clock)
    step = start_key_sign_in(client, coordinator.person.name, coordinator.person.password)
    fake_clock.advance(121)
    answer = answer_key_step(client, step.text, key.get(options_of(step.text)))
    assert answer.status_code == 401
    assert KEY_REFUSED in answer.text


def test_another_persons_key_does_not_sign_in(
    app: FastAPI,
    client: TestClient,
    desk: Desk,
    coordinator: Staff,
    case_worker: Staff,
    fake_clock: Clock,
) -> None:
    with_key(app, coordinator, fake_clock)
    wafas = with_key(app, case_worker, fake_clock)
    answer = sign_in_with_key(client, coordinator.person.name, coordinator.person.password, wafas)
    assert answer.status_code == 401
    assert audited(desk, "user.webauthn.refused")[-1].detail == {
        "reason": "not a key of this account",
        "via": "sign-in",
    }


def test_a_key_without_user_verification_is_refused(
    app: FastAPI, client: TestClient, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    key = with_key(app, coordinator, fake_clock)
    answer = sign_in_with_key(
        client, coordinator.person.name, coordinator.person.password, key, verified=False
    )
    assert answer.status_code == 401
    assert audited(desk, "user.webauthn.refused")[-1].detail["reason"] == "user verification"


# ---- a step that tells a guesser nothing ---------------------------------------------------


def test_the_key_step_looks_the_same_whatever_the_password_step_found(
    app: FastAPI, client: TestClient, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    with_key(app, coordinator, fake_clock)
    name, password = coordinator.person.name, coordinator.person.password
    pages = {
        "right password": start_key_sign_in(client, name, password),
        "wrong password": start_key_sign_in(client, name, "not the password at all"),
        "unknown name": start_key_sign_in(client, "nobody-here", password),
    }
    assert {why: page.status_code for why, page in pages.items()} == dict.fromkeys(pages, 200)
    shapes = {why: {**options_of(page.text), "challenge": "-"} for why, page in pages.items()}
    assert shapes["wrong password"] == shapes["right password"] == shapes["unknown name"]
    assert shapes["right password"].get("allowCredentials", []) == []
    # The wrong password was counted and audited at once, before any key was asked.
    assert failed_logins(desk, "cora") == 1
    assert [entry.detail for entry in audited(desk, "login.failure") if entry.actor == "cora"] == [
        {"reason": "password", "via": "security key"}
    ]


def test_a_wrong_password_is_refused_even_with_the_right_key(
    app: FastAPI, client: TestClient, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    key = with_key(app, coordinator, fake_clock)
    answer = sign_in_with_key(client, coordinator.person.name, "not the password at all", key)
    assert answer.status_code == 401
    assert KEY_REFUSED in answer.text


def test_every_way_through_the_password_step_costs_the_same_argon2_work(
    app: FastAPI,
    client: TestClient,
    desk: Desk,
    coordinator: Staff,
    case_worker: Staff,
    fake_clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Timing is not measured: what is checked is that each path runs the same Argon2 work,
    # one verification and one key derivation, so the time does not say which it was.
    with_key(app, coordinator, fake_clock)
    spy = Argon2Spy(monkeypatch)
    spent = {}
    name, password = coordinator.person.name, coordinator.person.password
    for why, (who, typed) in {
        "right password": (name, password),
        "wrong password": (name, "not the password at all"),
        "unknown name": ("nobody-here", password),
        "no key, no code": (case_worker.person.name, case_worker.person.password),
    }.items():
        assert start_key_sign_in(client, who, typed).status_code == 200
        spent[why] = spy.take()
    assert spent == {why: ["verify", "hash_secret_raw"] for why in spent}


def test_a_person_without_a_key_who_typed_no_code_is_refused(
    client: TestClient, desk: Desk, case_worker: Staff, fake_clock: Clock
) -> None:
    step = start_key_sign_in(client, case_worker.person.name, case_worker.person.password)
    made_up = SoftKey(PUBLIC_URL, RP_ID).get(options_of(step.text))
    assert answer_key_step(client, step.text, made_up).status_code == 401
    assert audited(desk, "login.failure")[-1].detail == {
        "reason": "no code and no security key",
        "via": "security key",
    }


def test_a_key_step_without_its_cookie_or_with_a_forged_form_is_refused(
    app: FastAPI, client: TestClient, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    key = with_key(app, coordinator, fake_clock)
    step = start_key_sign_in(client, coordinator.person.name, coordinator.person.password)
    answer = key.get(options_of(step.text))
    elsewhere = TestClient(app, base_url=PUBLIC_URL)
    assert answer_key_step(elsewhere, step.text, answer).status_code == 403
    forged = client.post(
        "/dashboard/login/security-key",
        data={"form_token": "made up", "credential": answer},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    # Still unspent: the person's own page goes on.
    assert answer_key_step(client, step.text, answer).status_code == 303


@pytest.mark.parametrize("answer", ["", "{}", "not json", '{"id": 1}', "[" * 5000])
def test_a_malformed_answer_gets_a_clear_refusal_never_a_server_error(
    app: FastAPI, client: TestClient, desk: Desk, coordinator: Staff, fake_clock: Clock, answer: str
) -> None:
    with_key(app, coordinator, fake_clock)
    step = start_key_sign_in(client, coordinator.person.name, coordinator.person.password)
    refused = answer_key_step(client, step.text, answer)
    assert refused.status_code == 401
    assert KEY_REFUSED in refused.text
    assert audited(desk, "user.webauthn.refused")[-1].detail == {
        "reason": "malformed",
        "via": "sign-in",
    }


# ---- registering: refusals ------------------------------------------------------------------


def test_a_registration_from_another_origin_is_refused_and_audited(
    app: FastAPI, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    signed_in = browser(app, coordinator, fake_clock)
    csrf = csrf_of(signed_in, "/dashboard/password")
    refused = register_key(signed_in, csrf, key_for(coordinator), origin=PHISHING)
    assert refused.status_code == 400
    assert "was not added" in refused.text
    assert stored_keys(desk, "cora") == []
    assert audited(desk, "user.webauthn.refused")[-1].detail == {
        "reason": "origin",
        "during": "registration",
    }


def test_a_registration_page_of_one_session_cannot_be_answered_from_another(
    app: FastAPI, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    first = browser(app, coordinator, fake_clock)
    page = add_key_page(first, csrf_of(first, "/dashboard/password"))
    second = browser(app, coordinator, fake_clock)
    answer = second.post(
        "/dashboard/security-keys",
        data={
            "csrf_token": csrf_of(second, "/dashboard/password"),
            "name": "stolen page",
            "credential": key_for(coordinator).create(options_of(page.text)),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 400
    assert stored_keys(desk, "cora") == []


def test_the_same_key_cannot_be_registered_twice(
    app: FastAPI, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    signed_in = browser(app, coordinator, fake_clock)
    csrf = csrf_of(signed_in, "/dashboard/password")
    key = key_for(coordinator)
    assert register_key(signed_in, csrf, key).status_code == 303
    # The browser is told the key is known (excludeCredentials) and would refuse; a script
    # that sends it anyway is refused by the server.
    page = add_key_page(signed_in, csrf)
    assert options_of(page.text)["excludeCredentials"][0]["type"] == "public-key"
    assert register_key(signed_in, csrf, key, name="again").status_code == 409
    assert len(stored_keys(desk, "cora")) == 1


@pytest.mark.parametrize("name", ["", "   ", "x" * 65, "tab\there"])
def test_a_key_needs_a_name_a_person_can_read(
    app: FastAPI, desk: Desk, coordinator: Staff, fake_clock: Clock, name: str
) -> None:
    signed_in = browser(app, coordinator, fake_clock)
    csrf = csrf_of(signed_in, "/dashboard/password")
    refused = register_key(signed_in, csrf, key_for(coordinator), name=name)
    assert refused.status_code == 400
    assert "give the key a name" in refused.text


@pytest.mark.parametrize("public_url", [None, "https://192.0.2.7"])
def test_without_a_public_host_name_no_key_can_be_registered_and_the_page_says_why(
    app: FastAPI, coordinator: Staff, fake_clock: Clock, public_url: str | None
) -> None:
    signed_in = TestClient(app, base_url=public_url or "http://testserver")
    assert sign_in(signed_in, coordinator, fake_clock) == 303
    account = signed_in.get("/dashboard/password").text
    assert 'data-testid="keys-unavailable"' in account
    refused = add_key_page(signed_in, hidden_value(account, "csrf_token"))
    assert refused.status_code == 400
    assert "HRD_PUBLIC_URL" in refused.text
    # The sign-in form asks for the code, as before.
    assert 'autocomplete="one-time-code" aria-describedby' in signed_in.get("/dashboard/login").text


# ---- removing -------------------------------------------------------------------------------


def test_removing_a_key_is_audited_and_the_code_signs_in_again(
    app: FastAPI, client: TestClient, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    key = with_key(app, coordinator, fake_clock)
    signed_in = TestClient(app, base_url=PUBLIC_URL)
    assert (
        sign_in_with_key(
            signed_in, coordinator.person.name, coordinator.person.password, key
        ).status_code
        == 303
    )
    (stored,) = stored_keys(desk, "cora")
    removed = signed_in.post(
        f"/dashboard/security-keys/{stored.public_id}/remove",
        data={"csrf_token": csrf_of(signed_in, "/dashboard/password")},
        follow_redirects=False,
    )
    assert removed.status_code == 303
    assert stored_keys(desk, "cora") == []
    (entry,) = audited(desk, "user.webauthn.remove")
    assert (entry.actor, entry.detail) == ("cora", {"key": str(stored.public_id)})
    assert (
        sign_in_with_key(
            client, coordinator.person.name, coordinator.person.password, key
        ).status_code
        == 401
    )
    assert sign_in(client, coordinator, fake_clock) == 303


def test_a_person_cannot_remove_another_persons_key(
    app: FastAPI, desk: Desk, coordinator: Staff, case_worker: Staff, fake_clock: Clock
) -> None:
    with_key(app, coordinator, fake_clock)
    (coras,) = stored_keys(desk, "cora")
    wafa = browser(app, case_worker, fake_clock)
    refused = wafa.post(
        f"/dashboard/security-keys/{coras.public_id}/remove",
        data={"csrf_token": csrf_of(wafa, "/dashboard/password")},
    )
    assert refused.status_code == 404
    assert len(stored_keys(desk, "cora")) == 1


# ---- the desk's policy ----------------------------------------------------------------------


def _enrol_at_sign_in(app: FastAPI, staff: Staff, fake_clock: Clock) -> tuple[TestClient, str]:
    client = TestClient(app, base_url=PUBLIC_URL)
    fake_clock.advance(30)
    answer = client.post(
        "/dashboard/login",
        data={
            "name": staff.person.name,
            "password": staff.person.password,
            "code": staff.code(fake_clock.now),
            "form_token": hidden_value(client.get("/dashboard/login").text, "form_token"),
        },
        follow_redirects=False,
    )
    return client, answer.text if answer.status_code == 200 else ""


@pytest.mark.parametrize("policy", ["keyholders"])
def test_a_key_holder_without_a_key_registers_one_right_after_password_and_code(
    app: FastAPI, desk: Desk, coordinator: Staff, case_worker: Staff, fake_clock: Clock
) -> None:
    client, page = _enrol_at_sign_in(app, coordinator, fake_clock)
    assert "requires a security key for your account" in page
    # No session yet: the dashboard is not open before the key is registered.
    assert client.get("/dashboard/reports", follow_redirects=False).status_code == 303
    key = key_for(coordinator)
    done = client.post(
        "/dashboard/login/security-key/enrol",
        data={
            "form_token": hidden_value(page, "form_token"),
            "name": "office key",
            "credential": key.create(options_of(page)),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert "done=key_added" in done.headers["location"]
    assert client.get("/dashboard/reports").status_code == 200
    assert [stored.name for stored in stored_keys(desk, "cora")] == ["office key"]
    # From now on the key, not the code.
    assert sign_in(TestClient(app, base_url=PUBLIC_URL), coordinator, fake_clock) == 401
    # A case worker holds no desk key: the code goes on signing them in.
    assert sign_in(TestClient(app, base_url=PUBLIC_URL), case_worker, fake_clock) == 303


@pytest.mark.parametrize("policy", ["keyholders"])
def test_a_refused_registration_at_sign_in_opens_no_session(
    app: FastAPI, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    client, page = _enrol_at_sign_in(app, coordinator, fake_clock)
    refused = client.post(
        "/dashboard/login/security-key/enrol",
        data={
            "form_token": hidden_value(page, "form_token"),
            "name": "office key",
            "credential": key_for(coordinator).create(options_of(page), origin=PHISHING),
        },
        follow_redirects=False,
    )
    assert refused.status_code == 400
    assert client.get("/dashboard/reports", follow_redirects=False).status_code == 303
    assert audited(desk, "user.webauthn.refused")[-1].detail == {
        "reason": "origin",
        "during": "registration",
    }


@pytest.mark.parametrize("policy", ["all"])
def test_requiring_keys_of_all_covers_case_workers_too(
    app: FastAPI, case_worker: Staff, fake_clock: Clock
) -> None:
    _, page = _enrol_at_sign_in(app, case_worker, fake_clock)
    assert "requires a security key for your account" in page


@pytest.mark.parametrize("policy", ["keyholders"])
def test_a_key_holder_cannot_remove_their_last_key_where_the_desk_requires_one(
    app: FastAPI, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    client, page = _enrol_at_sign_in(app, coordinator, fake_clock)
    client.post(
        "/dashboard/login/security-key/enrol",
        data={
            "form_token": hidden_value(page, "form_token"),
            "name": "office key",
            "credential": key_for(coordinator).create(options_of(page)),
        },
    )
    (stored,) = stored_keys(desk, "cora")
    refused = client.post(
        f"/dashboard/security-keys/{stored.public_id}/remove",
        data={"csrf_token": csrf_of(client, "/dashboard/password")},
    )
    assert refused.status_code == 409
    assert "add another key before removing" in refused.text
    assert len(stored_keys(desk, "cora")) == 1


# ---- sessions -----------------------------------------------------------------------------

PHONE = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Mobile Safari/537.36"
COMPUTER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/156.0 Safari/537.36"


def _session_ids(page: str) -> list[str]:
    return re.findall(r'data-session="([^"]+)"', page)


@pytest.mark.parametrize("idle_minutes", [240])
def test_a_person_sees_their_sessions_coarsely_and_ends_another(
    app: FastAPI, desk: Desk, coordinator: Staff, case_worker: Staff, fake_clock: Clock
) -> None:
    phone = browser(app, coordinator, fake_clock, agent=PHONE)
    fake_clock.advance(2 * 3600)
    computer = browser(app, coordinator, fake_clock, agent=COMPUTER)
    browser(app, case_worker, fake_clock)
    page = computer.get("/dashboard/sessions").text
    assert len(_session_ids(page)) == 2
    assert "a phone" in page
    assert "a computer" in page
    assert page.count('data-current="yes"') == 1
    assert "about 2 hours ago" in page
    assert "just now" in page
    fake_clock.advance(20 * 60)
    assert "within the last hour" in computer.get("/dashboard/sessions").text
    # Only the kind is kept: no user agent, and nothing finer than the kind.
    with desk.session() as session:
        kinds = sorted(row.device for row in session.execute(select(DashboardSession)).scalars())
    assert kinds == [DeviceKind.COMPUTER, DeviceKind.PHONE, DeviceKind.UNKNOWN]

    current = re.search(r'data-session="([^"]+)" data-current="yes"', page)
    assert current is not None
    (other,) = [found for found in _session_ids(page) if found != current.group(1)]
    ended = computer.post(
        f"/dashboard/sessions/{other}/end",
        data={"csrf_token": hidden_value(page, "csrf_token")},
        follow_redirects=False,
    )
    assert ended.status_code == 303
    assert "done=session_ended" in ended.headers["location"]
    assert phone.get("/dashboard/reports", follow_redirects=False).status_code == 303
    assert computer.get("/dashboard/reports").status_code == 200
    (entry,) = audited(desk, "session.end")
    assert (entry.actor, entry.detail) == ("cora", {"device": "phone", "current": False})


def test_ending_ones_own_session_signs_out(
    app: FastAPI, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    signed_in = browser(app, coordinator, fake_clock)
    page = signed_in.get("/dashboard/sessions").text
    (own,) = _session_ids(page)
    ended = signed_in.post(
        f"/dashboard/sessions/{own}/end",
        data={"csrf_token": hidden_value(page, "csrf_token")},
        follow_redirects=False,
    )
    assert ended.status_code == 303
    assert ended.headers["location"].startswith("/dashboard/login")
    assert signed_in.get("/dashboard/reports", follow_redirects=False).status_code == 303
    assert audited(desk, "session.end")[-1].detail == {"device": "unknown", "current": True}


def test_a_person_cannot_end_another_persons_session(
    app: FastAPI, desk: Desk, coordinator: Staff, case_worker: Staff, fake_clock: Clock
) -> None:
    cora = browser(app, coordinator, fake_clock)
    (coras,) = _session_ids(cora.get("/dashboard/sessions").text)
    wafa = browser(app, case_worker, fake_clock)
    refused = wafa.post(
        f"/dashboard/sessions/{coras}/end",
        data={"csrf_token": csrf_of(wafa, "/dashboard/sessions")},
    )
    assert refused.status_code == 404
    assert cora.get("/dashboard/reports").status_code == 200
    assert audited(desk, "session.end") == []


# ---- a lost key ---------------------------------------------------------------------------


def test_an_administrator_removes_a_lost_key_from_the_command_line(
    app: FastAPI,
    client: TestClient,
    desk: Desk,
    coordinator: Staff,
    fake_clock: Clock,
    cli_env: dict[str, str],
) -> None:
    with_key(app, coordinator, fake_clock)
    removed = invoke(cli_env, "user", "remove-keys", "cora")
    assert removed.exit_code == 0, removed.stderr
    assert "cora: 1 security key(s) removed." in removed.stdout
    assert stored_keys(desk, "cora") == []
    (entry,) = audited(desk, "user.webauthn.remove")
    assert entry.actor.startswith("cli")
    # Back to password and code.
    assert sign_in(client, coordinator, fake_clock) == 303
    unknown = invoke(cli_env, "user", "remove-keys", "nobody-here")
    assert unknown.exit_code != 0
    assert "there is no user named 'nobody-here'" in unknown.stderr
