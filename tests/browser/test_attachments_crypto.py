"""The browser's file encryption (static/js/attachments.js) against the Python reference.

hrd_reports/crypto/attachments.py fixes the format; the page must build the very same bytes
for the same nonces (a drift leaves the desk with files it cannot open), and what it builds
with random nonces must open in Python, at every size where a boundary could be got wrong:
empty, one byte, the smallest padded length and one past it, one chunk and one past it, and
several chunks.
"""

import base64
import hashlib
import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from playwright.sync_api import Page

from hrd_reports.crypto.attachments import (
    CHUNK_SIZE,
    MetadataChoice,
    Record,
    attachment_key,
    chunk_count,
    decrypt_file,
    decrypt_record,
    encrypt_chunk,
    encrypt_record,
    padded_chunks,
    padded_size,
)
from tests.browser.attachments_page import PATTERN_JS, open_attachments_page, pattern

pytestmark = pytest.mark.browser

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "testdata" / "vectors.json").read_text(encoding="utf-8")
)

SIZES = [0, 1, 4096, 4097, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 12345]
SOURCE_KEY = bytes(range(64, 96))
REPORT_ID = UUID("0b5e7f0e-3f1a-4d38-a2b6-6a8f3c1d2e4f")
MESSAGE_ID = UUID("5d1f3a2c-7b9e-4c6d-8a0f-1e2d3c4b5a69")
ATTACHMENT_ID = UUID("c3d2e1f0-a9b8-4c7d-8e6f-5a4b3c2d1e0f")
RECORD_NONCE = bytes([0xEE] * 12)

# Runs in the page: each case sealed by attachments.js; bytes cross as base64 or hex.
SEAL = f"""
async (cases) => {{
  const pattern = ({PATTERN_JS});
  const fromHex = (hex) => new Uint8Array((hex.match(/../g) || []).map((b) => parseInt(b, 16)));
  const out = [];
  for (const c of cases) {{
    const nonces = c.chunk_nonces_hex ? {{ chunks: c.chunk_nonces_hex.map(fromHex),
                                           record: fromHex(c.record_nonce_hex) }} : null;
    const sealed = await HRDAttachments.sealBytes(
      fromHex(c.source_key_hex),
      {{ reportId: c.report_id, messageId: c.message_id, attachmentId: c.attachment_id }},
      c.content_hex === undefined ? pattern(c.size, c.seed) : fromHex(c.content_hex),
      {{ name: c.name, type: c.type, metadata: c.metadata, sha256: c.sha256 }}, nonces);
    out.push({{ chunks: sealed.chunks.map(HrdEnvelope.toBase64),
                record: HrdEnvelope.toBase64(sealed.record), json: sealed.json }});
  }}
  return out;
}}
"""


def chunk_nonce(index: int) -> bytes:
    return bytes((index * 13 + j + 1) & 0xFF for j in range(12))


def case(size: int, *, fixed: bool, message_id: UUID | None = None, **about: Any) -> dict[str, Any]:
    chunks = chunk_count(padded_size(size))
    return {
        "size": size,
        "seed": size % 251,
        "source_key_hex": SOURCE_KEY.hex(),
        "report_id": str(REPORT_ID),
        "message_id": None if message_id is None else str(message_id),
        "attachment_id": str(ATTACHMENT_ID),
        "name": about.get("name", f"evidence-{size}.bin"),
        "type": about.get("type", "application/octet-stream"),
        "metadata": about.get("metadata", "not-checked"),
        "sha256": about.get("sha256"),
        **(
            {
                "chunk_nonces_hex": [chunk_nonce(i).hex() for i in range(chunks)],
                "record_nonce_hex": RECORD_NONCE.hex(),
            }
            if fixed
            else {}
        ),
    }


def reference(content: bytes, spec: dict[str, Any]) -> tuple[list[bytes], bytes, Record]:
    """What hrd_reports.crypto.attachments builds from the same inputs and nonces."""
    ids = {
        "report_id": UUID(spec["report_id"]),
        "message_id": None if spec["message_id"] is None else UUID(spec["message_id"]),
        "attachment_id": UUID(spec["attachment_id"]),
    }
    key = attachment_key(bytes.fromhex(spec["source_key_hex"]), **ids)
    plaintexts = list(padded_chunks([content], size=len(content)))
    chunks = [
        encrypt_chunk(
            key, plaintext, index=i, last=i == len(plaintexts) - 1, nonce=chunk_nonce(i), **ids
        )
        for i, plaintext in enumerate(plaintexts)
    ]
    sent = hashlib.sha256(content).hexdigest()
    record = Record(
        name=spec["name"],
        media_type=spec["type"],
        size=len(content),
        sha256_original=spec["sha256"] or sent,
        sha256_sent=sent,
        metadata=MetadataChoice(spec["metadata"]),
    )
    return chunks, encrypt_record(key, record, nonce=RECORD_NONCE, **ids), record


def opened(built: dict[str, Any], spec: dict[str, Any]) -> tuple[bytes, Record]:
    """The browser's file and record, opened by the Python reference."""
    ids = {
        "report_id": UUID(spec["report_id"]),
        "message_id": None if spec["message_id"] is None else UUID(spec["message_id"]),
        "attachment_id": UUID(spec["attachment_id"]),
    }
    key = attachment_key(bytes.fromhex(spec["source_key_hex"]), **ids)
    chunks = [base64.b64decode(chunk) for chunk in built["chunks"]]
    record = decrypt_record(key, base64.b64decode(built["record"]), **ids)
    content = b"".join(decrypt_file(key, chunks, record=record, chunk_total=len(chunks), **ids))
    return content, record


@pytest.mark.parametrize("size", SIZES)
def test_browser_file_with_fixed_nonces_matches_python_byte_for_byte(page: Page, size: int) -> None:
    open_attachments_page(page)
    spec = case(size, fixed=True)
    [built] = page.evaluate(SEAL, [spec])
    chunks, record_blob, record = reference(pattern(size, spec["seed"]), spec)
    assert [base64.b64decode(chunk) for chunk in built["chunks"]] == chunks
    assert base64.b64decode(built["record"]) == record_blob
    assert built["json"]["sha256_sent"] == record.sha256_sent


@pytest.mark.parametrize("size", SIZES)
def test_browser_file_with_random_nonces_opens_in_python(page: Page, size: int) -> None:
    open_attachments_page(page)
    spec = case(size, fixed=False, message_id=MESSAGE_ID if size % 2 else None)
    [built] = page.evaluate(SEAL, [spec])
    content, record = opened(built, spec)
    assert content == pattern(size, spec["seed"])
    assert (record.size, record.metadata, record.name) == (
        size,
        MetadataChoice.NOT_CHECKED,
        spec["name"],
    )
    assert record.sha256_original == record.sha256_sent == hashlib.sha256(content).hexdigest()
    nonces = [base64.b64decode(chunk)[:12] for chunk in built["chunks"]]
    nonces.append(base64.b64decode(built["record"])[:12])
    assert len(set(nonces)) == len(nonces)  # fresh for every chunk and the record


def test_browser_record_of_an_awkward_name_matches_python(page: Page) -> None:
    # JSON as Python writes it (sorted keys, no spaces, UTF-8 kept, control characters
    # escaped alike), and a name cut to 255 characters counted as Python counts them.
    open_attachments_page(page)
    awkward = 'شاهد "1"\\\n\t\x01\x7f 📷' + "ج" * 300 + ".jpg"
    spec = case(
        4097,
        fixed=True,
        message_id=MESSAGE_ID,
        name=awkward,
        type="image/jpeg",
        metadata="removed",
        sha256="ab" * 32,
    )
    [built] = page.evaluate(SEAL, [spec])
    expected = {**spec, "name": awkward[:255]}
    chunks, record_blob, _ = reference(pattern(4097, spec["seed"]), expected)
    assert base64.b64decode(built["record"]) == record_blob
    assert [base64.b64decode(chunk) for chunk in built["chunks"]] == chunks


def test_browser_padded_size_matches_padme_in_python(page: Page) -> None:
    open_attachments_page(page)
    sizes = [
        *range(4090, 4200),
        *(2**k + d for k in range(12, 45) for d in (-1, 0, 1, 12345)),
        100 * 1024 * 1024,
    ]
    browser = page.evaluate("(sizes) => sizes.map(HRDAttachments.paddedSize)", sizes)
    assert browser == [padded_size(size) for size in sizes]


@pytest.mark.parametrize("vector", VECTORS["attachments"], ids=lambda v: v["label"])
def test_browser_builds_the_attachment_vector(page: Page, vector: dict[str, Any]) -> None:
    open_attachments_page(page)
    [built] = page.evaluate(SEAL, [vector])
    assert [base64.b64decode(chunk).hex() for chunk in built["chunks"]] == vector["chunks_hex"]
    assert base64.b64decode(built["record"]).hex() == vector["record_hex"]
