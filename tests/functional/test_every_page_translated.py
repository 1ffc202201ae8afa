"""Every reporter and dashboard page, rendered in each language, holds no sentence left in
English: a frightened reporter never has to read a second language, and a case worker in
Sulaymaniyah reads the dashboard in Sorani.

A page is searched (its text and the attributes people hear or see: labels for screen
readers, placeholders, titles, and the messages scripts show) for every English message of
the catalogue whose translation differs from it."""

import datetime as dt
import html
import re
from functools import cache

import pytest
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from sqlalchemy import select

from hrd_reports.i18n import SUPPORTED_LOCALES
from hrd_reports.models import Partner, Role
from hrd_reports.resources import resource_dir
from hrd_reports.services import accounts
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.wiring import build_runtime
from tests.dashboard_support import Clock, StaffBrowser, enrol
from tests.helpers import Desk, Person, hidden_value, report_content
from tests.partner_keys import as_bytes, consented_report, openpgp_partner

TRANSLATED = [code for code in SUPPORTED_LOCALES if code != "en"]
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[a-z]")
# Punctuation around a message's pieces, typographic quotes included.
EDGES = " .,:;!?()\"'\u201c\u201d\u2018\u2019\u2014-"
# What people read besides the text: labels for screen readers, placeholders, titles, and
# the sentences scripts show (data-msg-*).
READ_ATTRIBUTES = re.compile(
    r'\s(?:aria-label|placeholder|title|alt|data-msg-[a-z-]+)="([^"]*)"', re.IGNORECASE
)


@cache
def _english_fragments(code: str) -> tuple[str, ...]:
    """The English pieces of each translated message: the message split at its placeholders,
    with pieces too short to tell apart from a name or a code left out, and pieces the
    translation keeps as they are (names of programs, "JSON") left out too."""
    with (resource_dir("locale") / code / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalogue = read_po(source, locale=code)
    fragments: set[str] = set()
    for message in catalogue:
        if not message.id:
            continue
        english = message.id if isinstance(message.id, tuple) else (message.id,)
        translated = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in english:
            for part in PLACEHOLDER.split(text):
                piece = part.strip(EDGES)
                if len(re.findall(r"[A-Za-z]", piece)) < 4:
                    continue
                if any(piece in form for form in translated):
                    continue
                fragments.add(piece)
    return tuple(sorted(fragments, key=len, reverse=True))


def _read_by_people(page: str) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    attributes = " | ".join(READ_ATTRIBUTES.findall(body))
    text = re.sub(r"<[^>]+>", " | ", body)
    return html.unescape(" ".join(f"{text} | {attributes}".split()))


def untranslated(page: str, code: str) -> list[str]:
    read = _read_by_people(page)
    return [
        fragment
        for fragment in _english_fragments(code)
        if re.search(rf"(?<![A-Za-z]){re.escape(fragment)}(?![A-Za-z])", read)
    ]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # A desk with a public address: its pages offer security keys (the test client's own
    # address, so that its cookies go back over plain http).
    return Settings(**{**settings.model_dump(), "public_url": "http://testserver"})


@pytest.fixture
def pages(client: TestClient, desk: Desk, admin: Person, fake_clock: Clock) -> dict[str, object]:
    """A desk at work: a report with a reply, an admin signed in, an invitation waiting."""
    submitted = desk.submit(report_content("CANARY-every-page"))
    desk.reply(submitted.report_id, "CANARY-reply", by=admin)
    with desk.session() as session:
        invitation = accounts.invite(
            session,
            name="newcomer",
            role=Role.CASE_WORKER,
            actor=admin.name,
            valid_for=dt.timedelta(hours=1),
            secrets=desk.secrets,
        )
        session.commit()
    staff = StaffBrowser(client.app, enrol(desk, admin, Role.ADMIN), fake_clock)  # type: ignore[arg-type]
    # A partner, and a report referred to it: the partners page, and a report's referral
    # section with its form, its fields and a referral made.
    staff.post("/dashboard/partners", name="Legal Aid", key=openpgp_partner().public_key)
    referred = desk.submit(as_bytes(consented_report("CANARY-every-page", share="anonymised")))
    with desk.session() as session:
        partner = session.execute(select(Partner.public_id)).scalar_one()
    response = staff.client.post(
        f"/dashboard/reports/{referred.report_id}/referrals",
        data={"partner": str(partner), "tell_reporter": "yes", "csrf_token": staff.csrf},
    )
    assert response.status_code == 200
    published = staff.client.post(
        "/dashboard/stats/snapshots",
        data={"title": "CANARY-every-page", "csrf_token": staff.csrf},
        follow_redirects=False,
    )
    assert published.status_code == 303
    snapshot = published.headers["location"].split("?", 1)[0].rsplit("/", 1)[1]
    return {
        "submitted": submitted,
        "invitation": invitation,
        "admin": staff,
        "referred": referred,
        "snapshot": snapshot,
    }


REPORTER_PAGES = ["/", "/report", "/inbox", "/report/done", "/no-such-page"]
DASHBOARD_PAGES = [
    "/dashboard/today",
    "/dashboard/reports",
    "/dashboard/reports/{report}",
    "/dashboard/reports/{report}/case-file",
    "/dashboard/reports/{report}/case-file.json",
    "/dashboard/reports.csv",
    "/dashboard/users",
    "/dashboard/stats",
    "/dashboard/stats?received_from=2026-01-01&received_to=2026-12-31&governorate=erbil",
    "/dashboard/stats?received_from=2026-02-30",
    "/dashboard/stats/snapshots",
    "/dashboard/stats/snapshots/{snapshot}",
    "/dashboard/stats/snapshots/{snapshot}?done=published",
    "/dashboard/stages",
    "/dashboard/partners",
    "/dashboard/audit",
    "/dashboard/notifications",
    "/dashboard/password",
    "/dashboard/sessions",
    "/dashboard/welcome",
    "/dashboard/no-such-page",
]


def _reporter_pages(client: TestClient, code: str, receipt: str) -> dict[str, str]:
    anonymous = TestClient(client.app)
    shown = {path: anonymous.get(f"{path}?lang={code}").text for path in REPORTER_PAGES}
    form = anonymous.get(f"/report?lang={code}").text
    shown["report sent without JavaScript"] = anonymous.post(
        f"/report?lang={code}",
        data={
            "no_script": "yes",
            "form_token": hidden_value(form, "form_token"),
            "incident_type": "death_threat",
            "narrative": "CANARY-every-page-nojs",
        },
    ).text
    shown["the form, refused"] = anonymous.post(
        f"/report?lang={code}",
        data={"no_script": "yes", "form_token": hidden_value(form, "form_token")},
    ).text
    shown["inbox opened"] = anonymous.post(
        f"/inbox?lang={code}", data={"action": "read", "receipt": receipt, "no_script": "yes"}
    ).text
    shown["inbox, receipt mistyped"] = anonymous.post(
        f"/inbox?lang={code}", data={"action": "read", "receipt": "1234", "no_script": "yes"}
    ).text
    return shown


@pytest.mark.parametrize("code", TRANSLATED)
def test_no_reporter_page_is_left_in_english(
    client: TestClient, pages: dict[str, object], code: str
) -> None:
    receipt = pages["submitted"].receipt  # type: ignore[attr-defined]
    found = {
        name: untranslated(page, code)
        for name, page in _reporter_pages(client, code, receipt).items()
    }
    referred = pages["referred"].receipt  # type: ignore[attr-defined]
    inbox = TestClient(client.app).post(
        f"/inbox?lang={code}", data={"action": "read", "receipt": referred, "no_script": "yes"}
    )
    assert 'data-testid="inbox-stage"' in inbox.text
    found["inbox of a referred report"] = untranslated(inbox.text, code)
    assert {name: left for name, left in found.items() if left} == {}
    assert all(
        f'<html lang="{code}"' in page for page in _reporter_pages(client, code, receipt).values()
    )


@pytest.mark.parametrize("code", TRANSLATED)
def test_no_dashboard_page_is_left_in_english(
    client: TestClient, pages: dict[str, object], code: str
) -> None:
    admin: StaffBrowser = pages["admin"]  # type: ignore[assignment]
    report = pages["submitted"].report_id  # type: ignore[attr-defined]
    shown = {
        path: admin.client.get(
            path.format(report=report, snapshot=pages["snapshot"])
            + ("&" if "?" in path else "?")
            + f"lang={code}"
        ).text
        for path in DASHBOARD_PAGES
    }
    referred = pages["referred"].report_id  # type: ignore[attr-defined]
    shown["a referred report"] = admin.client.get(f"/dashboard/reports/{referred}?lang={code}").text
    shown["a key refused"] = admin.client.post(
        f"/dashboard/partners?lang={code}",
        data={"name": "Org", "key": "age1pq1" + "q" * 60, "csrf_token": admin.csrf},
    ).text
    shown["a referral refused"] = admin.client.post(
        f"/dashboard/reports/{report}/referrals?lang={code}",
        data={"partner": "", "csrf_token": admin.csrf},
    ).text
    exported = f"/dashboard/reports/{report}/case-file?lang={code}"
    shown["case file"] = admin.client.post(
        exported, data={"csrf_token": admin.csrf, "confirm": "yes"}
    ).text
    shown["case file, box not ticked"] = admin.client.post(
        exported, data={"csrf_token": admin.csrf}
    ).text
    assert 'data-testid="exported"' in shown["case file"]
    assert 'data-testid="export-form"' in shown["/dashboard/reports.csv"]
    anonymous = TestClient(client.app)
    shown["sign-in"] = anonymous.get(f"/dashboard/login?lang={code}").text
    shown["invitation"] = anonymous.get(
        f"/dashboard/invitation/{pages['invitation']}?lang={code}"
    ).text
    found = {name: untranslated(page, code) for name, page in shown.items()}
    assert {name: left for name, left in found.items() if left} == {}
    assert all(f'<html lang="{code}"' in page for page in shown.values())


@pytest.mark.parametrize("code", TRANSLATED)
def test_no_security_key_page_is_left_in_english(
    client: TestClient,
    pages: dict[str, object],
    settings: Settings,
    desk: Desk,
    admin: Person,
    fake_clock: Clock,
    code: str,
) -> None:
    admin_browser: StaffBrowser = pages["admin"]  # type: ignore[assignment]
    shown = {
        "add a key": admin_browser.client.post(
            f"/dashboard/security-keys/new?lang={code}", data={"csrf_token": admin_browser.csrf}
        ).text
    }
    anonymous = TestClient(client.app)
    form = anonymous.get(f"/dashboard/login?lang={code}").text
    shown["the key step of a sign-in"] = anonymous.post(
        f"/dashboard/login?lang={code}",
        data={
            "name": admin.name,
            "password": admin.password,
            "form_token": hidden_value(form, "form_token"),
        },
    ).text
    shown["the key step, refused"] = anonymous.post(
        f"/dashboard/login/security-key?lang={code}",
        data={"form_token": hidden_value(shown["the key step of a sign-in"], "form_token")},
    ).text
    # Where the desk requires a key of everyone: a person without one registers it at once.
    required = Settings(**{**settings.model_dump(), "require_webauthn_for": "all"})
    staff = enrol(desk, desk.add("erin", Role.AUDITOR), Role.AUDITOR)
    required_runtime = build_runtime(required, migrate=False)
    try:
        enrolling = TestClient(create_app(required, runtime=required_runtime))
        fake_clock.advance(30)
        shown["registering a required key"] = enrolling.post(
            f"/dashboard/login?lang={code}",
            data={
                "name": staff.person.name,
                "password": staff.person.password,
                "code": staff.code(fake_clock.now),
                "form_token": hidden_value(enrolling.get("/dashboard/login").text, "form_token"),
            },
        ).text
    finally:
        required_runtime.close()
    for page in ("add a key", "the key step of a sign-in", "registering a required key"):
        assert "security-key-form" in shown[page], page
    found = {name: untranslated(page, code) for name, page in shown.items()}
    assert {name: left for name, left in found.items() if left} == {}


def _title(page: str) -> str:
    found = re.search(r"<title>(.*?)</title>", page, re.S)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize("code", SUPPORTED_LOCALES)
def test_every_page_title_is_words_only(
    client: TestClient, pages: dict[str, object], code: str
) -> None:
    # A tab's title is what a browser's history keeps: words, never a page's markup.
    admin: StaffBrowser = pages["admin"]  # type: ignore[assignment]
    report = pages["submitted"].report_id  # type: ignore[attr-defined]
    shown = [
        admin.client.get(
            path.format(report=report, snapshot=pages["snapshot"])
            + ("&" if "?" in path else "?")
            + f"lang={code}"
        ).text
        for path in DASHBOARD_PAGES
    ]
    receipt = pages["submitted"].receipt  # type: ignore[attr-defined]
    shown += list(_reporter_pages(client, code, receipt).values())
    assert [title for title in map(_title, shown) if "<" in title or not title.strip()] == []


def test_the_search_finds_english_left_on_a_page() -> None:
    # The check itself: an English sentence of the catalogue, on a page, is found.
    english_page = '<p>Quick exit</p><input placeholder="Your inbox">'
    assert {"Quick exit", "Your inbox"} <= set(untranslated(english_page, "ar"))


def test_an_english_page_is_found_wholly_untranslated(client: TestClient) -> None:
    # The pages searched are the real ones: in English, their sentences are all found.
    english = client.get("/report?lang=en").text
    assert len(untranslated(english, "kmr")) > 40
