"""The browser's metadata removal (static/js/metadata.js) against hrd_reports/photos.py.

The two must agree byte for byte: the record of an attachment carries the hash of what was sent,
and a form sent without JavaScript goes through the Python twin. Here the script runs in
Chromium on every test photo, every broken file, damaged copies of each photo and every
truncation of each, and each answer (bytes, kind, removed, or a PhotoMalformed refusal) is held
to Python's.
"""

import base64
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from hrd_reports.photos import PhotoMalformed, sniff, strip_metadata
from tests.photo_samples import MALFORMED, all_samples, heic_header, mutations

pytestmark = pytest.mark.browser

SCRIPT = Path(__file__).parents[2] / "static" / "js" / "metadata.js"

# Runs in the page: each input crosses as base64, each answer comes back the same way.
STRIP_ALL = """
(inputs) => {
  const M = window.HRDMetadata;
  const fromB64 = (text) => Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
  const toB64 = (bytes) => btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
  return inputs.map((text) => {
    const bytes = fromB64(text);
    const sniffed = M.sniff(bytes);
    try {
      const stripped = M.strip(bytes);
      return { sniffed, kind: stripped.kind, removed: stripped.removed,
               bytes: toB64(stripped.bytes) };
    } catch (error) {
      return { sniffed, refused: error instanceof M.PhotoMalformed ? "PhotoMalformed"
                                                                   : String(error) };
    }
  });
}
"""

# Every truncation of each photo, cut in the page (sending each would be megabytes).
TRUNCATE_ALL = """
(inputs) => {
  const M = window.HRDMetadata;
  const fromB64 = (text) => Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
  return inputs.map((text) => {
    const whole = fromB64(text);
    const answers = [];
    for (let cut = 0; cut < whole.length; cut++) {
      try {
        const stripped = M.strip(whole.subarray(0, cut));
        answers.push(stripped.bytes.length + ":" + stripped.removed);
      } catch (error) {
        answers.push(error instanceof M.PhotoMalformed ? "PhotoMalformed" : String(error));
      }
    }
    return answers;
  });
}
"""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def python_answer(data: bytes) -> dict[str, Any]:
    sniffed = sniff(data)
    try:
        stripped = strip_metadata(data)
    except PhotoMalformed:
        return {"sniffed": sniffed, "refused": "PhotoMalformed"}
    return {
        "sniffed": sniffed,
        "kind": stripped.kind,
        "removed": stripped.removed,
        "bytes": b64(stripped.data),
    }


def python_truncations(whole: bytes) -> list[str]:
    answers = []
    for cut in range(len(whole)):
        try:
            stripped = strip_metadata(whole[:cut])
        except PhotoMalformed:
            answers.append("PhotoMalformed")
        else:
            answers.append(f"{len(stripped.data)}:{str(stripped.removed).lower()}")
    return answers


@pytest.fixture
def metadata_page(page: Page) -> Page:
    """A blank page with metadata.js, checked to add one frozen global and nothing else."""
    page.goto("about:blank")
    before = set(page.evaluate("Object.keys(window)"))
    page.add_script_tag(path=SCRIPT)
    assert set(page.evaluate("Object.keys(window)")) - before == {"HRDMetadata"}
    assert page.evaluate("Object.isFrozen(window.HRDMetadata)")
    return page


def test_metadata_js_photos_same_bytes_as_python(metadata_page: Page) -> None:
    samples = all_samples()
    inputs = [sample.data for sample in samples]
    browser = metadata_page.evaluate(STRIP_ALL, [b64(data) for data in inputs])
    assert len(browser) == len(inputs)
    for sample, answer in zip(samples, browser, strict=True):
        assert answer == python_answer(sample.data), sample.name
        assert answer["removed"] == sample.has_metadata, sample.name


def test_metadata_js_other_files_unchanged(metadata_page: Page) -> None:
    inputs = [b"", b"%PDF-1.7\n", b"\xff\xd8", heic_header()]
    browser = metadata_page.evaluate(STRIP_ALL, [b64(data) for data in inputs])
    assert browser == [
        {"sniffed": None, "kind": None, "removed": False, "bytes": b64(data)} for data in inputs
    ]


def test_metadata_js_malformed_refused_as_python(metadata_page: Page) -> None:
    browser = metadata_page.evaluate(STRIP_ALL, [b64(data) for data in MALFORMED.values()])
    for name, answer in zip(MALFORMED, browser, strict=True):
        assert answer["refused"] == "PhotoMalformed", name
        assert answer == python_answer(MALFORMED[name]), name


def test_metadata_js_damaged_photos_same_answer_as_python(metadata_page: Page) -> None:
    damaged = [data for sample in all_samples() for data in mutations(sample, 60)]
    browser = metadata_page.evaluate(STRIP_ALL, [b64(data) for data in damaged])
    expected = [python_answer(data) for data in damaged]
    mismatches = [
        i for i, (got, want) in enumerate(zip(browser, expected, strict=True)) if got != want
    ]
    assert not mismatches, f"{len(mismatches)} differ; first: {damaged[mismatches[0]].hex()}"
    # The damage reaches both sides of the comparison: some copies are refused, some are not.
    outcomes = {"refused" in answer for answer in expected}
    assert outcomes == {True, False}


def test_metadata_js_truncated_photos_same_answer_as_python(metadata_page: Page) -> None:
    samples = all_samples()
    browser = metadata_page.evaluate(TRUNCATE_ALL, [b64(sample.data) for sample in samples])
    for sample, answers in zip(samples, browser, strict=True):
        assert answers == python_truncations(sample.data), sample.name
