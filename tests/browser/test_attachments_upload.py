"""Uploading files from the browser (static/js/attachments.js) over a connection that drops.

The upload API is answered in the test (``FakeUploads``, as the contract states it), so these
tests hold the page's side: one proof of work per file, each chunk sent once it is sealed, a
chunk whose answer was lost not sent again, a chunk lost on the way sent again with the very
same bytes, photos cleaned before they are encrypted unless the reporter kept the original,
and what arrives opening in Python to the bytes that were meant to be sent.
"""

import base64
import hashlib
from typing import Any
from uuid import UUID

import pytest
from playwright.sync_api import Page

from hrd_reports.crypto.attachments import (
    CHUNK_SIZE,
    MetadataChoice,
    Record,
    attachment_key,
    decrypt_file,
    decrypt_record,
)
from tests.browser.attachments_page import (
    PATTERN_JS,
    FakeUploads,
    StoredUpload,
    open_attachments_page,
    pattern,
)

pytestmark = pytest.mark.browser

DEK = bytes(range(32))
REPORT_ID = "0b5e7f0e-3f1a-4d38-a2b6-6a8f3c1d2e4f"
JPEG_HEAD = bytes([0xFF, 0xD8, 0xFF, 0xE0])
# What the stand-in for metadata.js (written elsewhere, tested with photos.py) removes: the
# last bytes of a "photo", so that what is sent differs from the original.
STRIPPED_TAIL = 100

# Runs in the page: builds Files from the patterns and sends them all.
SEND = f"""
async ({{ files, dek_hex, report_id }}) => {{
  const pattern = ({PATTERN_JS});
  window.HRDMetadata = {{
    sniff: (head) => (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff ? "jpeg" : null),
    strip: (bytes) => ({{ bytes: bytes.slice(0, bytes.length - {STRIPPED_TAIL}), kind: "jpeg",
                          removed: true }}),
  }};
  const fromHex = (hex) => new Uint8Array((hex.match(/../g) || []).map((b) => parseInt(b, 16)));
  const choices = files.map((f) => {{
    const head = fromHex(f.head_hex);
    const parts = [head, f.padding ? new Uint8Array(f.padding) : pattern(f.size, f.seed)];
    return {{ file: new File(parts, f.name, {{ type: f.type }}), keepOriginal: f.keep }};
  }});
  let proofs = 0;
  const progress = [];
  const overall = [];
  try {{
    const attached = await HRDAttachments.sendAll(HRDAttachments.plan(choices), {{
      sourceKey: fromHex(dek_hex), reportId: report_id, messageId: null,
      proofOfWork: async () => ({{ challenge: "challenge-" + ++proofs, counter: 0 }}),
      delays: [0.01, 0.01, 0.01],
      onProgress: (file, done, total) => progress.push([file, done, total]),
      onOverall: (fraction) => overall.push(fraction),
    }});
    return {{ attached, proofs, progress, overall }};
  }} catch (error) {{
    return {{ refused: error instanceof HRDAttachments.FileRefused ? error.code : String(error),
              index: error.index, proofs }};
  }}
}}
"""


def spec(
    name: str, size: int, *, head: bytes = b"", keep: bool = False, **more: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "type": more.get("type", "application/octet-stream"),
        "size": size,
        "seed": size % 251,
        "head_hex": head.hex(),
        "keep": keep,
        "padding": more.get("padding"),
    }


def content_of(file: dict[str, Any]) -> bytes:
    return bytes.fromhex(file["head_hex"]) + pattern(file["size"], file["seed"])


def opened(server: FakeUploads, attached: dict[str, str]) -> tuple[bytes, Record]:
    upload: StoredUpload = server.uploads[attached["id"]]
    ids = {
        "report_id": UUID(REPORT_ID),
        "message_id": None,
        "attachment_id": UUID(attached["id"]),
    }
    key = attachment_key(DEK, **ids)
    record = decrypt_record(key, base64.b64decode(attached["record"]), **ids)
    chunks = [upload.chunks[i] for i in range(upload.layout.chunks)]
    content = b"".join(decrypt_file(key, chunks, record=record, chunk_total=len(chunks), **ids))
    return content, record


def send(page: Page, files: list[dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(
        SEND, {"files": files, "dek_hex": DEK.hex(), "report_id": REPORT_ID}
    )
    return result


def test_upload_resumes_after_lost_answers_and_dropped_chunks(page: Page) -> None:
    open_attachments_page(page)
    # The first file's chunk 1 is stored but its answer lost; its chunk 2 never arrives.
    server = FakeUploads(lose_answer={(0, 1)}, drop={(0, 2)})
    server.install(page)
    files = [spec("video.mp4", 3 * CHUNK_SIZE + 777, type="video/mp4"), spec("note.txt", 10)]
    result = send(page, files)

    assert "refused" not in result, result
    assert result["proofs"] == len(server.creations) == 2  # one proof of work per file
    first = server.uploads[result["attached"][0]["id"]]
    assert first.attempts[1] == [first.chunks[1]]  # stored once: not sent again
    assert first.attempts[2] == [first.chunks[2], first.chunks[2]]  # the very same bytes
    assert server.gets >= 2
    for file, attached in zip(files, result["attached"], strict=True):
        content, record = opened(server, attached)
        assert content == content_of(file)
        assert (record.name, record.media_type, record.metadata) == (
            file["name"],
            file["type"],
            MetadataChoice.NOT_CHECKED,
        )
        assert record.sha256_original == record.sha256_sent == hashlib.sha256(content).hexdigest()
    # Progress per file to its last chunk, and overall to the end.
    assert [entry for entry in result["progress"] if entry[1] == entry[2]] == [[0, 4, 4], [1, 1, 1]]
    assert result["overall"][-1] == 1


def test_upload_of_a_photo_removes_its_metadata_unless_kept(page: Page) -> None:
    open_attachments_page(page)
    server = FakeUploads()
    server.install(page)
    files = [
        spec("IMG_0001.jpg", 5000, head=JPEG_HEAD, type="image/jpeg"),
        spec("IMG_0002.jpg", 5000, head=JPEG_HEAD, keep=True, type="image/jpeg"),
    ]
    result = send(page, files)

    assert "refused" not in result, result
    cleaned, cleaned_record = opened(server, result["attached"][0])
    original = content_of(files[0])
    assert cleaned == original[:-STRIPPED_TAIL]
    assert cleaned_record.metadata == MetadataChoice.REMOVED
    assert cleaned_record.size == len(cleaned)
    assert cleaned_record.sha256_original == hashlib.sha256(original).hexdigest()
    assert cleaned_record.sha256_sent == hashlib.sha256(cleaned).hexdigest()
    kept, kept_record = opened(server, result["attached"][1])
    assert kept == content_of(files[1])
    assert kept_record.metadata == MetadataChoice.KEPT
    assert kept_record.sha256_original == kept_record.sha256_sent


def test_upload_of_a_photo_too_large_to_clean_is_refused_before_anything_is_sent(
    page: Page,
) -> None:
    open_attachments_page(page)
    server = FakeUploads()
    server.install(page)
    too_large = spec("IMG_0003.jpg", 0, head=JPEG_HEAD, type="image/jpeg")
    too_large["padding"] = 64 * 1024 * 1024
    result = send(page, [spec("note.txt", 10), too_large])
    assert (result["refused"], result["index"], result["proofs"]) == ("photo_too_large", 1, 0)
    assert server.creations == []
