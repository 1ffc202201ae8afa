"""The reporter pages as the server sends them, for what a browser keeps and what a screen
reader is told: neutral titles from HRD_DESK_NAME, and the error summary of a form posted
without JavaScript."""

import re
from html import unescape
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from hrd_reports.i18n import locale
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.web.pages import DEFAULT_DESK_NAME
from hrd_reports.wiring import Runtime
from tests.helpers import Desk, hidden_value

NEUTRAL_NAME = "Community help line"
# What a title must not say, in each language: the English words, and the Arabic stems of
# "threat" (تهديد) and "report" (بلاغ as in الإبلاغ and بلاغك, تقرير) that the catalogue uses.
GIVEAWAYS = {"en": ("threat", "report"), "ar": ("تهديد", "بلاغ", "تقرير", "threat", "report")}
FORM = {"incident_type": ["surveillance"], "narrative": ["CANARY-titles they waited outside"]}


class _Elements(HTMLParser):
    """Every element's attributes by id, and the page's title."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str | None]] = {}
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.by_id[str(attributes["id"])] = {"tag": tag, **attributes}
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def _parsed(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    return parser


def _every_reporter_page(client: TestClient, lang: str) -> dict[str, str]:
    """Each reporter page a browser can show, by what it is: its HTML."""
    pages = {
        path: client.get(f"{path}?lang={lang}").text
        for path in ("/", "/report", "/report/done", "/inbox", "/no-such-page")
    }
    form = client.get(f"/report?lang={lang}").text
    token = hidden_value(form, "form_token")
    fields = {"no_script": ["yes"], "form_token": [token]}
    pages["refused form"] = client.post(f"/report?lang={lang}", data=fields).text  # type: ignore[arg-type]
    sent = client.post(f"/report?lang={lang}", data={**fields, **FORM})  # type: ignore[arg-type]
    assert sent.status_code == 200
    pages["receipt"] = sent.text
    again = client.post(f"/report?lang={lang}", data={**fields, **FORM})  # type: ignore[arg-type]
    assert again.status_code == 409
    pages["already sent"] = again.text
    receipt = re.search(r'data-testid="receipt"[^>]*>([\d ]+)<', sent.text)
    assert receipt is not None
    inbox = {"action": "read", "no_script": "yes"}
    pages["inbox opened"] = client.post(
        f"/inbox?lang={lang}", data={**inbox, "receipt": receipt.group(1)}
    ).text
    pages["inbox refused"] = client.post(
        f"/inbox?lang={lang}", data={**inbox, "receipt": "1234"}
    ).text
    return pages


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_reporter_page_titles_with_a_neutral_desk_name_say_neither_threat_nor_report(
    settings: Settings, runtime: Runtime, desk: Desk, lang: str
) -> None:
    named = settings.model_copy(update={"desk_name": NEUTRAL_NAME})
    client = TestClient(create_app(named, runtime=runtime))

    titles = {
        page: unescape(_parsed(html).title)
        for page, html in _every_reporter_page(client, lang).items()
    }

    assert len(titles) == 10
    for page, title in titles.items():
        assert title.endswith(NEUTRAL_NAME), (page, title)
        assert not any(word in title.lower() for word in GIVEAWAYS[lang]), (page, title)
    # The start page's heading is the desk's name too.
    assert f"<h1>{NEUTRAL_NAME}</h1>" in client.get(f"/?lang={lang}").text


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_reporter_page_titles_without_a_desk_name_use_the_translated_default(
    settings: Settings, runtime: Runtime, desk: Desk, lang: str
) -> None:
    client = TestClient(create_app(settings, runtime=runtime))
    default = locale(lang).translations.gettext(DEFAULT_DESK_NAME)

    for page, html in _every_reporter_page(client, lang).items():
        title = unescape(_parsed(html).title)
        assert title.endswith(default), (page, title)
        assert not any(word in title.lower() for word in GIVEAWAYS[lang]), (page, title)


def test_report_form_refused_without_javascript_has_a_focused_summary_linked_to_each_field(
    settings: Settings, runtime: Runtime, desk: Desk
) -> None:
    client = TestClient(create_app(settings, runtime=runtime))
    token = hidden_value(client.get("/report").text, "form_token")

    response = client.post(
        "/report",
        data={"no_script": "yes", "form_token": token, "start_date": "not a date"},
    )

    assert response.status_code == 400
    page = _parsed(response.text)
    summary = page.by_id["error-summary"]
    # autofocus puts the focus on it as the page opens, with no script; tabindex lets it
    # take the focus at all.
    assert "autofocus" in summary
    assert summary["tabindex"] == "-1"
    assert "hidden" not in summary
    links = re.findall(r'<li><a href="#([a-z_]+)">', response.text)
    assert links == ["incident_type", "narrative", "start_date"]
    for field in links:
        element = page.by_id[field]
        assert element["tag"] in ("input", "textarea"), field
        assert element["aria-invalid"] == "true", field
        message = page.by_id[str(element["aria-describedby"])]
        assert message["tag"] == "p", field
    # No other page of the form takes the focus or says it has problems.
    assert response.text.count("autofocus") == 1
    assert "autofocus" not in client.get("/report").text
