/* Removing a photo's metadata (place, time, device, author) in the browser, before encryption.
 *
 * The twin of hrd_reports/photos.py: the same rules, the same output bytes for the same input
 * (tests/browser/test_metadata_js.py holds them together); read that module's docstring for
 * what is kept and why. In short, nothing is re-encoded: JPEG keeps the segments a decoder
 * needs plus APP0 JFIF (no thumbnail), APP2 ICC_PROFILE and APP14 Adobe, and loses every other
 * APPn, COM, and all after the first EOI; PNG keeps critical, colour and animation chunks and
 * checks every CRC; WebP loses EXIF, XMP and unknown chunks, with the VP8X flags and RIFF size
 * rewritten. The EXIF orientation tag goes too (the photo may then show sideways): keeping it
 * would mean rewriting EXIF, where a mistake leaks what it missed.
 *
 * HEIC is not handled: sniff answers null and the page warns. Malformed input throws
 * HRDMetadata.PhotoMalformed, whose message never quotes the file. Exposed as
 * window.HRDMetadata.
 */
"use strict";
(function () {
  class PhotoMalformed extends Error {}

  const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

  function ascii(text) {
    return Array.from(text, (char) => char.charCodeAt(0));
  }

  function startsWith(bytes, offset, prefix) {
    if (offset + prefix.length > bytes.length) return false;
    for (let i = 0; i < prefix.length; i++) {
      if (bytes[offset + i] !== prefix[i]) return false;
    }
    return true;
  }

  function fourcc(bytes, offset) {
    return String.fromCharCode(bytes[offset], bytes[offset + 1], bytes[offset + 2],
      bytes[offset + 3]);
  }

  function u16be(bytes, offset) {
    return bytes[offset] * 0x100 + bytes[offset + 1];
  }

  function u32be(bytes, offset) {
    return bytes[offset] * 0x1000000 + bytes[offset + 1] * 0x10000 +
      bytes[offset + 2] * 0x100 + bytes[offset + 3];
  }

  function u32le(bytes, offset) {
    return bytes[offset + 3] * 0x1000000 + bytes[offset + 2] * 0x10000 +
      bytes[offset + 1] * 0x100 + bytes[offset];
  }

  function concat(parts) {
    let length = 0;
    for (const part of parts) length += part.length;
    const out = new Uint8Array(length);
    let offset = 0;
    for (const part of parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }

  function sameBytes(a, b) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) return false;
    }
    return true;
  }

  function sniff(bytes) {
    if (startsWith(bytes, 0, [0xff, 0xd8, 0xff])) return "jpeg";
    if (startsWith(bytes, 0, PNG_SIGNATURE)) return "png";
    if (startsWith(bytes, 0, ascii("RIFF")) && startsWith(bytes, 8, ascii("WEBP"))) return "webp";
    return null;
  }

  /* --- JPEG ------------------------------------------------------------------------------ */

  const SOI = 0xd8, EOI = 0xd9, SOS = 0xda, TEM = 0x01, APP0 = 0xe0, APP2 = 0xe2;
  const APP14 = 0xee, COM = 0xfe;
  const ICC_PROFILE = ascii("ICC_PROFILE\0");
  const ADOBE = ascii("Adobe");
  const JFIF = ascii("JFIF\0");

  function isRestart(code) {
    return code >= 0xd0 && code <= 0xd7;
  }

  function jpegKeep(code, bytes, payload) {
    if (code === APP2) return startsWith(bytes, payload, ICC_PROFILE);
    if (code === APP14) return startsWith(bytes, payload, ADOBE);
    return !((code >= APP0 && code <= 0xef) || code === COM);
  }

  /* Where the marker that ends the entropy-coded data from pos starts: in a scan 0xFF is
     followed by 0x00 (a stuffed byte), RST0-7 (part of the scan) or more 0xFF (fill). */
  function nextMarker(bytes, pos) {
    for (;;) {
      pos = bytes.indexOf(0xff, pos);
      if (pos < 0 || pos + 1 >= bytes.length) {
        throw new PhotoMalformed("the JPEG ends inside its image data");
      }
      const code = bytes[pos + 1];
      if (code === 0xff) pos += 1;
      else if (code === 0x00 || isRestart(code)) pos += 2;
      else return pos;
    }
  }

  /* APP0 "JFIF" without its thumbnail (it can show what a crop removed); any other APP0 is
     dropped. The payload: "JFIF\0", version (2), units (1), densities (4), thumbnail size (2). */
  function jfif(bytes, start, payload, end) {
    const length = end - payload;
    if (!startsWith(bytes, payload, JFIF) || length < 14) return new Uint8Array(0);
    if (length === 14 && bytes[payload + 12] === 0 && bytes[payload + 13] === 0) {
      return bytes.subarray(start, end);
    }
    return concat([[0xff, 0xe0, 0x00, 0x10], bytes.subarray(payload, payload + 12), [0, 0]]);
  }

  /* The code of the marker at pos and where what follows it starts. */
  function marker(bytes, pos) {
    if (pos >= bytes.length || bytes[pos] !== 0xff) {
      throw new PhotoMalformed("the JPEG has data where a marker should be");
    }
    while (pos < bytes.length && bytes[pos] === 0xff) pos += 1; // fill bytes may precede it
    if (pos >= bytes.length) throw new PhotoMalformed("the JPEG ends inside a marker");
    return { code: bytes[pos], next: pos + 1 };
  }

  function stripJpeg(bytes) {
    const out = [bytes.subarray(0, 2)];
    let pos = 2;
    let inScan = false;
    for (;;) {
      if (inScan) {
        const next = nextMarker(bytes, pos);
        out.push(bytes.subarray(pos, next));
        pos = next;
      }
      const start = pos;
      const found = marker(bytes, pos);
      const code = found.code;
      pos = found.next;
      if (code === EOI) {
        if (!inScan) throw new PhotoMalformed("the JPEG ends before its image data");
        out.push(bytes.subarray(start, pos));
        return concat(out); // whatever follows the image is dropped
      }
      if (code === TEM || isRestart(code)) {
        out.push(bytes.subarray(start, pos));
        continue;
      }
      if (code === 0x00 || code === SOI) {
        throw new PhotoMalformed("the JPEG has a marker out of place");
      }
      if (pos + 2 > bytes.length) {
        throw new PhotoMalformed("the JPEG ends inside a segment's length");
      }
      const end = pos + u16be(bytes, pos);
      if (end < pos + 2 || end > bytes.length) {
        throw new PhotoMalformed("a JPEG segment's length is wrong");
      }
      const payload = pos + 2;
      pos = end;
      if (code === APP0) out.push(jfif(bytes, start, payload, end));
      else if (jpegKeep(code, bytes, payload)) out.push(bytes.subarray(start, end));
      inScan = inScan || code === SOS;
    }
  }

  /* --- PNG ------------------------------------------------------------------------------- */

  const PNG_KEEP = new Set(
    "gAMA cHRM sRGB iCCP sBIT cICP mDCV cLLI pHYs tRNS bKGD acTL fcTL fdAT".split(" "));

  const CRC_TABLE = (function () {
    const table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
    return table;
  })();

  function crc32(bytes, start, end) {
    let c = 0xffffffff;
    for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  }

  function isLetter(code) {
    return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
  }

  function stripPng(bytes) {
    const out = [bytes.subarray(0, 8)];
    let pos = 8;
    for (;;) {
      if (pos + 12 > bytes.length) throw new PhotoMalformed("the PNG ends inside a chunk");
      const length = u32be(bytes, pos);
      const end = pos + 12 + length;
      if (length > 0x7fffffff || end > bytes.length) {
        throw new PhotoMalformed("a PNG chunk's length is wrong");
      }
      for (let i = pos + 4; i < pos + 8; i++) {
        if (!isLetter(bytes[i])) throw new PhotoMalformed("a PNG chunk's type is not four letters");
      }
      if (crc32(bytes, pos + 4, end - 4) !== u32be(bytes, end - 4)) {
        throw new PhotoMalformed("a PNG chunk's checksum is wrong");
      }
      const kind = fourcc(bytes, pos + 4);
      if (pos === 8 && kind !== "IHDR") {
        throw new PhotoMalformed("the PNG does not start with its header");
      }
      // An upper-case first letter marks a chunk that a decoder cannot do without.
      if (bytes[pos + 4] <= 0x5a || PNG_KEEP.has(kind)) out.push(bytes.subarray(pos, end));
      pos = end;
      if (kind === "IEND") return concat(out); // whatever follows IEND is dropped
    }
  }

  /* --- WebP ------------------------------------------------------------------------------ */

  const WEBP_KEEP = new Set(["VP8X", "ICCP", "ANIM", "ANMF", "ALPH", "VP8 ", "VP8L"]);
  const WEBP_IMAGE = new Set(["VP8X", "VP8 ", "VP8L"]);
  const VP8X_EXIF_XMP = 0x08 | 0x04;

  function stripWebp(bytes) {
    if (bytes.length < 12) throw new PhotoMalformed("the WebP ends inside its header");
    const bodyEnd = 8 + u32le(bytes, 4);
    if (bodyEnd < 12 || bodyEnd > bytes.length) {
      throw new PhotoMalformed("the WebP's RIFF size is wrong");
    }
    const chunks = [];
    let pos = 12;
    while (pos < bodyEnd) {
      if (pos + 8 > bodyEnd) throw new PhotoMalformed("the WebP ends inside a chunk");
      const name = fourcc(bytes, pos);
      const size = u32le(bytes, pos + 4);
      const end = pos + 8 + size + (size % 2); // a chunk is padded to an even length
      if (end > bodyEnd) throw new PhotoMalformed("a WebP chunk's size is wrong");
      if (pos === 12 && !WEBP_IMAGE.has(name)) {
        throw new PhotoMalformed("the WebP does not start with an image chunk");
      }
      if (name === "VP8X") {
        if (size < 10) throw new PhotoMalformed("the WebP's VP8X chunk is too short");
        const chunk = bytes.slice(pos, end);
        chunk[8] &= ~VP8X_EXIF_XMP;
        chunks.push(chunk);
      } else if (WEBP_KEEP.has(name)) {
        chunks.push(bytes.subarray(pos, end));
      }
      pos = end;
    }
    if (chunks.length === 0) throw new PhotoMalformed("the WebP holds no image");
    const out = concat([ascii("RIFF"), [0, 0, 0, 0], ascii("WEBP"), ...chunks]);
    new DataView(out.buffer).setUint32(4, out.length - 8, true); // anything after RIFF dropped
    return out;
  }

  /* --- Both -------------------------------------------------------------------------------- */

  const STRIP = { jpeg: stripJpeg, png: stripPng, webp: stripWebp };

  /* {bytes, kind, removed}: the photo without its metadata; anything that is not a known photo
     comes back as it is, with kind null. removed says whether the bytes changed. */
  function strip(bytes) {
    if (!(bytes instanceof Uint8Array)) throw new TypeError("strip takes a Uint8Array");
    const kind = sniff(bytes);
    if (kind === null) return { bytes: bytes, kind: null, removed: false };
    const out = STRIP[kind](bytes);
    return { bytes: out, kind: kind, removed: !sameBytes(out, bytes) };
  }

  window.HRDMetadata = Object.freeze({
    sniff: sniff,
    strip: strip,
    PhotoMalformed: PhotoMalformed,
  });
})();
