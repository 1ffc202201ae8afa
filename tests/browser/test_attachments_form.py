"""The file chooser on the report form, with JavaScript, in the page's language.

Each photo gets its own "keep the original" box, off by default; any other file a warning
that it may carry names and places; the desk's limits are checked before anything is sent.
"""

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import LiveServer
from tests.browser.support import Recorder

pytestmark = pytest.mark.browser

JPEG = bytes([0xFF, 0xD8, 0xFF, 0xE0]) + bytes(200)


def test_report_form_lists_files_with_a_keep_box_for_photos_only_in_arabic(
    page: Page, live_server: LiveServer, recorder: Recorder
) -> None:
    page.goto(live_server.url("/report?lang=ar"))
    assert page.locator("html").get_attribute("dir") == "rtl"
    # Without JavaScript the form-wide box; with it, one per photo.
    assert page.locator("input[name=keep_original]").is_hidden()
    page.set_input_files(
        "input[name=files]",
        [
            {"name": "صورة.jpg", "mimeType": "image/jpeg", "buffer": JPEG},
            {"name": "شهادة.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.7\n"},
        ],
    )
    files = page.locator("[data-testid=file]")
    files.nth(1).wait_for()
    assert files.count() == 2
    keep = page.locator("[data-testid=keep-original]")
    assert keep.count() == 1
    assert not keep.is_checked()
    photo, other = files.nth(0).text_content() or "", files.nth(1).text_content() or ""
    assert "صورة.jpg" in photo
    assert "أرسل الأصل" in photo
    assert "شهادة.pdf" in other
    assert "أسماء وأماكن" in other
    keep.check()
    assert "ستُرسل الصورة الأصلية" in (files.nth(0).text_content() or "")
    assert recorder.page_errors == []
    assert recorder.console_errors == []


def test_report_form_refuses_more_files_than_the_desk_takes_before_sending(
    page: Page, live_server: LiveServer, recorder: Recorder
) -> None:
    page.goto(live_server.url("/report"))
    page.evaluate("document.getElementById('report-form').dataset.maxFiles = '1'")
    page.check("input[name=incident_type][value=death_threat]")
    page.fill("textarea[name=narrative]", "A car followed me home.")
    two = [{"name": f"{n}.txt", "mimeType": "text/plain", "buffer": b"x"} for n in "ab"]
    page.set_input_files("input[name=files]", two)
    page.locator("[data-testid=file]").nth(1).wait_for()
    posts_before = len(recorder.posts())
    page.click("button[type=submit]")
    error = page.locator("#send-error")
    error.wait_for(state="visible")
    assert "at most 1 files" in (error.text_content() or "")
    assert len(recorder.posts()) == posts_before
