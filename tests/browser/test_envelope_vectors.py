"""The browser's encryption (static/js/envelope.js) against the committed known-answer vectors.

tests/unit/crypto/test_vectors.py holds the Python reference client to the same file; this
holds the code that actually runs in a reporter's browser, in Chromium, to it. A drift in
either breaks every report the other side builds or opens.
"""

import base64
import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from playwright.sync_api import Page

from hrd_reports.crypto.envelope import open_dek
from hrd_reports.crypto.submission import decode_b64
from hrd_reports.crypto.xwing import PrivateKey, Sealed
from tests.browser.conftest import LiveServer

pytestmark = pytest.mark.browser

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "testdata" / "vectors.json").read_text(encoding="utf-8")
)

RECEIPT_FIELDS = (
    "canonical",
    "lookup_token_hex",
    "reporter_seed_hex",
    "reporter_public_key_hex",
    "message_key_hex",
)

# Runs in the page; every byte string crosses as hex.
EVALUATE_VECTORS = """
async (vectors) => {
  const E = window.HrdEnvelope;
  const fromHex = (hex) => new Uint8Array(hex.match(/../g).map((pair) => parseInt(pair, 16)));
  const decoder = new TextDecoder();

  const contexts = vectors.contexts.map((v) => decoder.decode(E.bind(v.purpose, v.subject)));

  const receipts = [];
  for (const v of vectors.receipts) {
    const keys = await E.deriveReceiptKeys(v.typed);
    receipts.push({
      canonical: keys.canonical,
      lookup_token_hex: E.toHex(keys.lookupToken),
      reporter_seed_hex: E.toHex(keys.seed),
      reporter_public_key_hex: E.toHex(keys.publicKey),
      message_key_hex: E.toHex(keys.messageKey),
    });
  }

  const normalised = vectors.receipt_normalisation.map((v) => {
    try {
      return { canonical: E.normaliseReceipt(v.typed) };
    } catch (error) {
      return { refused: error instanceof E.InvalidReceipt, message: String(error) };
    }
  });

  // Each bucket holds its size less the 4-byte length prefix, and not one byte more.
  const padding = vectors.padding_buckets.map((size) => {
    const fits = E.pad(new Uint8Array(size - 4)).length;
    let over;
    try { over = E.pad(new Uint8Array(size - 3)).length; } catch (error) { over = null; }
    return [fits, over];
  });

  const intake = vectors.xwing_keys[0];
  const envelopes = [];
  for (const v of vectors.report_envelopes) {
    const wire = await E.buildSubmission(
      new TextEncoder().encode(v.content_utf8),
      { keyId: intake.key_id, suite: E.SUITE, publicKey: fromHex(intake.public_key_hex) },
      v.receipt,
      { reportId: v.report_id, dek: fromHex(v.dek_hex), bodyNonce: fromHex(v.body_nonce_hex),
        reporterKeyNonce: fromHex(v.reporter_key_nonce_hex),
        messageKeyNonce: fromHex(v.message_key_nonce_hex) });
    envelopes.push(wire);
  }

  // The other direction: the browser's HPKE opens what Python sealed (replies will need it).
  const suite = new HPKE.CipherSuite(
    { kem: new HPKE.XWing(), kdf: new HPKE.HkdfSha256(), aead: new HPKE.Aes256Gcm() });
  const opened = [];
  for (const v of vectors.hpke_open) {
    const sealed = fromHex(v.sealed_hex);
    const recipientKey = await suite.kem.deserializePrivateKey(fromHex(v.recipient_seed_hex));
    const plaintext = await suite.open(
      { recipientKey: recipientKey, enc: sealed.slice(0, suite.kem.encSize),
        info: new TextEncoder().encode(v.info_ascii) },
      sealed.slice(suite.kem.encSize));
    opened.push(E.toHex(new Uint8Array(plaintext)));
  }

  // The conversation: the reporter's messages as Python writes them, and replies sealed by
  // Python opened with the key pair derived from the receipt.
  const messages = [];
  for (const v of vectors.messages) {
    const keys = await E.deriveReceiptKeys(v.receipt);
    messages.push({
      read: await E.decryptReporterMessage(
        keys, fromHex(v.reporter_message_hex), v.report_id, v.message_id),
      reply: await E.openReply(keys, fromHex(v.reply_for_reporter_hex), v.report_id, v.message_id),
      written: (await E.encryptReporterMessage(
        keys, v.text_utf8, v.report_id, v.message_id)).length,
    });
  }

  return { contexts, receipts, normalised, padding, envelopes, opened, messages };
}
"""


def test_browser_envelope_matches_known_answer_vectors(page: Page, live_server: LiveServer) -> None:
    # The form page loads the pinned HPKE bundle and envelope.js exactly as a reporter gets them.
    page.goto(live_server.url("/report"))
    browser: dict[str, Any] = page.evaluate(EVALUATE_VECTORS, VECTORS)

    # Context strings: what binds each ciphertext to its report and purpose.
    assert browser["contexts"] == [v["ascii"] for v in VECTORS["contexts"]]

    # Receipts: the lookup token and the reporter's key pair derive as in Python.
    assert len(browser["receipts"]) == len(VECTORS["receipts"]) > 0
    for derived, vector in zip(browser["receipts"], VECTORS["receipts"], strict=True):
        assert derived == {key: vector[key] for key in RECEIPT_FIELDS}, vector["typed"]

    # Receipt typing: Arabic-Indic and Persian digits, separators, direction marks; and typing
    # mistakes refused (with the page's own InvalidReceipt, not some other failure).
    normalisations = VECTORS["receipt_normalisation"]
    assert any(v["canonical"] is None for v in normalisations)
    for normalised, vector in zip(browser["normalised"], normalisations, strict=True):
        if vector["canonical"] is None:
            assert normalised.get("refused") is True, (vector["typed"], normalised)
        else:
            assert normalised == {"canonical": vector["canonical"]}, vector["typed"]

    # Padding: each bucket holds its size less the length prefix, and not one byte more.
    buckets = VECTORS["padding_buckets"]
    assert browser["padding"] == [
        [size, larger] for size, larger in zip(buckets, [*buckets[1:], None], strict=True)
    ]

    # Envelopes from the vectors' fixed inputs: every field but the sealed DEK byte for byte
    # (HPKE encapsulation is randomised), and the browser's sealed DEK opens in Python.
    intake_vector = VECTORS["xwing_keys"][0]
    envelopes = VECTORS["report_envelopes"]
    assert len(browser["envelopes"]) == len(envelopes) > 0
    for built, vector in zip(browser["envelopes"], envelopes, strict=True):
        assert vector["intake_seed_hex"] == intake_vector["seed_hex"]  # the key the page used
        wire = vector["wire"]
        assert set(built) == set(wire)
        assert {k: v for k, v in built.items() if k != "sealed_dek"} == {
            k: v for k, v in wire.items() if k != "sealed_dek"
        }, vector["label"]
        sealed = Sealed(
            built["suite"],
            built["intake_key_id"],
            decode_b64(built["sealed_dek"], field="sealed_dek"),
        )
        intake = PrivateKey(bytes.fromhex(vector["intake_seed_hex"]))
        dek = open_dek(sealed, report_id=UUID(built["report_id"]), holder=intake)
        assert dek.hex() == vector["dek_hex"], vector["label"]
        assert len(base64.b64decode(built["body"])) == 12 + vector["padded_length"] + 16

    # And the other direction: the page's HPKE opens what Python sealed.
    assert browser["opened"] == [v["plaintext_hex"] for v in VECTORS["hpke_open"]]

    # The conversation: the page reads the reporter's messages and the desk's replies as
    # Python wrote them, and writes messages of an honest size (nonce, one bucket, tag).
    assert browser["messages"] == [
        {"read": v["text_utf8"], "reply": v["text_utf8"], "written": 12 + 1024 + 16}
        for v in VECTORS["messages"]
    ]
