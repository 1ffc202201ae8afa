"""The statistics in a real browser: on a 360 px phone in every language, each chart drawn as
inline SVG under the page's Content Security Policy (no script, nothing from elsewhere),
mirrored right to left, with its table beside it; and a coordinator publishing a snapshot
through the form, which an auditor then reads and downloads."""

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page

from hrd_reports.i18n import SUPPORTED_LOCALES
from hrd_reports.models import Role
from tests.browser.conftest import LiveServer
from tests.browser.support import PAGE_TIMEOUT_MS
from tests.browser.test_dashboard_layout import PHONE, signed_in
from tests.dashboard_support import Clock, Staff, enrol, install_clock
from tests.helpers import Desk, Person

pytestmark = pytest.mark.browser

NewContext = Callable[..., BrowserContext]

# Each chart: its box, the accessible name its role="img" gets from aria-labelledby, and the
# horizontal extent of its first label and first bar, in CSS pixels.
CHARTS = """() => [...document.querySelectorAll("svg.chart")].map((svg) => {
  const box = (el) => {
    const r = el.getBoundingClientRect(); return {left: r.left, right: r.right};
  };
  const title = document.getElementById(svg.getAttribute("aria-labelledby"));
  return {
    role: svg.getAttribute("role"),
    name: title ? title.textContent : null,
    svg: box(svg),
    label: box(svg.querySelector("text.label")),
    bar: svg.querySelector("rect.bar") ? box(svg.querySelector("rect.bar")) : null,
    scripts: svg.querySelectorAll("script, foreignObject, [href], [style]").length,
  };
})"""


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return install_clock(monkeypatch)


@pytest.fixture
def cora(desk: Desk, admin: Person, fake_clock: Clock) -> Staff:
    return enrol(desk, desk.add_vetted("cora", Role.COORDINATOR, by=admin), Role.COORDINATOR)


def reports_from_governorates(desk: Desk) -> None:
    for governorate, count in (("sulaymaniyah", 9), ("nineveh", 6), ("halabja", 2)):
        for n in range(count):
            document = {
                "incident_types": ["smear_campaign"],
                "narrative": f"counted {n}",
                "location": {"governorate": governorate},
                "target": {"sector": "womens_rights"},
                "perpetrator": {"types": ["krg_security"]},
            }
            desk.submit(json.dumps(document).encode("utf-8"))


def _charts(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate(CHARTS)
    return found


@pytest.mark.parametrize("lang", SUPPORTED_LOCALES)
def test_statistics_fit_a_360_px_phone_with_charts_mirrored_right_to_left(
    new_context: NewContext,
    live_server: LiveServer,
    desk: Desk,
    cora: Staff,
    fake_clock: Clock,
    lang: str,
) -> None:
    reports_from_governorates(desk)
    page, recorder = signed_in(new_context, live_server, cora, fake_clock, viewport=PHONE)

    page.goto(live_server.url(f"/dashboard/stats?lang={lang}"))

    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    rtl = page.evaluate("() => document.documentElement.dir") == "rtl"
    charts = _charts(page)
    assert len(charts) >= 8
    for chart in charts:
        assert chart["role"] == "img"
        assert chart["name"], chart
        assert chart["scripts"] == 0
        assert chart["svg"]["right"] <= PHONE["width"]
        # Labels and bars start at the edge the language reads from.
        edge = "right" if rtl else "left"
        assert abs(chart["label"][edge] - chart["svg"][edge]) < 4, chart
        if chart["bar"] is not None:
            assert abs(chart["bar"][edge] - chart["svg"][edge]) < 4, chart
    # Halabja's two reports are fewer than five: no bar, in the chart or in its table.
    governorates = page.get_by_test_id("figure-governorates")
    assert governorates.locator("tr[data-key=halabja] td").inner_text() in {"<5", "<\u0665"}
    assert governorates.locator("tr[data-key=nineveh] td").inner_text() == "—"
    # The page's policy forbids inline script and style: nothing was refused.
    assert recorder.console_errors == []
    assert recorder.page_errors == []


def test_a_coordinator_publishes_through_the_form_and_an_auditor_downloads_it(
    new_context: NewContext,
    live_server: LiveServer,
    desk: Desk,
    cora: Staff,
    fake_clock: Clock,
    tmp_path: Path,
) -> None:
    reports_from_governorates(desk)
    page, _ = signed_in(new_context, live_server, cora, fake_clock, viewport=PHONE)
    page.goto(live_server.url("/dashboard/stats"))
    page.select_option("#governorate", "sulaymaniyah")
    with page.expect_navigation():
        page.get_by_role("button", name="Filter").click()
    assert page.get_by_test_id("reports-count").inner_text() == "9"

    page.fill("#title", "Sulaymaniyah, for the network")
    with page.expect_navigation():
        page.get_by_test_id("publish").click()

    assert re.search(r"/dashboard/stats/snapshots/[0-9a-f-]{36}\?", page.url), page.url
    assert page.get_by_test_id("done").is_visible()
    assert page.get_by_role("heading", level=1).inner_text() == "Sulaymaniyah, for the network"
    snapshot = page.url.split("?", 1)[0]

    auditor = enrol(desk, desk.add("aziz", Role.AUDITOR), Role.AUDITOR)
    context = new_context(viewport=PHONE, accept_downloads=True)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    reader = context.new_page()
    fake_clock.advance(30)
    reader.goto(live_server.url("/dashboard/login"))
    reader.fill("#name", "aziz")
    reader.fill("#password", auditor.person.password)
    reader.fill("#code", auditor.code(fake_clock.now))
    reader.get_by_role("button", name="Sign in").click()
    reader.wait_for_load_state()
    reader.get_by_role("link", name="Statistics").click()
    reader.get_by_role("link", name=re.compile(r"\d{4}")).first.click()
    assert reader.url.split("?", 1)[0] == snapshot
    with reader.expect_download() as download:
        reader.get_by_test_id("snapshot-csv").click()
    saved = tmp_path / "snapshot.csv"
    download.value.save_as(saved)
    text = saved.read_bytes()
    assert text.startswith(b"\xef\xbb\xbf")
    assert b"governorates,sulaymaniyah,Sulaymaniyah,9" in text
