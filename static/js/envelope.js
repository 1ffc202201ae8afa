/* The version 1 wire format, built in the browser: the twin of hrd_reports/crypto/submission.py.
 *
 * Everything here is checked against tests/testdata/vectors.json in a real browser. Only
 * vetted primitives are used: WebCrypto (AES-256-GCM, HKDF-SHA256, random numbers) and the
 * pinned @hpke bundle (HPKE with the X-Wing KEM). Exposed as window.HrdEnvelope.
 */
"use strict";
(function () {
  const PROTOCOL = 1;
  const SUITE = "hpke-xwing-hkdfsha256-aes256gcm";
  const MIN_BUCKET = 1024;
  const MAX_BUCKET = 256 * 1024;
  const MAX_MESSAGE_BUCKET = 16 * 1024;
  const RANDOM_DIGITS = 27;
  const RECEIPT_DIGITS = RANDOM_DIGITS + 1;
  const encoder = new TextEncoder();

  function bind(purpose, subject) {
    return encoder.encode("hrd-reports/" + PROTOCOL + "/" + purpose + "/" + subject);
  }

  function suite() {
    return new HPKE.CipherSuite({
      kem: new HPKE.XWing(),
      kdf: new HPKE.HkdfSha256(),
      aead: new HPKE.Aes256Gcm(),
    });
  }

  function concat(a, b) {
    const out = new Uint8Array(a.length + b.length);
    out.set(a, 0);
    out.set(b, a.length);
    return out;
  }

  function toBase64(bytes) {
    let text = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(text);
  }

  function fromBase64(text) {
    const raw = atob(text);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function toHex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  /* Length-prefixed and zero-filled to the smallest power-of-two bucket that holds it, so the
     stored size does not tell a short report from a long testimony. */
  function pad(plaintext, maxBucket) {
    const limit = maxBucket || MAX_BUCKET;
    const needed = 4 + plaintext.length;
    let size = MIN_BUCKET;
    while (size < needed) {
      size *= 2;
      if (size > limit) throw new Error("the text is too long");
    }
    const out = new Uint8Array(size);
    new DataView(out.buffer).setUint32(0, plaintext.length, false);
    out.set(plaintext, 4);
    return out;
  }

  function unpad(padded) {
    if (padded.length < 4) throw new Error("padded text is too short");
    const length = new DataView(padded.buffer, padded.byteOffset).getUint32(0, false);
    const end = 4 + length;
    if (end > padded.length || padded.subarray(end).some((b) => b !== 0)) {
      throw new Error("padding is malformed");
    }
    return padded.slice(4, end);
  }

  async function decryptWithKey(key, blob, aad) {
    const imported = await crypto.subtle.importKey("raw", key, "AES-GCM", false, ["decrypt"]);
    const opened = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: blob.subarray(0, 12), additionalData: aad, tagLength: 128 },
      imported, blob.subarray(12));
    return new Uint8Array(opened);
  }

  async function encryptWithDek(dek, plaintext, aad, nonce) {
    const key = await crypto.subtle.importKey("raw", dek, "AES-GCM", false, ["encrypt"]);
    const iv = nonce || crypto.getRandomValues(new Uint8Array(12));
    const sealed = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: iv, additionalData: aad, tagLength: 128 }, key, plaintext);
    return concat(iv, new Uint8Array(sealed));
  }

  /* Damm's check digit: catches every single wrong digit and every swap of neighbours. */
  const DAMM = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2], [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9], [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8], [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4], [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5], [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
  ];

  function dammCheckDigit(digits) {
    let interim = 0;
    for (const char of digits) interim = DAMM[interim][char.charCodeAt(0) - 48];
    return String(interim);
  }

  function formatReceipt(canonical) {
    return canonical.match(/.{1,4}/g).join(" ");
  }

  /* 27 uniformly random digits (rejection sampling over 96 random bits) and a check digit. */
  function generateReceipt() {
    const limit = 10n ** BigInt(RANDOM_DIGITS);
    const range = 2n ** 96n;
    const usable = range - (range % limit);
    for (;;) {
      let value = 0n;
      for (const byte of crypto.getRandomValues(new Uint8Array(12))) {
        value = (value << 8n) | BigInt(byte);
      }
      if (value < usable) {
        const digits = (value % limit).toString().padStart(RANDOM_DIGITS, "0");
        return formatReceipt(digits + dammCheckDigit(digits));
      }
    }
  }

  const SEPARATORS = new Set(Array.from(
    " \t\r\n-_.\u00a0\u2007\u202f\u2009\u200a\u3000\u200e\u200f\u061c\u2066\u2067\u2068\u2069" +
    "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u0640\ufe63\uff0d"));

  class InvalidReceipt extends Error {}

  /* The same normalisation as hrd_reports.crypto.receipts.normalise_receipt. */
  function normaliseReceipt(typed) {
    let digits = "";
    for (const char of typed.normalize("NFKC")) {
      const code = char.codePointAt(0);
      if (code >= 0x30 && code <= 0x39) digits += char;
      else if (code >= 0x660 && code <= 0x669) digits += String(code - 0x660);
      else if (code >= 0x6f0 && code <= 0x6f9) digits += String(code - 0x6f0);
      else if (!SEPARATORS.has(char)) throw new InvalidReceipt("a receipt has only digits");
    }
    if (digits.length !== RECEIPT_DIGITS) throw new InvalidReceipt("wrong number of digits");
    if (dammCheckDigit(digits) !== "0") throw new InvalidReceipt("typing mistake");
    return digits;
  }

  async function hkdf(canonical, info, length) {
    const key = await crypto.subtle.importKey(
      "raw", encoder.encode(canonical), "HKDF", false, ["deriveBits"]);
    const bits = await crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt: encoder.encode("hrd-reports/1/receipt"),
        info: encoder.encode(info) },
      key, length * 8);
    return new Uint8Array(bits);
  }

  async function deriveReceiptKeys(typed) {
    const canonical = normaliseReceipt(typed);
    const lookupToken = await hkdf(canonical, "hrd-reports/1/receipt/lookup-token", 32);
    const seed = await hkdf(canonical, "hrd-reports/1/receipt/reporter-key", 32);
    const messageKey = await hkdf(canonical, "hrd-reports/1/receipt/message-key", 32);
    const kem = suite().kem;
    // generateKeyPairDerand expands the seed as Python does (SHAKE256 into ML-KEM + X25519).
    const pair = await kem.generateKeyPairDerand(seed.slice());
    const publicKey = new Uint8Array(await kem.serializePublicKey(pair.publicKey));
    return { canonical: canonical, lookupToken: lookupToken, seed: seed, messageKey: messageKey,
             publicKey: publicKey, privateKey: pair.privateKey };
  }

  async function keyIdOf(publicKey) {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", publicKey));
    return toHex(digest).slice(0, 32);
  }

  /* The submission the reference client builds. ``fixed.reportId`` and ``fixed.dek`` are
     given when files were already encrypted under them (the DEK is wiped here); its nonces
     are for known-answer tests only. */
  async function buildSubmission(content, intakeKey, receipt, fixed) {
    fixed = fixed || {};
    if (intakeKey.suite !== SUITE) throw new Error("unsupported suite");
    if ((await keyIdOf(intakeKey.publicKey)) !== intakeKey.keyId) {
      throw new Error("the intake key does not match its id");
    }
    const fixedNonces = [fixed.bodyNonce, fixed.reporterKeyNonce, fixed.messageKeyNonce]
      .filter((nonce) => nonce).map(toHex);
    if (new Set(fixedNonces).size !== fixedNonces.length) {
      throw new Error("two encryptions under one DEK must never share a nonce");
    }
    const reportId = fixed.reportId || crypto.randomUUID();
    const dek = fixed.dek || crypto.getRandomValues(new Uint8Array(32));
    const hpke = suite();
    const recipientPublicKey = await hpke.kem.deserializePublicKey(intakeKey.publicKey);
    const sealed = await hpke.seal({ recipientPublicKey: recipientPublicKey,
                                     info: bind("report-dek", reportId) }, dek);
    const keys = await deriveReceiptKeys(receipt);
    const body = await encryptWithDek(dek, pad(content), bind("report-body", reportId),
                                      fixed.bodyNonce);
    const reporterKey = await encryptWithDek(dek, keys.publicKey, bind("reporter-key", reportId),
                                             fixed.reporterKeyNonce);
    const messageKey = await encryptWithDek(dek, keys.messageKey, bind("message-key", reportId),
                                            fixed.messageKeyNonce);
    dek.fill(0);
    return {
      version: PROTOCOL,
      report_id: reportId,
      suite: SUITE,
      intake_key_id: intakeKey.keyId,
      sealed_dek: toBase64(concat(new Uint8Array(sealed.enc), new Uint8Array(sealed.ct))),
      body: toBase64(body),
      reporter_key: toBase64(reporterKey),
      message_key: toBase64(messageKey),
      lookup_token: toBase64(keys.lookupToken),
    };
  }

  /* The follow-up conversation: the twin of hrd_reports/crypto/messages.py. */
  function messageSubject(reportId, messageId) {
    return reportId + "/" + messageId;
  }

  async function encryptReporterMessage(keys, text, reportId, messageId) {
    const padded = pad(encoder.encode(text), MAX_MESSAGE_BUCKET);
    return encryptWithDek(keys.messageKey, padded,
                          bind("reporter-message", messageSubject(reportId, messageId)));
  }

  async function decryptReporterMessage(keys, blob, reportId, messageId) {
    const padded = await decryptWithKey(
      keys.messageKey, blob, bind("reporter-message", messageSubject(reportId, messageId)));
    return new TextDecoder("utf-8", { fatal: true }).decode(unpad(padded));
  }

  async function openReply(keys, blob, reportId, messageId) {
    const hpke = suite();
    const encSize = hpke.kem.encSize;
    const opened = await hpke.open({
      recipientKey: keys.privateKey,
      enc: blob.slice(0, encSize).buffer,
      info: bind("reply", messageSubject(reportId, messageId)),
    }, blob.slice(encSize).buffer);
    const padded = new Uint8Array(opened);
    return new TextDecoder("utf-8", { fatal: true }).decode(unpad(padded));
  }

  window.HrdEnvelope = Object.freeze({
    SUITE: SUITE,
    bind: bind,
    pad: pad,
    toBase64: toBase64,
    fromBase64: fromBase64,
    toHex: toHex,
    dammCheckDigit: dammCheckDigit,
    generateReceipt: generateReceipt,
    normaliseReceipt: normaliseReceipt,
    deriveReceiptKeys: deriveReceiptKeys,
    keyIdOf: keyIdOf,
    buildSubmission: buildSubmission,
    encryptReporterMessage: encryptReporterMessage,
    decryptReporterMessage: decryptReporterMessage,
    openReply: openReply,
    MAX_MESSAGE_BYTES: MAX_MESSAGE_BUCKET - 4,
    InvalidReceipt: InvalidReceipt,
  });
})();
