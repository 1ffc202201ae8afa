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

from hrd_reports.i18n import SUPPORTED_LOCALES
from hrd_reports.models import Role
from hrd_reports.resources import resource_dir
from hrd_reports.services import accounts
from tests.dashboard_support import Clock, StaffBrowser, enrol
from tests.helpers import Desk, Person, hidden_value, report_content

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
        "snapshot": snapshot,
    }


REPORTER_PAGES = ["/", "/report", "/inbox", "/report/done", "/no-such-page"]
DASHBOARD_PAGES = [
    "/dashboard/today",
    "/dashboard/reports",
    "/dashboard/reports/{report}",
    "/dashboard/users",
    "/dashboard/stats",
    "/dashboard/stats?received_from=2026-01-01&received_to=2026-12-31&governorate=erbil",
    "/dashboard/stats?received_from=2026-02-30",
    "/dashboard/stats/snapshots",
    "/dashboard/stats/snapshots/{snapshot}",
    "/dashboard/stats/snapshots/{snapshot}?done=published",
    "/dashboard/stages",
    "/dashboard/audit",
    "/dashboard/notifications",
    "/dashboard/password",
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
    anonymous = TestClient(client.app)
    shown["sign-in"] = anonymous.get(f"/dashboard/login?lang={code}").text
    shown["invitation"] = anonymous.get(
        f"/dashboard/invitation/{pages['invitation']}?lang={code}"
    ).text
    found = {name: untranslated(page, code) for name, page in shown.items()}
    assert {name: left for name, left in found.items() if left} == {}
    assert all(f'<html lang="{code}"' in page for page in shown.values())


def test_the_search_finds_english_left_on_a_page() -> None:
    # The check itself: an English sentence of the catalogue, on a page, is found.
    english_page = '<p>Quick exit</p><input placeholder="Your inbox">'
    assert {"Quick exit", "Your inbox"} <= set(untranslated(english_page, "ar"))


def test_an_english_page_is_found_wholly_untranslated(client: TestClient) -> None:
    # The pages searched are the real ones: in English, their sentences are all found.
    english = client.get("/report?lang=en").text
    assert len(untranslated(english, "kmr")) > 40
