"""Evidence files the whole way, in a real browser on the real server: a reporter on a phone
attaches files to the report form, the page encrypts them chunk by chunk and sends only
ciphertext, and the desk reads them back byte for byte, from the command line and from the
dashboard.

What leaves the browser is searched for the files' contents: a canary in every 64 KiB of a
20 MiB file, slices of its random bytes, and a photo's GPS position. A photo loses its
position on the way unless the reporter keeps the original; an upload whose connection drops
resumes; a case worker not assigned to the report cannot download its files; and the Arabic
page shows the files and their progress right to left.
"""

import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image
from playwright.sync_api import BrowserContext, Page, Route

from hrd_reports.i18n import locale
from hrd_reports.models import Role
from tests.browser.evidence_support import (
    CAMERA,
    CANARY,
    CHUNK_PUT,
    GPS_BYTES,
    MIB,
    PHONE,
    SENDING_TIMEOUT_MS,
    UPLOAD_POST,
    HeldChunk,
    choose,
    chunk_bytes_sent,
    download,
    evidence,
    files_of,
    gps_tags,
    photo_with_gps,
    plaintext_slices,
    send_and_wait_for_receipt,
    sent_bodies,
    staff_page,
    the_report,
    written,
)
from tests.browser.support import (
    PAGE_TIMEOUT_MS,
    Recorder,
    fill_report,
)
from tests.browser.test_dashboard import sign_in
from tests.dashboard_support import Clock, Staff, enrol, install_clock
from tests.helpers import Desk, Person
from tests.server import LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture
def context(new_context: Callable[..., BrowserContext]) -> BrowserContext:
    """The reporter's browser (the ``page`` fixture's context) is a phone's."""
    created = new_context(**PHONE)
    created.set_default_timeout(PAGE_TIMEOUT_MS)
    return created


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The services' clock, moved a step on for each staff sign-in (one-time codes)."""
    return install_clock(monkeypatch)


# --- 1 and 2: the whole way, with and without the photo's metadata -------------------------


def test_evidence_leaves_the_phone_only_encrypted_and_arrives_whole(
    page: Page,
    recorder: Recorder,
    live_server: LiveServer,
    admin: Person,
    cli_env: dict[str, str],
    tmp_path: Path,
) -> None:
    video = evidence(20 * MIB)
    photo = photo_with_gps()
    page.goto(live_server.url("/report"))
    fill_report(page, "They filmed the checkpoint; the video and a photo are attached.")
    choose(page, [written(tmp_path, "checkpoint.mp4", video), written(tmp_path, "car.jpg", photo)])
    assert not page.locator("[data-testid=keep-original]").is_checked()
    send_and_wait_for_receipt(page)
    # The files are not left on the page once the report is sent.
    assert page.eval_on_selector("input[name=files]", "(input) => input.files.length") == 0
    assert page.locator("[data-testid=file]").count() == 0

    # Every byte of every file went out encrypted: the video's 20 chunks of 1 MiB and the
    # photo's one of 4 KiB (padded), each with 28 bytes of nonce and tag; and no form post
    # (the no-script path, where the server sees the files).
    assert chunk_bytes_sent(recorder) >= 20 * (MIB + 28) + 4096 + 28
    assert [post.url for post in recorder.posts()] == [
        live_server.url("/api/v1/uploads"),
        live_server.url("/api/v1/uploads"),
        live_server.url("/api/v1/reports"),
    ]
    # Not the canary in any encoding, no camera name, and no raw slice of the video or of
    # the photo's position, in any URL, header or body.
    assert recorder.leaks({"canary": CANARY, "camera": CAMERA}) == []
    needles = [*plaintext_slices(video), GPS_BYTES, photo[:64], photo[-64:]]
    leaked = [
        f"{where}: slice {i}"
        for where, body in sent_bodies(recorder)
        for i, needle in enumerate(needles)
        if needle in body
    ]
    assert leaked == []

    report_id = the_report(cli_env, admin)
    assert download(cli_env, admin, report_id, 1) == video
    cleaned = download(cli_env, admin, report_id, 2)
    assert gps_tags(cleaned) == []
    assert CAMERA.encode() not in cleaned
    assert Image.open(io.BytesIO(cleaned)).size == (32, 24)
    first, second = files_of(cli_env, admin, report_id)
    assert (first["name"], first["size"], first["metadata"]) == (
        "checkpoint.mp4",
        len(video),
        "not-checked",
    )
    assert first["sha256"] == first["sha256_sent"] == hashlib.sha256(video).hexdigest()
    assert (second["name"], second["type"], second["metadata"]) == (
        "car.jpg",
        "image/jpeg",
        "removed",
    )
    # The desk is told which photo the reporter chose, and what it received.
    assert second["sha256"] == hashlib.sha256(photo).hexdigest()
    assert second["sha256_sent"] == hashlib.sha256(cleaned).hexdigest()
    assert recorder.page_errors == []
    assert recorder.console_errors == []


def test_evidence_photo_kept_as_original_arrives_with_its_position(
    page: Page,
    recorder: Recorder,
    live_server: LiveServer,
    admin: Person,
    cli_env: dict[str, str],
    tmp_path: Path,
) -> None:
    photo = photo_with_gps()
    page.goto(live_server.url("/report"))
    fill_report(page, "A photo of the car, sent as it was taken.")
    choose(page, [written(tmp_path, "car.jpg", photo)])
    page.check("[data-testid=keep-original]")
    send_and_wait_for_receipt(page)

    # Kept does not mean sent in the clear.
    assert GPS_BYTES not in b"".join(body for _, body in sent_bodies(recorder))
    assert recorder.leaks({"camera": CAMERA}) == []
    report_id = the_report(cli_env, admin)
    kept = download(cli_env, admin, report_id, 1)
    assert kept == photo
    assert gps_tags(kept) != []
    (file,) = files_of(cli_env, admin, report_id)
    assert file["metadata"] == "kept"
    assert file["sha256"] == file["sha256_sent"] == hashlib.sha256(photo).hexdigest()


# --- 3: a connection that drops --------------------------------------------------------------


@dataclass
class Cuts:
    """The connection under the page, cut where the test says.

    The first upload's creation reaches the server but its answer is lost; chunk 2 is lost on
    the way twice; chunk 4 reaches the server, and its answer is lost.
    """

    chunk_bodies: dict[int, list[bytes]] = field(default_factory=dict)
    creations: list[bytes] = field(default_factory=list)

    def install(self, page: Page) -> None:
        page.route(CHUNK_PUT, self._chunk)
        page.route(UPLOAD_POST, self._create)

    def _create(self, route: Route) -> None:
        self.creations.append(route.request.post_data_buffer or b"")
        if len(self.creations) == 1:
            self._answer_lost(route)
        else:
            route.continue_()

    def _chunk(self, route: Route) -> None:
        match = CHUNK_PUT.match(route.request.url)
        assert match is not None
        index = int(match.group(1))
        tries = self.chunk_bodies.setdefault(index, [])
        tries.append(route.request.post_data_buffer or b"")
        if index == 2 and len(tries) <= 2:
            route.abort("internetdisconnected")
        elif index == 4 and len(tries) == 1:
            self._answer_lost(route)
        else:
            route.continue_()

    @staticmethod
    def _answer_lost(route: Route) -> None:
        # Sent to the server by Playwright itself, which stores it; the page sees a reset.
        answer = route.fetch(max_redirects=0)
        assert answer.status in {200, 201}, answer.text()
        route.abort("connectionreset")


def test_evidence_upload_resumes_over_a_connection_that_drops(
    page: Page,
    recorder: Recorder,
    live_server: LiveServer,
    admin: Person,
    cli_env: dict[str, str],
    tmp_path: Path,
) -> None:
    video = evidence(6 * MIB)
    cuts = Cuts()
    cuts.install(page)
    page.goto(live_server.url("/report"))
    fill_report(page, "The connection dropped while I sent the video.")
    choose(page, [written(tmp_path, "raid.mp4", video)])
    send_and_wait_for_receipt(page)

    # The creation was asked again with the very same body (its proof of work not spent
    # twice), and answered as the upload that already exists.
    assert len(cuts.creations) == 2
    assert cuts.creations[0] == cuts.creations[1]
    creations = [r for r in recorder.responses if UPLOAD_POST.match(r.url)]
    assert [r.status for r in creations] == [200]
    # Chunk 2 was sent three times, the same bytes each time; chunk 4, stored though its
    # answer was lost, was not sent again; every other chunk once.
    assert sorted(cuts.chunk_bodies) == list(range(6))
    assert len(cuts.chunk_bodies[2]) == 3
    assert len(set(cuts.chunk_bodies[2])) == 1
    assert {i: len(bodies) for i, bodies in cuts.chunk_bodies.items() if i != 2} == dict.fromkeys(
        [0, 1, 3, 4, 5], 1
    )
    report_id = the_report(cli_env, admin)
    assert download(cli_env, admin, report_id, 1) == video
    assert recorder.page_errors == []


def test_evidence_report_whose_answer_was_lost_is_sent_again_with_its_receipt(
    page: Page,
    live_server: LiveServer,
    admin: Person,
    cli_env: dict[str, str],
    tmp_path: Path,
) -> None:
    statement = evidence(200_000)
    lost: list[bool] = []

    def lose_the_first_answer(route: Route) -> None:
        if lost:
            route.continue_()
            return
        route.fetch()  # the desk stores the report; its answer never reaches the phone
        lost.append(True)
        route.abort("connectionreset")

    page.route(re.compile(r".*/api/v1/reports$"), lose_the_first_answer)
    page.goto(live_server.url("/report"))
    fill_report(page, "My answer was lost on a bad connection.")
    choose(page, [written(tmp_path, "statement.txt", statement)])
    page.click("button[type=submit]")
    page.locator("#send-error").wait_for(state="visible", timeout=SENDING_TIMEOUT_MS)
    send_and_wait_for_receipt(page)
    # One report, with its file, under the receipt now on the screen.
    report_id = the_report(cli_env, admin)
    assert download(cli_env, admin, report_id, 1) == statement


# --- 4: the dashboard ------------------------------------------------------------------------


@pytest.fixture
def cora(desk: Desk, admin: Person, fake_clock: Clock) -> Staff:
    """A coordinator: vetted, so she holds the desk keys and reads every report."""
    return enrol(desk, desk.add_vetted("cora", Role.COORDINATOR, by=admin), Role.COORDINATOR)


@pytest.fixture
def wafa(desk: Desk, admin: Person, fake_clock: Clock) -> Staff:
    """A vetted case worker to whom no report is assigned."""
    return enrol(desk, desk.add_vetted("wafa", Role.CASE_WORKER, by=admin), Role.CASE_WORKER)


def test_evidence_in_the_dashboard_downloads_whole_and_previews_sandboxed(
    page: Page,
    new_context: Callable[..., BrowserContext],
    live_server: LiveServer,
    admin: Person,
    cli_env: dict[str, str],
    cora: Staff,
    wafa: Staff,
    fake_clock: Clock,
    tmp_path: Path,
) -> None:
    statement = evidence(300_000, head=b"%PDF-1.7\n")
    photo = photo_with_gps()
    page.goto(live_server.url("/report"))
    fill_report(page, "A signed statement and a photo of the car.")
    choose(
        page, [written(tmp_path, "statement.pdf", statement), written(tmp_path, "car.jpg", photo)]
    )
    send_and_wait_for_receipt(page)
    report_id = the_report(cli_env, admin)

    cora_page, cora_log = staff_page(new_context)
    sign_in(cora_page, live_server, cora, fake_clock)
    cora_page.goto(live_server.url(f"/dashboard/reports/{report_id}"))
    files = cora_page.locator("[data-testid=file]")
    assert files.count() == 2
    assert cora_page.get_by_test_id("file-name").all_text_contents() == ["statement.pdf", "car.jpg"]
    assert cora_page.get_by_test_id("file-type").all_text_contents() == [
        "application/pdf",
        "image/jpeg",
    ]
    choices = cora_page.get_by_test_id("file-metadata")
    assert [choices.nth(i).get_attribute("data-choice") for i in range(2)] == [
        "not-checked",
        "removed",
    ]
    assert "Removed before sending" in (choices.nth(1).text_content() or "")
    # Only the image can be previewed.
    assert files.nth(0).get_by_test_id("file-preview").count() == 0

    with cora_page.expect_download() as downloading:
        files.nth(0).get_by_test_id("file-download").click()
    downloaded = downloading.value
    assert downloaded.suggested_filename == "statement.pdf"
    assert Path(downloaded.path()).read_bytes() == statement
    download_path = f"/dashboard/reports/{report_id}/files/1"
    (sent,) = [r for r in cora_log.responses if urlsplit(r.url).path == download_path]
    assert sent.headers["content-type"] == "application/octet-stream"
    assert sent.headers["content-disposition"].startswith("attachment")
    assert "sandbox" in sent.headers["content-security-policy"]

    # The preview opens in a tab of its own, under a policy that lets nothing in it run.
    with cora_page.context.expect_page() as opening:
        files.nth(1).get_by_test_id("file-preview").click()
    preview = opening.value
    preview.wait_for_load_state()
    preview_path = f"/dashboard/reports/{report_id}/files/2/preview"
    (answer,) = [r for r in cora_log.responses if urlsplit(r.url).path == preview_path]
    assert answer.status == 200
    headers = answer.all_headers()
    policy = [directive.strip() for directive in headers["content-security-policy"].split(";")]
    assert "sandbox" in policy
    assert "default-src 'none'" in policy
    assert headers["content-type"] == "image/jpeg"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-disposition"].startswith("inline")
    assert gps_tags(answer.body()) == []
    assert cora_log.page_errors == []

    # A case worker to whom the report is not assigned: signed in, and refused its files.
    wafa_page, _ = staff_page(new_context)
    sign_in(wafa_page, live_server, wafa, fake_clock)
    for path in ("files/1", "files/2/preview"):
        refused = wafa_page.request.get(
            live_server.url(f"/dashboard/reports/{report_id}/{path}"), max_redirects=0
        )
        assert refused.status in {403, 404}, path
        assert statement[:4096] not in refused.body()
        assert "attachment" not in refused.headers.get("content-disposition", "")


# --- 5: Arabic, at phone width ---------------------------------------------------------------


def _arabic(message: str, **values: str) -> str:
    translated = locale("ar").translations.gettext(message)
    assert translated != message, f"no Arabic for {message!r}"
    return translated % values if values else translated


def _direction(page: Page, selector: str) -> str:
    direction: str = page.eval_on_selector(selector, "(el) => getComputedStyle(el).direction")
    return direction


def _starts_on_the_right(page: Page, selector: str, within: str) -> bool:
    box, outer = page.locator(selector).bounding_box(), page.locator(within).bounding_box()
    assert box is not None
    assert outer is not None
    return box["x"] + box["width"] > outer["x"] + outer["width"] * 0.75


def test_evidence_on_the_arabic_page_shows_files_and_progress_right_to_left(
    page: Page,
    recorder: Recorder,
    live_server: LiveServer,
    admin: Person,
    cli_env: dict[str, str],
    tmp_path: Path,
) -> None:
    statement = evidence(MIB + MIB // 2, head=b"%PDF-1.7\n")  # two chunks
    photo = photo_with_gps()
    hold = HeldChunk(index=1)
    hold.install(page)
    page.goto(live_server.url("/report?lang=ar"))
    assert page.locator("html").get_attribute("dir") == "rtl"
    fill_report(page, "صوّروا مكتبنا كل ليلة")
    choose(page, [written(tmp_path, "شهادة.pdf", statement), written(tmp_path, "صورة.jpg", photo)])

    files = page.locator("[data-testid=file]")
    assert _direction(page, "[data-testid=file-list]") == "rtl"
    other, picture = files.nth(0).text_content() or "", files.nth(1).text_content() or ""
    assert "شهادة.pdf" in other
    assert (
        _arabic(
            "This file is sent as it is. It may carry names and places, for example who wrote a "
            "document or where a recording was made."
        )
        in other
    )
    assert "صورة.jpg" in picture
    assert (
        _arabic(
            "Where and when this photo was taken, and with which phone, will be removed "
            "before it is sent."
        )
        in picture
    )
    assert _starts_on_the_right(page, "[data-testid=file] >> nth=0 >> .file-name", "[data-files]")
    # Nothing wider than the phone's screen.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["viewport"]["width"]

    # Mid-upload: the first file's second chunk is held on its way.
    page.click("button[type=submit]")
    route = hold.wait(page)
    progress = page.locator("#progress-text")
    assert progress.is_visible()
    # In the page's digits, as the server writes counts on an Arabic page.
    assert progress.text_content() == _arabic(
        "Encrypting and sending file %(number)s of %(total)s…", number="\u0661", total="\u0662"
    )
    assert _direction(page, "#progress") == "rtl"
    bar = files.nth(0).locator("progress")
    assert bar.is_visible()
    assert bar.get_attribute("value") == "50"
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["viewport"]["width"]
    route.continue_()
    page.locator("[data-testid=receipt]").wait_for(state="visible", timeout=SENDING_TIMEOUT_MS)

    report_id = the_report(cli_env, admin)
    assert [file["name"] for file in files_of(cli_env, admin, report_id)] == [
        "شهادة.pdf",
        "صورة.jpg",
    ]
    assert download(cli_env, admin, report_id, 1) == statement
    assert recorder.page_errors == []
    assert recorder.console_errors == []
