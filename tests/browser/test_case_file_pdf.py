"""A report's case file, printed to PDF by Chromium in Arabic, Sorani and Kurmanji and read
back with ``pdftotext`` (Debian's poppler-utils): its words come out in the order they are
read, and every printed page says who exported it and when.

How pdftotext (poppler 22.12) gives back right-to-left text that Chromium printed with the
desk's Noto Sans Arabic, learned from its output:

- Plain ``pdftotext`` rebuilds each line in logical order, the order it is read, and marks it:
  an Arabic-script line is wrapped in RIGHT-TO-LEFT EMBEDDING ... POP DIRECTIONAL FORMATTING
  (U+202B ... U+202C), a run of digits or Latin letters inside it in LEFT-TO-RIGHT EMBEDDING
  (U+202A ... U+202C); the space at the edge of such a run can move to its other side.
- ``pdftotext -raw`` keeps the order the glyphs were drawn in: left to right, so each
  right-to-left line comes out with its words backwards. A check that passed on it would
  prove nothing; the one here fails on it (``test_the_check_fails_on_text_in_visual_order``).
- Noto Sans Arabic draws a dotted letter (ب ت ن ي ف ق...) as a dotless body and its dots,
  and Chromium writes the letter as the ActualText of the pair. Poppler places that text with
  the dot's offset, and so often sees a gap inside a word and writes a space there: a word can
  come out as ``الق ض ي ة``, its letters in order. A combining mark (a damma, a shadda) can
  come before its letter instead of after it.

So a sentence is compared by its letters in reading order: the embedding marks, combining
marks and whitespace taken out of both sides. Words or letters in the wrong order still fail.
"""

import os
import re
import shutil
import subprocess
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page

from hrd_reports.content import ReportContent
from hrd_reports.i18n import locale
from hrd_reports.services import clock
from hrd_reports.web.pages import day_text
from tests.browser.conftest import LiveServer
from tests.browser.support import PAGE_TIMEOUT_MS
from tests.browser.test_dashboard import cora, fake_clock, sign_in  # noqa: F401 - fixtures
from tests.dashboard_support import Clock, Staff
from tests.helpers import Desk

pytestmark = pytest.mark.browser

NewContext = Callable[..., BrowserContext]

# What a reporter wrote, in each language: a sentence of a dozen words, all on the first page.
NARRATIVES = {
    "ar": "تلقت الصحفية تهديدا بالقتل في رسالة من رقم مجهول بعد نشر تحقيقها عن الفساد",
    "ckb": (
        "ڕۆژنامەنووسەکە هەڕەشەی کوشتنی لە ژمارەیەکی نەناسراوەوە پێگەیشت"
        " دوای بڵاوکردنەوەی ڕاپۆرتەکەی"
    ),
    "kmr": "Rojnamevanê gefa kuştinê ji hejmareke nenas wergirt piştî ku lêkolîna xwe weşand",
}
# Lines enough to print the case file on more than one page.
FILLER_LINES = 90


def _poppler(tool: str) -> str:
    """A poppler-utils program, by the rule of the browser tests' Chromium: without it the tests
    skip on a developer's machine (``CI`` unset), and fail where ``CI`` is set."""
    found = shutil.which(tool)
    if found is not None:
        return found
    reason = f"{tool} is missing: install Debian's poppler-utils to read printed case files"
    if "CI" in os.environ:
        pytest.fail(f"{reason}; CI is set, and in CI a skipped browser test is a failure")
    pytest.skip(f"{reason} (skipped because CI is unset)")


@pytest.fixture(autouse=True)
def _poppler_utils() -> None:
    """Every test here skips or fails by that rule before a browser starts."""
    for tool in ("pdftotext", "pdfinfo", "pdffonts"):
        _poppler(tool)


def _run(tool: str, *arguments: str) -> str:
    # A fixed program, on a file this test wrote.
    done = subprocess.run([_poppler(tool), *arguments], capture_output=True, check=True, timeout=60)
    return done.stdout.decode("utf-8")


def pdftotext(pdf: Path, *options: str, page: int | None = None) -> str:
    pages = ["-f", str(page), "-l", str(page)] if page is not None else []
    return _run("pdftotext", *options, *pages, str(pdf), "-")


def pages_of(pdf: Path) -> int:
    found = re.search(r"^Pages:\s+(\d+)$", _run("pdfinfo", str(pdf)), re.MULTILINE)
    assert found is not None
    return int(found.group(1))


def fonts_of(pdf: Path) -> str:
    return _run("pdffonts", str(pdf))


def letters(text: str) -> str:
    """``text`` as the sequence of its letters and digits, in the order they are stored: no
    embedding marks or other format characters, no combining marks, no whitespace."""
    return "".join(
        character
        for character in unicodedata.normalize("NFKC", text)
        if unicodedata.category(character) not in {"Cf", "Mn", "Zs", "Cc"}
    )


def reads(pdf_text: str, sentence: str) -> bool:
    """Whether ``sentence`` is in ``pdf_text``, its words and letters in reading order."""
    return letters(sentence) in letters(pdf_text)


def _printed_case_file(
    page: Page, server: LiveServer, desk: Desk, code: str, directory: Path
) -> Path:
    """A report in ``code``'s language, its case file exported through the confirmation and
    printed to PDF as the browser's "Save as PDF" does."""
    narrative = NARRATIVES[code] + "\n" + "\n".join("." * FILLER_LINES)
    report = ReportContent.model_validate(
        {"incident_types": ["death_threat"], "narrative": narrative}
    ).to_json_bytes()
    report_id = desk.submit(report).report_id
    page.goto(server.url(f"/dashboard/reports/{report_id}/case-file?lang={code}"))
    page.get_by_test_id("export-confirm").check()
    with page.expect_navigation():
        page.get_by_test_id("export").click()
    page.get_by_test_id("exported").wait_for()
    page.evaluate("document.fonts.ready")
    pdf = directory / f"case-file-{code}.pdf"
    page.pdf(path=str(pdf), format="A4")
    return pdf


@pytest.fixture
def signed_in(
    new_context: NewContext,
    live_server: LiveServer,
    cora: Staff,  # noqa: F811 - a fixture
    fake_clock: Clock,  # noqa: F811 - a fixture
) -> Page:
    context = new_context()
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    page = context.new_page()
    sign_in(page, live_server, cora, fake_clock)
    return page


# The face that draws each language's letters: the desk's own, embedded in the PDF.
FACES = {"ar": "NotoSansArabic", "ckb": "NotoSansArabic", "kmr": "NotoSans-"}


@pytest.mark.parametrize("code", ["ar", "ckb", "kmr"])
def test_a_printed_case_file_reads_in_order_with_its_footer_on_every_page(
    signed_in: Page, live_server: LiveServer, desk: Desk, tmp_path: Path, code: str
) -> None:
    gettext = locale(code).translations.gettext
    footer = gettext("Exported by %(name)s on %(day)s") % {
        "name": "cora",
        "day": day_text(code, clock.utc_now().date()),
    }

    pdf = _printed_case_file(signed_in, live_server, desk, code, tmp_path)

    text = pdftotext(pdf)
    for sentence in (
        gettext("Case file"),
        gettext("What the reporter said"),
        gettext("Death threat"),
        NARRATIVES[code],
    ):
        assert reads(text, sentence), (sentence, text)
    printed = pages_of(pdf)
    assert printed >= 2
    for number in range(1, printed + 1):
        assert reads(pdftotext(pdf, page=number), footer), (number, footer)
    assert FACES[code] in fonts_of(pdf)


@pytest.mark.parametrize("code", ["ar", "ckb"])
def test_the_check_fails_on_text_in_visual_order(
    signed_in: Page, live_server: LiveServer, desk: Desk, tmp_path: Path, code: str
) -> None:
    # The same PDF read back in the order its glyphs were drawn, left to right (the words of a
    # right-to-left line backwards), and the sentence with its words backwards: neither reads.
    pdf = _printed_case_file(signed_in, live_server, desk, code, tmp_path)
    logical = pdftotext(pdf)
    assert reads(logical, NARRATIVES[code])
    assert not reads(pdftotext(pdf, "-raw"), NARRATIVES[code])
    assert not reads(logical, " ".join(reversed(NARRATIVES[code].split())))
