"""Removing the metadata a photo carries (place, time, device, author) before it is sent.

A photo taken as evidence often says more than its pixels: GPS coordinates, the time it was
taken, the phone's make, model and serial number, the editing software, the photographer's
name. For a reporter at risk these are the threat, so a JPEG, PNG or WebP loses them before it
is encrypted. static/js/metadata.js does the same in the browser and must give the same bytes
(tests/browser/test_metadata_js.py holds the two together); the server uses this module for
forms sent without JavaScript.

Nothing is re-encoded: whole segments or chunks are dropped and the rest is copied, so the
pixels are exactly those of the original. What is kept is a list of what a decoder needs;
everything else goes, including what nobody has named yet:

- JPEG: kept are the segments needed to decode (SOF, DHT, DQT, DRI, SOS and the scans, ...),
  APP0 "JFIF" (its optional thumbnail cut off: it can show what a crop removed), APP2
  "ICC_PROFILE" (colour) and APP14 "Adobe" (tells a decoder whether the data is RGB, YCbCr or
  CMYK). Dropped: every other APPn (APP1 EXIF, XMP and extended XMP; APP2 MPF and FlashPix;
  APP13 Photoshop/IPTC; makers' segments) and COM, wherever they stand (the format allows them
  between the scans of a progressive JPEG), and everything after the first image's EOI
  (phones append a second JPEG for "multi-picture" previews, depth or gain maps, or a motion
  photo's video, each with its own metadata).
- PNG: kept are the critical chunks (IHDR, PLTE, IDAT, IEND) and the chunks of colour,
  transparency and animation (gAMA, cHRM, sRGB, iCCP, sBIT, cICP, mDCV, cLLI, pHYs, tRNS,
  bKGD, acTL, fcTL, fdAT). Dropped: tEXt, zTXt, iTXt, eXIf, tIME and every other ancillary
  chunk, and anything after IEND. Every chunk's CRC is checked and kept as it is.
- WebP: kept are VP8X (its EXIF and XMP flags cleared), ICCP, ANIM, ANMF, ALPH, VP8 and VP8L;
  EXIF, XMP and unknown chunks are dropped, and the RIFF size is rewritten. An animation's
  frames (ANMF) are kept whole, as the frame's own image chunks are inside them.

The EXIF orientation tag goes with the rest of EXIF, so a phone photo whose pixels are stored
sideways may now show sideways. That is the safer choice: keeping one tag means rewriting
EXIF, a format with offsets and makers' notes in which a parser's mistake leaks what it missed.

An ICC profile is kept for the colours. A standard one names a colour space ("Display P3",
"sRGB") and the date the profile itself was made; a custom one may name a device's maker or
model. That is the price of correct colour; it is not the photo's time or place.

HEIC/HEIF (iPhones' default) is not handled: ``sniff`` answers None, nothing is removed, and
the page warns the reporter. Input that says it is a JPEG, PNG or WebP but does not hold
together raises ``PhotoMalformed``, whose message never quotes the file.
"""

import zlib
from dataclasses import dataclass
from enum import StrEnum


class PhotoKind(StrEnum):
    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"


class PhotoMalformed(ValueError):
    """The file says it is a photo of a known kind but is truncated or malformed."""


@dataclass(frozen=True)
class Stripped:
    data: bytes
    kind: PhotoKind | None
    removed: bool  # whether the output differs from the input: something was taken out


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def sniff(data: bytes) -> PhotoKind | None:
    """The kind of photo from its first bytes; None for anything else (HEIC included)."""
    if data[:3] == b"\xff\xd8\xff":
        return PhotoKind.JPEG
    if data[:8] == _PNG_SIGNATURE:
        return PhotoKind.PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return PhotoKind.WEBP
    return None


def strip_metadata(data: bytes) -> Stripped:
    """``data`` without its metadata; a file that is not a known photo comes back unchanged."""
    kind = sniff(data)
    if kind is None:
        return Stripped(data, None, removed=False)
    strip = {PhotoKind.JPEG: _strip_jpeg, PhotoKind.PNG: _strip_png, PhotoKind.WEBP: _strip_webp}
    out = strip[kind](bytes(data))
    return Stripped(out, kind, removed=out != data)


# --- JPEG ----------------------------------------------------------------------------------

_SOI, _EOI, _SOS, _TEM, _APP0, _APP2, _APP14, _COM = 0xD8, 0xD9, 0xDA, 0x01, 0xE0, 0xE2, 0xEE, 0xFE
_RST = range(0xD0, 0xD8)


def _jpeg_keep(code: int, payload: bytes) -> bool:
    # APP1 goes whole, EXIF orientation included: the photo may then show sideways, which is
    # safer than rewriting EXIF to keep one tag (see the module docstring).
    if code == _APP2:
        return payload.startswith(b"ICC_PROFILE\x00")
    if code == _APP14:
        return payload.startswith(b"Adobe")
    return not (_APP0 <= code <= 0xEF or code == _COM)  # APP0 (JFIF) is handled by the caller


def _next_marker(data: bytes, pos: int) -> int:
    """Where the marker that ends the entropy-coded data from ``pos`` starts.

    In a scan 0xFF is followed by 0x00 (a stuffed data byte), by RST0-7 (a restart, part of the
    scan) or by more 0xFF (fill); anything else is the next marker.
    """
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            raise PhotoMalformed("the JPEG ends inside its image data")
        code = data[pos + 1]
        if code == 0xFF:
            pos += 1
        elif code == 0x00 or code in _RST:
            pos += 2
        else:
            return pos


def _marker(data: bytes, pos: int) -> tuple[int, int]:
    """The code of the marker at ``pos`` and where what follows it starts."""
    if data[pos : pos + 1] != b"\xff":
        raise PhotoMalformed("the JPEG has data where a marker should be")
    while pos < len(data) and data[pos] == 0xFF:  # fill bytes may precede a marker
        pos += 1
    if pos >= len(data):
        raise PhotoMalformed("the JPEG ends inside a marker")
    return data[pos], pos + 1


def _strip_jpeg(data: bytes) -> bytes:
    out = [data[:2]]
    pos, in_scan = 2, False
    while True:
        if in_scan:
            marker = _next_marker(data, pos)
            out.append(data[pos:marker])
            pos = marker
        start = pos
        code, pos = _marker(data, pos)
        if code == _EOI:
            if not in_scan:
                raise PhotoMalformed("the JPEG ends before its image data")
            out.append(data[start:pos])
            return b"".join(out)  # whatever follows the image is dropped
        if code == _TEM or code in _RST:
            out.append(data[start:pos])
            continue
        if code in (0x00, _SOI):
            raise PhotoMalformed("the JPEG has a marker out of place")
        if pos + 2 > len(data):
            raise PhotoMalformed("the JPEG ends inside a segment's length")
        end = pos + int.from_bytes(data[pos : pos + 2], "big")
        if end < pos + 2 or end > len(data):
            raise PhotoMalformed("a JPEG segment's length is wrong")
        payload = data[pos + 2 : end]
        pos = end
        if code == _APP0:
            out.append(_jfif(data[start:end], payload))
        elif _jpeg_keep(code, payload):
            out.append(data[start:end])
        in_scan = in_scan or code == _SOS


def _jfif(segment: bytes, payload: bytes) -> bytes:
    """APP0 "JFIF" without its thumbnail; any other APP0 (JFXX thumbnails, ...) is dropped.

    The payload is "JFIF\\0", version (2), units (1), densities (2 + 2), then the thumbnail's
    width and height (1 + 1) and its pixels; the thumbnail is set to 0 x 0.
    """
    if not payload.startswith(b"JFIF\x00") or len(payload) < 14:
        return b""
    if len(payload) == 14 and payload[12:14] == b"\x00\x00":
        return segment  # no thumbnail: the bytes as they are (with any fill bytes)
    return b"\xff\xe0\x00\x10" + payload[:12] + b"\x00\x00"


# --- PNG -----------------------------------------------------------------------------------

_PNG_KEEP = frozenset(
    b"gAMA cHRM sRGB iCCP sBIT cICP mDCV cLLI pHYs tRNS bKGD acTL fcTL fdAT".split()
)


def _strip_png(data: bytes) -> bytes:
    view = memoryview(data)
    out = [data[:8]]
    pos = 8
    while True:
        if pos + 12 > len(data):
            raise PhotoMalformed("the PNG ends inside a chunk")
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > len(data):
            raise PhotoMalformed("a PNG chunk's length is wrong")
        if not kind.isalpha():  # bytes.isalpha: ASCII letters only
            raise PhotoMalformed("a PNG chunk's type is not four letters")
        if zlib.crc32(view[pos + 4 : end - 4]) != int.from_bytes(data[end - 4 : end], "big"):
            raise PhotoMalformed("a PNG chunk's checksum is wrong")
        if pos == 8 and kind != b"IHDR":
            raise PhotoMalformed("the PNG does not start with its header")
        # An upper-case first letter marks a chunk that a decoder cannot do without.
        if kind[:1].isupper() or kind in _PNG_KEEP:
            out.append(data[pos:end])
        pos = end
        if kind == b"IEND":
            return b"".join(out)  # whatever follows IEND is dropped


# --- WebP ----------------------------------------------------------------------------------

_WEBP_KEEP = frozenset([b"VP8X", b"ICCP", b"ANIM", b"ANMF", b"ALPH", b"VP8 ", b"VP8L"])
_WEBP_IMAGE = frozenset([b"VP8X", b"VP8 ", b"VP8L"])
_VP8X_EXIF_XMP = 0x08 | 0x04


def _strip_webp(data: bytes) -> bytes:
    if len(data) < 12:
        raise PhotoMalformed("the WebP ends inside its header")
    body_end = 8 + int.from_bytes(data[4:8], "little")
    if body_end < 12 or body_end > len(data):
        raise PhotoMalformed("the WebP's RIFF size is wrong")
    chunks: list[bytes] = []
    pos = 12
    while pos < body_end:
        if pos + 8 > body_end:
            raise PhotoMalformed("the WebP ends inside a chunk")
        fourcc = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        end = pos + 8 + size + (size & 1)  # a chunk is padded to an even length
        if end > body_end:
            raise PhotoMalformed("a WebP chunk's size is wrong")
        if pos == 12 and fourcc not in _WEBP_IMAGE:
            raise PhotoMalformed("the WebP does not start with an image chunk")
        if fourcc == b"VP8X":
            if size < 10:
                raise PhotoMalformed("the WebP's VP8X chunk is too short")
            flags = data[pos + 8] & ~_VP8X_EXIF_XMP
            chunks.append(data[pos : pos + 8] + bytes([flags]) + data[pos + 9 : end])
        elif fourcc in _WEBP_KEEP:
            chunks.append(data[pos:end])
        pos = end
    if not chunks:
        raise PhotoMalformed("the WebP holds no image")
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + len(body).to_bytes(4, "little") + body  # anything after the RIFF dropped
