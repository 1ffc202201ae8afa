"""Languages as their readers expect: the first page in the browser's language (Kurdish
included), a switch that names each language in itself and keeps the choice on every link,
form and redirect without a cookie, digits as the language writes them, and a dashboard in
the language each staff member chose."""

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hrd_reports.crypto.receipts import normalise_receipt
from hrd_reports.i18n import LANGUAGE_NAMES, SUPPORTED_LOCALES, locale, negotiate
from hrd_reports.models import AuditEvent, ReporterStage, Role, User
from hrd_reports.services import clock
from hrd_reports.web.labels import STAGE_TEXTS
from hrd_reports.web.pages import day_text
from tests.dashboard_support import Clock, Staff, StaffBrowser, enrol
from tests.helpers import Desk, Person, hidden_value, query_body, report_content

REPORTER_PAGES = ["/", "/report", "/inbox", "/report/done"]
ARABIC_INDIC = "٠١٢٣٤٥٦٧٨٩"


@pytest.fixture
def cora(client: TestClient, desk: Desk, admin: Person, fake_clock: Clock) -> StaffBrowser:
    staff: Staff = enrol(
        desk, desk.add_vetted("cora", Role.COORDINATOR, by=admin), Role.COORDINATOR
    )
    return StaffBrowser(client.app, staff, fake_clock)  # type: ignore[arg-type]


def _html_language(page: str) -> tuple[str, str]:
    found = re.search(r'<html lang="([a-z]+)" dir="(ltr|rtl)"', page)
    assert found is not None
    return found.group(1), found.group(2)


@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [
        ("ckb-IQ,ckb;q=0.9,en;q=0.5", ("ckb", "rtl")),
        ("ku-Arab-IQ", ("ckb", "rtl")),
        ("ku", ("kmr", "ltr")),
        ("kmr-TR,en;q=0.1", ("kmr", "ltr")),
        ("ar-IQ,ar;q=0.9,en;q=0.5", ("ar", "rtl")),
        ("en;q=0.4,ckb;q=0.8", ("ckb", "rtl")),
        ("fr-FR,de;q=0.5", ("en", "ltr")),
        ("ckb;q=0,ar;q=nonsense,;;,", ("en", "ltr")),
    ],
)
def test_the_first_page_follows_the_browsers_language(
    client: TestClient, accept_language: str, expected: tuple[str, str]
) -> None:
    page = client.get("/", headers={"accept-language": accept_language})
    assert page.status_code == 200
    assert _html_language(page.text) == expected


def test_an_asked_language_wins_over_the_browsers(client: TestClient) -> None:
    page = client.get("/report?lang=kmr", headers={"accept-language": "ckb,ar;q=0.5"})
    assert _html_language(page.text) == ("kmr", "ltr")
    # A language the desk does not offer is not a choice: the browser's is used.
    page = client.get("/report?lang=fr", headers={"accept-language": "ckb"})
    assert _html_language(page.text) == ("ckb", "rtl")


def test_a_hostile_accept_language_is_read_without_an_error() -> None:
    assert negotiate("") is None
    assert negotiate("x" * 10_000 + "," * 10_000) is None
    assert negotiate("ckb;Q=0.5, en;q=0.4") == "ckb"
    assert negotiate("ar;q=nan, ckb;q=inf, kmr;q=-1, en;q=1e400") is None


@pytest.mark.parametrize("code", SUPPORTED_LOCALES)
@pytest.mark.parametrize("path", REPORTER_PAGES)
def test_every_reporter_page_offers_each_language_named_in_itself(
    client: TestClient, path: str, code: str
) -> None:
    response = client.get(f"{path}?lang={code}")
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    switch = re.search(r'<nav class="languages"[^>]*>(.*?)</nav>', response.text, re.S)
    assert switch is not None
    links = re.findall(
        r'<a href="([^"]+)" lang="([a-z]+)" hreflang="[a-z]+" dir="(ltr|rtl)"[^>]*>([^<]+)</a>',
        switch.group(1),
    )
    assert [(href, lang, name) for href, lang, _, name in links] == [
        (f"{path}?lang={other}", other, LANGUAGE_NAMES[other]) for other in SUPPORTED_LOCALES
    ]
    assert {lang: direction for _, lang, direction, _ in links} == {
        "en": "ltr",
        "ar": "rtl",
        "ckb": "rtl",
        "kmr": "ltr",
    }


@pytest.mark.parametrize("code", ["ckb", "kmr"])
@pytest.mark.parametrize("path", REPORTER_PAGES)
def test_every_link_and_form_of_a_reporter_page_keeps_its_language(
    client: TestClient, path: str, code: str
) -> None:
    page = client.get(f"{path}?lang={code}").text
    assert _html_language(page)[0] == code
    without_switch = re.sub(r'<nav class="languages".*?</nav>', "", page, flags=re.S)
    targets = re.findall(r'(?:href|action)="(/[^"]*)"', without_switch)
    own = [t for t in targets if not t.startswith("/static/") and not t.startswith("#")]
    assert own, "a reporter page links to the desk's other pages"
    assert [t for t in own if not t.endswith(f"?lang={code}")] == []


def test_a_report_sent_in_sorani_shows_its_receipt_in_the_pages_digits_and_any_digits_open_it(
    client: TestClient,
) -> None:
    form = client.get("/report?lang=ckb").text
    sent = client.post(
        "/report?lang=ckb",
        data={
            "no_script": "yes",
            "form_token": hidden_value(form, "form_token"),
            "incident_type": "death_threat",
            "narrative": "CANARY-sorani they waited outside",
        },
    )
    assert sent.status_code == 200
    assert _html_language(sent.text) == ("ckb", "rtl")
    shown = re.search(r'data-testid="receipt"[^>]*>([^<]+)<', sent.text)
    assert shown is not None
    receipt = shown.group(1)
    assert set(receipt) <= set(ARABIC_INDIC + " ")
    # Beside it, the same receipt in the digits any keyboard can type.
    latin = re.search(r'data-testid="receipt-latin"[^>]*>([^<]+)<', sent.text)
    assert latin is not None
    assert normalise_receipt(latin.group(1)) == normalise_receipt(receipt)
    assert set(latin.group(1)) <= set("0123456789 ")
    # Typed back as shown, or in the digits of an English keyboard, the receipt opens the inbox.
    for typed in (receipt, normalise_receipt(receipt)):
        inbox = client.post(
            "/inbox?lang=kmr", data={"action": "read", "receipt": typed, "no_script": "yes"}
        )
        assert inbox.status_code == 200
        assert _html_language(inbox.text) == ("kmr", "ltr")
        assert 'data-testid="inbox-problem"' not in inbox.text
        view = re.search(r'<section id="inbox-view"[^>]*>', inbox.text)
        assert view is not None
        assert "hidden" not in view.group(0)
        assert (
            locale("kmr").translations.gettext(STAGE_TEXTS[ReporterStage.RECEIVED.value])
            in inbox.text
        )


def test_a_staff_member_chooses_the_language_of_their_dashboard(
    cora: StaffBrowser, desk: Desk
) -> None:
    assert _html_language(cora.page("/dashboard/reports?lang=en")) == ("en", "ltr")
    account = cora.page("/dashboard/password")
    assert 'action="/dashboard/language?lang=en"' in account
    cora.post("/dashboard/language?lang=en", language="ckb")
    # Chosen once, it holds on every page, whatever the address or the browser says.
    for path in ("/dashboard/reports", "/dashboard/reports?lang=en", "/dashboard/password"):
        response = cora.client.get(path, headers={"accept-language": "en"})
        assert _html_language(response.text) == ("ckb", "rtl")
    cora.post("/dashboard/language?lang=ckb", language="kmr")
    assert _html_language(cora.page("/dashboard")) == ("kmr", "ltr")
    cora.post("/dashboard/language?lang=kmr", language="")
    followed = cora.client.get("/dashboard/reports", headers={"accept-language": "ar"})
    assert _html_language(followed.text) == ("ar", "rtl")
    with desk.session() as session:
        assert session.execute(select(User.language).where(User.name == "cora")).scalar() is None
        chosen = session.execute(
            select(AuditEvent.detail)
            .where(AuditEvent.action == "user.language")
            .order_by(AuditEvent.seq)
        ).scalars()
        assert [json.loads(detail)["language"] for detail in chosen] == ["ckb", "kmr", "browser"]


def test_a_language_the_desk_does_not_offer_is_refused_and_changes_nothing(
    cora: StaffBrowser, desk: Desk
) -> None:
    cora.post("/dashboard/language?lang=en", language="ckb")
    for asked in ("xx", "ckb'><s>"):
        cora.post("/dashboard/language?lang=en", expect=400, language=asked)
    # Longer than any language's code: refused as a form that is not valid.
    cora.post("/dashboard/language?lang=en", expect=422, language="e" * 17)
    with desk.session() as session:
        assert session.execute(select(User.language).where(User.name == "cora")).scalar() == "ckb"


def test_counts_and_days_are_written_in_the_digits_of_the_language(
    cora: StaffBrowser, desk: Desk
) -> None:
    first = desk.submit(report_content("CANARY-digits-1"))
    # Six: statistics show no count under five (HRD_STATS_MIN_CELL).
    for n in range(2, 7):
        desk.submit(report_content(f"CANARY-digits-{n}"))
    assert "<td>٦</td>" in cora.page("/dashboard/stats?lang=ckb")
    assert "<td>٦</td>" in cora.page("/dashboard/stats?lang=ar")
    assert "<td>6</td>" in cora.page("/dashboard/stats?lang=kmr")
    day = re.search(
        r"<h1>[^<]*<bdi>([^<]+)</bdi>", cora.page(f"/dashboard/reports/{first.report_id}?lang=en")
    )
    sorani = re.search(
        r"<h1>[^<]*<bdi>([^<]+)</bdi>", cora.page(f"/dashboard/reports/{first.report_id}?lang=ckb")
    )
    assert day is not None
    assert sorani is not None
    assert re.search(r"[0-9]", day.group(1))
    assert not re.search(r"[0-9]", sorani.group(1))
    assert re.search(f"[{ARABIC_INDIC}]", sorani.group(1))


def test_a_replys_day_is_written_as_the_language_does_with_and_without_javascript(
    client: TestClient, desk: Desk, admin: Person
) -> None:
    submitted = desk.submit(report_content("CANARY-days"))
    desk.reply(submitted.report_id, "CANARY-days-reply", by=admin)
    today = clock.utc_today()
    # Without JavaScript, the server's page.
    page = client.post(
        "/inbox?lang=ckb",
        data={"action": "read", "receipt": submitted.receipt, "no_script": "yes"},
    ).text
    assert f"<bdi>{day_text('ckb', today)}</bdi>" in page
    assert today.isoformat() not in page
    # With it, the answer the page builds the inbox from.
    answer = client.post(
        "/api/v1/inbox?lang=ckb", json=query_body(client, submitted.receipt)
    ).json()
    (message,) = answer["messages"]
    assert message["sent_on"] == today.isoformat()
    assert message["sent_on_text"] == day_text("ckb", today)
    assert not re.search(r"[0-9]", message["sent_on_text"])
