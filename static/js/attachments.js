/* Evidence files, encrypted in the browser chunk by chunk: the twin of
 * hrd_reports/crypto/attachments.py, whose docstring fixes the format; for fixed nonces this
 * builds the very same bytes (tests/browser/test_attachments_crypto.py).
 *
 * A file is read with File.slice, one 1 MiB chunk at a time, and never held whole: evidence
 * can be a 100 MB video on a phone. Each chunk is padded (Padmé), sealed with AES-256-GCM
 * under the file's own key (HKDF from the report's DEK or the reporter's message key, never
 * extractable from WebCrypto) and sent in its own request, so a connection that drops loses
 * one chunk, not the file. Photos (JPEG, PNG, WebP) lose their metadata (place, time, phone)
 * here, before encryption, unless the reporter chose to keep the original. Only vetted
 * primitives: WebCrypto, and the pinned bundle's incremental SHA-256 (HPKE.sha256).
 * Exposed as window.HRDAttachments.
 */
"use strict";
(function () {
  const CHUNK_SIZE = 1024 * 1024;
  const NONCE_SIZE = 12;
  const CHUNK_OVERHEAD = NONCE_SIZE + 16;
  const MIN_PADDED_SIZE = 4096;
  const MAX_RECORD_BUCKET = 4096;
  const MAX_NAME_CHARS = 255;
  const MAX_MEDIA_TYPE_CHARS = 127;
  const REPORT_OWNER = "report";
  // A photo is cleaned in memory (its segments are not in chunk order). Past this, a phone
  // would run out of memory: such a "photo" is refused, never sent with its metadata.
  const MAX_PHOTO_BYTES = 64 * 1024 * 1024;
  const SNIFF_BYTES = 64;
  const REQUEST = Object.freeze({
    credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer", redirect: "error",
  });
  const CHUNK_TIMEOUT_MS = 180 * 1000;
  const JSON_TIMEOUT_MS = 60 * 1000;
  // Seconds between tries over a connection that drops (Tor circuits do); the last one fails.
  const RETRY_DELAYS = [1, 2, 4, 8, 15, 30, 30, 30];

  /* A refusal the page can name (too large, a photo that cannot be cleaned, a full desk...):
     ``code`` is the server's or one of this module's, ``index`` the file it concerns. */
  class FileRefused extends Error {
    constructor(code, index) {
      super("file refused: " + code);
      this.code = code;
      this.index = index;
    }
  }

  /* --- The format ---------------------------------------------------------------------- */

  function bind(purpose, parts) {
    // As crypto.contexts.bind: a part holding the separator would bind ambiguously.
    if (parts.some((part) => !part || part.includes("/"))) throw new Error("bad binding");
    return HrdEnvelope.bind(purpose, parts.join("/"));
  }

  function subjects(ids) {
    return [ids.reportId, ids.messageId || REPORT_OWNER, ids.attachmentId];
  }

  function bitLength(value) {
    let bits = 0;
    for (; value >= 1; value = Math.floor(value / 2)) bits++;
    return bits;
  }

  /* Padmé, as padded_size(): keep the top floor(log2(E)) + 1 bits of the length. */
  function paddedSize(size) {
    if (!Number.isSafeInteger(size) || size < 0) throw new Error("bad size");
    if (size <= MIN_PADDED_SIZE) return MIN_PADDED_SIZE;
    const exponent = bitLength(size) - 1;
    const unit = Math.pow(2, exponent - bitLength(exponent));
    return Math.ceil(size / unit) * unit;
  }

  function layoutOf(size) {
    const padded = paddedSize(size);
    const chunks = Math.ceil(padded / CHUNK_SIZE);
    return { size: size, padded: padded, chunks: chunks, stored: padded + chunks * CHUNK_OVERHEAD };
  }

  function plaintextLength(layout, index) {
    return index < layout.chunks - 1 ? CHUNK_SIZE : layout.padded - (layout.chunks - 1) * CHUNK_SIZE;
  }

  async function fileKey(sourceKey, ids) {
    const base = await crypto.subtle.importKey("raw", sourceKey, "HKDF", false, ["deriveKey"]);
    // An empty salt is HKDF's default (HashLen zeros), as salt=None in Python.
    return crypto.subtle.deriveKey(
      { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0),
        info: bind("attachment-key", subjects(ids)) },
      base, { name: "AES-GCM", length: 256 }, false, ["encrypt"]);
  }

  async function seal(key, plaintext, aad, nonce) {
    const iv = nonce || crypto.getRandomValues(new Uint8Array(NONCE_SIZE));
    const sealed = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: iv, additionalData: aad, tagLength: 128 }, key, plaintext);
    const out = new Uint8Array(NONCE_SIZE + sealed.byteLength);
    out.set(iv, 0);
    out.set(new Uint8Array(sealed), NONCE_SIZE);
    return out;
  }

  function sealChunk(key, ids, layout, index, plaintext, nonce) {
    const last = index === layout.chunks - 1 ? "last" : "more";
    return seal(key, plaintext, bind("attachment-chunk", [...subjects(ids), String(index), last]),
                nonce);
  }

  /* Chunk ``index``'s plaintext: the file's bytes there, zeros past its end. */
  async function chunkPlaintext(source, layout, index) {
    const start = index * CHUNK_SIZE;
    const plaintext = new Uint8Array(plaintextLength(layout, index));
    const end = Math.min(start + plaintext.length, source.size);
    let content = plaintext.subarray(0, 0);
    if (end > start) {
      content = await source.read(start, end);
      // A file changed on disk since it was chosen: refused, never sent half old, half new.
      if (content.length !== end - start) throw new FileRefused("file_changed");
      plaintext.set(content, 0);
    }
    return { plaintext: plaintext, content: content };
  }

  /* Python's json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False): the keys
     in sorted order; JSON.stringify escapes strings exactly as Python does otherwise. */
  function recordJson(record) {
    const ordered = {
      metadata: record.metadata, name: record.name, sha256: record.sha256,
      sha256_sent: record.sha256_sent, size: record.size, type: record.type,
    };
    return new TextEncoder().encode(JSON.stringify(ordered));
  }

  function sealRecord(key, ids, record, nonce) {
    return seal(key, HrdEnvelope.pad(recordJson(record), MAX_RECORD_BUCKET),
                bind("attachment-record", subjects(ids)), nonce);
  }

  /* A name the record can hold: well-formed (a lone surrogate would not encode as UTF-8), at
     most 255 characters (code points, as Python counts), never empty. */
  function recordName(name) {
    const chars = Array.from(String(name || "").replace(/[\ud800-\udfff]/gu, "\ufffd"));
    return chars.slice(0, MAX_NAME_CHARS).join("") || "file";
  }

  function recordType(type) {
    const text = String(type || "");
    return text.length <= MAX_MEDIA_TYPE_CHARS && !/[\ud800-\udfff]/u.test(text) ? text : "";
  }

  /* Seals every chunk of ``prepared.source`` in order, hashing what is sent as it goes, and
     then its record. ``onChunk(index, blob)`` takes each sealed chunk (and may upload it);
     ``nonces`` is for known-answer tests only. */
  async function sealFile(sourceKey, ids, prepared, onChunk, nonces) {
    const key = await fileKey(sourceKey, ids);
    const layout = layoutOf(prepared.source.size);
    const sent = HPKE.sha256.create();
    for (let index = 0; index < layout.chunks; index++) {
      const { plaintext, content } = await chunkPlaintext(prepared.source, layout, index);
      sent.update(content);
      await onChunk(index, await sealChunk(key, ids, layout, index, plaintext,
                                           nonces && nonces.chunks[index]));
    }
    const sentHex = HrdEnvelope.toHex(sent.digest());
    const record = {
      metadata: prepared.metadata, name: recordName(prepared.name),
      sha256: prepared.originalSha256 || sentHex, sha256_sent: sentHex,
      size: prepared.source.size, type: recordType(prepared.type),
    };
    return { key: key, layout: layout, record: record,
             sealedRecord: await sealRecord(key, ids, record, nonces && nonces.record) };
  }

  function bytesSource(bytes) {
    return { size: bytes.length, read: async (start, end) => bytes.subarray(start, end) };
  }

  function fileSource(file) {
    return { size: file.size,
             read: async (start, end) => new Uint8Array(await file.slice(start, end).arrayBuffer()) };
  }

  /* The chunks and record of ``bytes`` (a Uint8Array), as encrypt_chunk and encrypt_record
     build them in Python: with ``nonces`` ({chunks: [...], record}) fixed, for known-answer
     tests only; with null, random as for an upload. */
  async function sealBytes(sourceKey, ids, bytes, about, nonces) {
    const chunks = [];
    const sealed = await sealFile(sourceKey, ids, {
      source: bytesSource(bytes), name: about.name, type: about.type, metadata: about.metadata,
      originalSha256: about.sha256 || null,
    }, async (index, blob) => { chunks.push(blob); }, nonces);
    return { chunks: chunks, record: sealed.sealedRecord, json: sealed.record,
             layout: sealed.layout };
  }

  /* --- Photos -------------------------------------------------------------------------- */

  /* "jpeg", "png", "webp" or null, from the file's first bytes (metadata.js decides). */
  async function sniff(file) {
    const head = new Uint8Array(await file.slice(0, SNIFF_BYTES).arrayBuffer());
    return HRDMetadata.sniff(head);
  }

  /* What is sent of a file: a photo without its metadata (unless kept), anything else as it
     is, with what was done recorded. */
  async function prepare(file, keepOriginal, index) {
    const about = { name: file.name, type: file.type, source: fileSource(file),
                    metadata: "not-checked", originalSha256: null };
    const kind = await sniff(file);
    if (!kind) return about;
    if (keepOriginal) return Object.assign(about, { metadata: "kept" });
    if (file.size > MAX_PHOTO_BYTES) throw new FileRefused("photo_too_large", index);
    const original = new Uint8Array(await file.arrayBuffer());
    let cleaned;
    try {
      cleaned = HRDMetadata.strip(original);
    } catch (error) {
      // A photo that does not hold together cannot be cleaned: it is not sent as it is
      // unless the reporter chooses so.
      throw new FileRefused("photo_unreadable", index);
    }
    return Object.assign(about, {
      source: bytesSource(cleaned.bytes), metadata: "removed",
      originalSha256: HrdEnvelope.toHex(HPKE.sha256(original)),
    });
  }

  /* --- Uploads ------------------------------------------------------------------------- */

  const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

  /* A fetch that gives up after ``timeout``: a stalled connection counts as a dropped one. */
  async function call(path, init, timeout) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeout);
    try {
      return await fetch(path, Object.assign({ signal: abort.signal }, init, REQUEST));
    } finally {
      clearTimeout(timer);
    }
  }

  // A busy or restarting server, or a proxy that gave up: the same request later may pass.
  const transient = (status) => status === 408 || status === 429 || status >= 500;
  const unavailable = (status) => status === 408 || status >= 500;

  async function refusalCode(response) {
    try {
      const body = await response.json();
      if (body && body.detail && typeof body.detail.code === "string") return body.detail.code;
    } catch (error) { /* not JSON: named by its status below */ }
    return "status_" + response.status;
  }

  /* The server's view of an upload, checked against what this page is sending. */
  async function statusOf(upload, answer) {
    const body = await answer.json();
    if (!body || body.chunk_size !== CHUNK_SIZE || body.chunks !== upload.layout.chunks ||
        !Array.isArray(body.missing) ||
        !body.missing.every((i) => Number.isInteger(i) && i >= 0 && i < upload.layout.chunks)) {
      throw new Error("the upload's status is malformed");
    }
    return new Set(body.missing);
  }

  /* Tries ``attempt`` until it answers, waiting longer each time the connection fails. */
  async function withRetries(attempt, delays, retryable) {
    for (let tried = 0; ; tried++) {
      let response = null;
      try {
        response = await attempt();
      } catch (error) { /* dropped or timed out: tried again */ }
      if (response && !(retryable || transient)(response.status)) return response;
      if (tried >= delays.length) throw new Error("the connection failed too often");
      await sleep(delays[tried]);
    }
  }

  async function create(upload, context) {
    let proof = await context.proofOfWork();
    for (let fresh = 0; ; fresh++) {
      const body = {
        proof_of_work: proof, report_id: context.reportId, message_id: context.messageId || null,
        attachment_id: upload.ids.attachmentId, chunks: upload.layout.chunks,
        size: upload.layout.stored,
      };
      // The same body again after a lost answer: the server answers 200 for this very upload
      // without spending a new proof of work.
      const response = await withRetries(() => call("/api/v1/uploads", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      }, JSON_TIMEOUT_MS), context.delays, unavailable);
      if (response.status === 200 || response.status === 201) return statusOf(upload, response);
      const code = await refusalCode(response);
      // A proof of work refused (spent, expired, or the desk asks for harder ones now): one
      // more, solved afresh. Its refusals are the only 400 and 429 answers here but these.
      const layoutRefused = code === "bad_layout";
      if ((response.status === 400 || response.status === 429) && fresh === 0 && !layoutRefused) {
        proof = await context.proofOfWork();
        continue;
      }
      throw new FileRefused(code, upload.index);
    }
  }

  async function missingNow(upload, context) {
    const response = await withRetries(() => call(
      "/api/v1/uploads/" + upload.ids.attachmentId, { method: "GET" }, JSON_TIMEOUT_MS),
      context.delays);
    if (response.status !== 200) throw new FileRefused(await refusalCode(response), upload.index);
    return statusOf(upload, response);
  }

  /* One chunk, to the server, the same bytes on every try (the server keeps the first and
     refuses other bytes at a stored index). After a failure, the server is asked what it
     has: a chunk stored whose answer was lost is not sent again. */
  async function putChunk(upload, index, blob, context) {
    for (let tried = 0; ; tried++) {
      let response = null;
      try {
        response = await call(
          "/api/v1/uploads/" + upload.ids.attachmentId + "/chunks/" + index,
          { method: "PUT", headers: { "Content-Type": "application/octet-stream" }, body: blob },
          CHUNK_TIMEOUT_MS);
      } catch (error) { /* dropped or timed out: asked below */ }
      if (response && response.status === 200) return;
      if (response && !transient(response.status)) {
        throw new FileRefused(await refusalCode(response), upload.index);
      }
      if (tried >= context.delays.length) throw new Error("the connection failed too often");
      await sleep(context.delays[tried]);
      if (!(await missingNow(upload, context)).has(index)) return;
    }
  }

  /* The chunk in flight is kept until stored: a call after this one failed sends these very
     bytes, in case the server stored them without its answer reaching this page. */
  async function putKept(upload, index, blob, context) {
    if (upload.inflight && upload.inflight.index === index) blob = upload.inflight.blob;
    upload.inflight = { index: index, blob: blob };
    await putChunk(upload, index, blob, context);
    upload.inflight = null;
  }

  /* Sends one file: created once (one proof of work), then every chunk the server lacks. A
     second call after a failure picks up where the first stopped. */
  async function sendOne(upload, context) {
    if (upload.done) return upload.done;
    const progress = (chunk) => context.onProgress(upload.index, chunk, upload.layout.chunks);
    let missing = upload.created ? await missingNow(upload, context)
                                 : await create(upload, context);
    upload.created = true;
    const sealed = await sealFile(context.sourceKey, upload.ids, upload.prepared,
      async (index, blob) => {
        if (missing.has(index)) await putKept(upload, index, blob, context);
        progress(index + 1);
      });
    // Chunks the server lost or never got in order: sealed again (with a fresh nonce: it
    // holds no bytes at those indices) and sent.
    for (let round = 0; (missing = await missingNow(upload, context)).size > 0; round++) {
      if (round >= 3) throw new Error("the upload does not complete");
      for (const index of missing) {
        const { plaintext } = await chunkPlaintext(upload.prepared.source, upload.layout, index);
        await putKept(upload, index,
                      await sealChunk(sealed.key, upload.ids, upload.layout, index, plaintext),
                      context);
      }
    }
    upload.done = { id: upload.ids.attachmentId, record: HrdEnvelope.toBase64(sealed.sealedRecord) };
    return upload.done;
  }

  /* The uploads of the chosen files ([{file, keepOriginal}]) for one report or message. */
  function plan(choices) {
    return choices.map((choice, index) => ({
      index: index, file: choice.file, keepOriginal: Boolean(choice.keepOriginal),
      prepared: null, layout: null, ids: null, created: false, inflight: null, done: null,
    }));
  }

  /* Sends every planned file, one after the other, and answers the list a report or message
     carries ([{id, record}]) only once every one is complete. ``context``: sourceKey (the
     DEK or message key, 32 bytes), reportId, messageId (null for the report's own files),
     proofOfWork() (a fresh one per upload), onProgress(file, done, total) per file and
     onOverall(fraction) for all. The same uploads and context again resume after a failure. */
  async function sendAll(uploads, context) {
    context = Object.assign({ delays: RETRY_DELAYS, onProgress: () => {}, onOverall: () => {} },
                            context);
    for (const upload of uploads) {
      if (upload.prepared) continue;
      upload.prepared = await prepare(upload.file, upload.keepOriginal, upload.index);
      upload.layout = layoutOf(upload.prepared.source.size);
      upload.ids = { reportId: context.reportId, messageId: context.messageId || null,
                     attachmentId: crypto.randomUUID() };
    }
    const total = uploads.reduce((sum, upload) => sum + upload.layout.chunks, 0);
    const before = (upload) => uploads.slice(0, upload.index)
      .reduce((sum, earlier) => sum + earlier.layout.chunks, 0);
    const inner = context.onProgress;
    context.onProgress = (index, done, chunks) => {
      inner(index, done, chunks);
      context.onOverall((before(uploads[index]) + done) / total);
    };
    const attached = [];
    for (const upload of uploads) attached.push(await sendOne(upload, context));
    return attached;
  }

  window.HRDAttachments = Object.freeze({
    CHUNK_SIZE: CHUNK_SIZE,
    MAX_PHOTO_BYTES: MAX_PHOTO_BYTES,
    FileRefused: FileRefused,
    paddedSize: paddedSize,
    layoutOf: layoutOf,
    sniff: sniff,
    plan: plan,
    sendAll: sendAll,
    sealBytes: sealBytes,
  });
})();
