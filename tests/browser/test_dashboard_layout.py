"""The dashboard's layout in a real browser: on a 360 px phone nothing is wider than the
screen, each filter's label sits on its own field at every width, a report's page puts its
content beside the desk's work at desktop widths, and its short id can be copied."""

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page

from hrd_reports.crypto import totp
from hrd_reports.models import Role
from tests.browser.conftest import LiveServer
from tests.browser.support import PAGE_TIMEOUT_MS, Recorder
from tests.dashboard_support import Clock, Staff, enrol, install_clock
from tests.helpers import Desk, Person

pytestmark = pytest.mark.browser

NewContext = Callable[..., BrowserContext]
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return install_clock(monkeypatch)


@pytest.fixture
def cora(desk: Desk, admin: Person, fake_clock: Clock) -> Staff:
    return enrol(desk, desk.add_vetted("cora", Role.COORDINATOR, by=admin), Role.COORDINATOR)


def signed_in(
    new_context: NewContext,
    server: LiveServer,
    staff: Staff,
    fake_clock: Clock,
    *,
    viewport: dict[str, int],
    **options: Any,
) -> tuple[Page, Recorder]:
    context = new_context(viewport=viewport, **options)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    recorder = Recorder()
    recorder.attach(context)
    page = context.new_page()
    fake_clock.advance(totp.STEP_SECONDS)
    page.goto(server.url("/dashboard/login"))
    page.fill("#name", staff.person.name)
    page.fill("#password", staff.person.password)
    page.fill("#code", staff.code(fake_clock.now))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/dashboard/reports\b"))
    return page, recorder


def a_long_report(desk: Desk, narrative: str) -> str:
    """A report with every field filled, and words longer than any phone is wide (within the
    form's bounds: it follows the form, so every field is shown)."""
    unbroken = "x" * 200
    document = {
        "v": 1,
        "incident_types": ["death_threat", "surveillance", "arbitrary_arrest"],
        "start": {"date": "2026-05-02", "precision": "exact"},
        "in_danger_now": "yes",
        "location": {"governorate": "salah_al_din", "district": unbroken, "place_type": "home"},
        "target": {"who": "me", "sector": "journalist", "gender": "woman", "age_band": "30_44"},
        "perpetrator": {"types": ["pmf", "krg_security"], "identifiers": unbroken * 3},
        "narrative": f"{narrative} {unbroken * 3}",
        "needs": ["relocation", "digital_security"],
        "consent": {"share": "named", "publish": "no"},
    }
    return str(desk.submit(json.dumps(document).encode("utf-8")).report_id)


# The label of each field of the filters and where it is, next to its control's box. A label
# that wraps its control (a check box) holds it: nothing to measure.
LABELS_AND_CONTROLS = """() => [...document.querySelectorAll("form.filters label")].map((label) => {
  const control = label.htmlFor ? document.getElementById(label.htmlFor) : null;
  const box = (el) => { const r = el.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
  return {
    label: label.textContent.trim(),
    wraps: control === null || label.contains(control),
    labelBox: box(label),
    controlBox: control ? box(control) : null,
  };
})"""
# How far apart a label and its control may be and still read as one pair (the gap between
# the grid's cells is 1 rem).
NEAR_PX = 12


def _overlap(a_start: float, a_end: float, b_start: float, b_end: float) -> float:
    return min(a_end, b_end) - max(a_start, b_start)


def _sits_on_its_control(label: dict[str, float], control: dict[str, float]) -> bool:
    above = (
        0 <= control["top"] - label["bottom"] <= NEAR_PX
        and _overlap(label["left"], label["right"], control["left"], control["right"]) > 0
    )
    beside = _overlap(label["top"], label["bottom"], control["top"], control["bottom"]) > 0 and (
        0 <= control["left"] - label["right"] <= NEAR_PX
        or 0 <= label["left"] - control["right"] <= NEAR_PX
    )
    return above or beside


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360 px", "1280 px"])
@pytest.mark.parametrize("lang", ["en", "ar"])
def test_each_filter_label_sits_directly_on_its_own_control(
    new_context: NewContext,
    live_server: LiveServer,
    desk: Desk,
    cora: Staff,
    fake_clock: Clock,
    viewport: dict[str, int],
    lang: str,
) -> None:
    a_long_report(desk, "a report, so that the list has a table")
    page, _ = signed_in(new_context, live_server, cora, fake_clock, viewport=viewport)
    page.goto(live_server.url(f"/dashboard/reports?lang={lang}"))
    pairs = page.evaluate(LABELS_AND_CONTROLS)
    assert len(pairs) == 9
    astray = [
        pair["label"]
        for pair in pairs
        if not pair["wraps"] and not _sits_on_its_control(pair["labelBox"], pair["controlBox"])
    ]
    assert astray == [], json.dumps(pairs, indent=1, ensure_ascii=False)


def _overflow(page: Page) -> int:
    width: int = page.evaluate("() => document.documentElement.scrollWidth")
    return width


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_pages_fit_a_360_px_phone_without_scrolling_sideways(
    new_context: NewContext,
    live_server: LiveServer,
    desk: Desk,
    cora: Staff,
    fake_clock: Clock,
    lang: str,
) -> None:
    report_id = a_long_report(desk, "a long report for a small screen")
    desk.add("farid", Role.CASE_WORKER)
    page, recorder = signed_in(new_context, live_server, cora, fake_clock, viewport=PHONE)
    for path in ("/dashboard/reports", f"/dashboard/reports/{report_id}", "/dashboard/users"):
        page.goto(live_server.url(f"{path}?lang={lang}"))
        assert _overflow(page) <= PHONE["width"], path
    # The list is a pile of cards: one report's cells are stacked, each named by its column.
    page.goto(live_server.url(f"/dashboard/reports?lang={lang}"))
    cells = page.locator("tr[data-report-id] td")
    tops = [cells.nth(n).bounding_box()["y"] for n in range(cells.count())]  # type: ignore[index]
    assert tops == sorted(tops)
    assert len(set(tops)) == len(tops)
    assert recorder.page_errors == []


def test_report_page_puts_the_work_beside_the_content_at_desktop_width(
    new_context: NewContext, live_server: LiveServer, desk: Desk, cora: Staff, fake_clock: Clock
) -> None:
    report_id = a_long_report(desk, "a report read at a desk")
    page, _ = signed_in(new_context, live_server, cora, fake_clock, viewport=DESKTOP)
    page.goto(live_server.url(f"/dashboard/reports/{report_id}"))
    content = page.locator("#content").bounding_box()
    assert content is not None
    for part in ("#workflow", "#assignment", "#conversation"):
        box = page.locator(part).bounding_box()
        assert box is not None, part
        assert box["x"] >= content["x"] + content["width"], part
    assert _overflow(page) <= DESKTOP["width"]


def test_short_id_is_copied_by_its_button_and_selectable_without_script(
    new_context: NewContext, live_server: LiveServer, desk: Desk, cora: Staff, fake_clock: Clock
) -> None:
    report_id = a_long_report(desk, "a report whose id is passed on")
    short = report_id.replace("-", "")[:8]
    page, recorder = signed_in(
        new_context,
        live_server,
        cora,
        fake_clock,
        viewport=DESKTOP,
        permissions=["clipboard-read", "clipboard-write"],
    )
    page.goto(live_server.url(f"/dashboard/reports/{report_id}"))
    assert page.get_by_test_id("short-id").inner_text() == short
    page.get_by_test_id("copy-short-id").click()
    page.wait_for_function("() => document.querySelector('[data-copied]').textContent")
    assert page.locator(".short-id-line [role=status]").inner_text() == "Copied."
    assert page.evaluate("() => navigator.clipboard.readText()") == short
    assert recorder.page_errors == []
    assert recorder.console_errors == []

    fake_clock.advance(totp.STEP_SECONDS)
    without, _ = signed_in(
        new_context, live_server, cora, fake_clock, viewport=DESKTOP, java_script_enabled=False
    )
    without.goto(live_server.url(f"/dashboard/reports/{report_id}"))
    assert without.get_by_test_id("short-id").is_visible()
    assert not without.get_by_test_id("copy-short-id").is_visible()
    # One click selects the whole id (user-select: all), ready to copy by hand.
    without.get_by_test_id("short-id").click()
    assert without.evaluate("() => window.getSelection().toString()") == short


def test_note_added_without_javascript_lands_at_the_notes_with_a_confirmation(
    new_context: NewContext, live_server: LiveServer, desk: Desk, cora: Staff, fake_clock: Clock
) -> None:
    report_id = a_long_report(desk, "a report annotated without scripts")
    page, _ = signed_in(
        new_context, live_server, cora, fake_clock, viewport=PHONE, java_script_enabled=False
    )
    page.goto(live_server.url(f"/dashboard/reports/{report_id}"))
    page.fill("#note", "called the reporter's lawyer")
    with page.expect_navigation():
        page.get_by_role("button", name="Add the note").click()
    assert page.url.endswith("&done=note#notes"), page.url
    status = page.locator("#notes [role=status]")
    assert status.inner_text() == "Your note was added."
    # Scrolled to the notes, not left at the top of a long page.
    assert page.evaluate("() => window.scrollY") > 0
    assert status.is_visible()
