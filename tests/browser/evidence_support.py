"""What the evidence-file browser tests share: a phone's browser, files whose every piece
can be recognised (a canary in every 64 KiB, a photo with a GPS position), the report form
with files, and the desk reading them back through its command line."""

import io
import os
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import exifread
import piexif
from PIL import Image
from playwright.sync_api import BrowserContext, Page, Route

from hrd_reports.crypto.receipts import normalise_receipt
from tests.browser.support import (
    PAGE_TIMEOUT_MS,
    RECEIPT_PATTERN,
    Recorder,
    report_ids,
    show_report,
)
from tests.cli import invoke
from tests.helpers import Person

# A phone held upright: the reporter pages are used on phones first.
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
}
MIB = 1024 * 1024
# Encrypting and sending 20 MiB on a slow machine takes more than a page step's timeout.
SENDING_TIMEOUT_MS = 120_000
CANARY = "evidence canary in the browser: كناري الأدلة"
# The photo's position (33°18'5" N), as the rationals EXIF stores big-endian: the bytes a
# leak of the position would carry.
LATITUDE = ((33, 1), (18, 1), (5, 1))
GPS_BYTES = struct.pack(">6L", *(part for rational in LATITUDE for part in rational))
CAMERA = "CANARY-camera-PhoneMaker-7f3a"
CHUNK_PUT = re.compile(r".*/api/v1/uploads/[0-9a-f-]{36}/chunks/(\d+)$")
UPLOAD_POST = re.compile(r".*/api/v1/uploads$")


# --- Files ---------------------------------------------------------------------------------


def evidence(size: int, head: bytes = b"") -> bytes:
    """Random bytes with the canary at the start of every 64 KiB: any piece of the file that
    leaked, wherever it was cut, holds it or a slice of the random bytes between."""
    marker = CANARY.encode()
    block = 64 * 1024
    pieces = [head]
    for _ in range(0, size - len(head), block):
        pieces.append(marker + os.urandom(block - len(marker)))
    return b"".join(pieces)[:size]


def photo_with_gps() -> bytes:
    gps = {
        piexif.GPSIFD.GPSLatitudeRef: b"N",
        piexif.GPSIFD.GPSLatitude: LATITUDE,
        piexif.GPSIFD.GPSLongitudeRef: b"E",
        piexif.GPSIFD.GPSLongitude: ((44, 1), (21, 1), (41, 1)),
    }
    exif = piexif.dump({"0th": {piexif.ImageIFD.Make: CAMERA.encode()}, "GPS": gps})
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 40, 40)).save(out, "JPEG", exif=exif)
    photo = out.getvalue()
    assert GPS_BYTES in photo
    assert gps_tags(photo), "the sample photo must carry a GPS position"
    return photo


def gps_tags(jpeg: bytes) -> list[str]:
    return [tag for tag in exifread.process_file(io.BytesIO(jpeg), details=False) if "GPS" in tag]


def written(directory: Path, name: str, data: bytes) -> Path:
    """A file on the phone's disk, for the file chooser (a path: no 20 MiB buffer in JSON)."""
    path = directory / name
    path.write_bytes(data)
    return path


def plaintext_slices(data: bytes, count: int = 64, length: int = 48) -> list[bytes]:
    """Pieces of ``data`` spread over all of it, each between two canaries."""
    step = len(data) // count
    return [data[i * step + 1000 : i * step + 1000 + length] for i in range(count)]


# --- The reporter's page -------------------------------------------------------------------


def send_and_wait_for_receipt(page: Page) -> str:
    page.click("button[type=submit]")
    receipt = page.locator("[data-testid=receipt]")
    receipt.wait_for(state="visible", timeout=SENDING_TIMEOUT_MS)
    text = receipt.text_content() or ""
    assert RECEIPT_PATTERN.fullmatch(text), repr(text)
    normalise_receipt(text)
    return text


def choose(page: Page, paths: list[Path]) -> None:
    page.set_input_files("input[name=files]", paths)
    page.locator("[data-testid=file]").nth(len(paths) - 1).wait_for()
    assert page.locator("[data-testid=file]").count() == len(paths)


def sent_bodies(recorder: Recorder) -> list[tuple[str, bytes]]:
    return [
        (f"{request.method} {request.url}", request.post_data_buffer or b"")
        for request in recorder.requests
    ]


def chunk_bytes_sent(recorder: Recorder) -> int:
    return sum(len(body) for where, body in sent_bodies(recorder) if CHUNK_PUT.match(where))


# --- The desk ------------------------------------------------------------------------------


def the_report(cli_env: dict[str, str], admin: Person) -> str:
    (report_id,) = report_ids(cli_env, admin)
    return report_id


def download(cli_env: dict[str, str], admin: Person, report_id: str, number: int) -> bytes:
    """``hrd-reports reports attachment ID N``: what a key holder writes to their disk."""
    out = Path.cwd().parent / f"downloaded-{number}"
    run = invoke(
        cli_env,
        *("reports", "attachment", report_id, str(number), "--out", str(out)),
        *("--as", admin.name, "--password-stdin"),
        stdin=admin.password + "\n",
    )
    assert run.exit_code == 0, run.stderr
    data = out.read_bytes()
    out.unlink()
    return data


def files_of(cli_env: dict[str, str], admin: Person, report_id: str) -> list[dict[str, Any]]:
    files: list[dict[str, Any]] = show_report(cli_env, admin, report_id)["files"]
    return files


def staff_page(new_context: Callable[..., BrowserContext]) -> tuple[Page, Recorder]:
    context = new_context()
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    recorder = Recorder()
    recorder.attach(context)
    return context.new_page(), recorder


@dataclass
class HeldChunk:
    """Holds the PUT of one chunk until the test lets it go, so the page stays mid-upload."""

    index: int
    held: list[Route] = field(default_factory=list)

    def install(self, page: Page) -> None:
        page.route(CHUNK_PUT, self._route)

    def _route(self, route: Route) -> None:
        match = CHUNK_PUT.match(route.request.url)
        if match is not None and int(match.group(1)) == self.index and not self.held:
            self.held.append(route)
        else:
            route.continue_()

    def wait(self, page: Page) -> Route:
        for _ in range(PAGE_TIMEOUT_MS // 50):
            if self.held:
                return self.held[0]
            page.wait_for_timeout(50)  # lets Playwright dispatch the route
        raise AssertionError(f"chunk {self.index} was never sent")
