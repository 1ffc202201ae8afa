"""Photos built at test time, in the shapes that cameras, phones and editors write.

Each sample carries its metadata with a canary: a string that must not survive removal. None is
committed as a binary file: Pillow (and piexif for an EXIF thumbnail) writes them, and the
segments that Pillow cannot write are put together here from their published layouts. Shared by
tests/unit/test_photos.py (the Python reference) and tests/browser/test_metadata_js.py (the
browser's twin, which must give the same bytes).
"""

import functools
import io
import random
import struct
import zlib
from dataclasses import dataclass

import piexif
from PIL import ExifTags, Image, ImageCms, PngImagePlugin

SIZE = (40, 24)


@dataclass(frozen=True)
class Sample:
    name: str
    data: bytes
    # Strings that only the metadata holds; none may be left after removal.
    canaries: tuple[str, ...] = ()

    @property
    def has_metadata(self) -> bool:
        return bool(self.canaries)


def canary(name: str, where: str) -> str:
    return f"CANARY-{name}-{where}"


def pixels(mode: str = "RGB", seed: int = 0) -> Image.Image:
    """A busy image, so that the compressed data holds 0xFF bytes, stuffing and all."""
    width, height = SIZE
    bands = len(mode)
    raw = bytes(
        (x * 37 + y * 101 + band * 67 + (x * y * (seed + 3)) % 251) % 256
        for y in range(height)
        for x in range(width)
        for band in range(bands)
    )
    return Image.frombytes(mode, SIZE, raw)


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def camera_exif(name: str) -> Image.Exif:
    """What a phone writes: make, model, software, the time taken, GPS, and an orientation."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = canary(name, "make")
    exif[ExifTags.Base.Model] = canary(name, "model")
    exif[ExifTags.Base.Software] = canary(name, "software")
    exif[ExifTags.Base.Orientation] = 6  # stored sideways, shown upright by the viewer
    exif[ExifTags.Base.DateTime] = "2024:05:06 07:08:09"
    details = exif.get_ifd(ExifTags.IFD.Exif)
    details[ExifTags.Base.DateTimeOriginal] = "2024:05:06 07:08:09"
    details[ExifTags.Base.BodySerialNumber] = canary(name, "serial")
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (36.0, 11.0, 5.25)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (44.0, 0.0, 33.5)
    gps[ExifTags.GPS.GPSDateStamp] = "2024:05:06"
    return exif


def xmp(name: str) -> bytes:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
        '"http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        f'xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="{canary(name, "xmp")}"/>'
        "</rdf:RDF></x:xmpmeta>"
    ).encode()


def save(image: Image.Image, format_: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format_, **options)
    return out.getvalue()


# --- JPEG segments Pillow does not write ---------------------------------------------------


def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def after_app0(jpeg: bytes, *segments: bytes) -> bytes:
    """Insert segments after SOI and any APP0 JFIF, where writers put metadata."""
    end = 4 + struct.unpack(">H", jpeg[4:6])[0] if jpeg[2:4] == b"\xff\xe0" else 2
    return jpeg[:end] + b"".join(segments) + jpeg[end:]


def extended_xmp(name: str) -> list[bytes]:
    """Standard XMP pointing to extended XMP in two APP1 parts (XMP spec part 3, 1.1.3.1).

    Photoshop and Lightroom spill large XMP this way; Google Camera puts portrait-mode depth
    maps and the original image (GDepth/GImage) there, which can show what was edited out.
    """
    guid = b"0123456789ABCDEF0123456789ABCDEF"
    main = (
        b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF "
        b"xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'><rdf:Description "
        b"xmlns:xmpNote='http://ns.adobe.com/xmp/note/' xmpNote:HasExtendedXMP='" + guid + b"'/>"
        b"</rdf:RDF></x:xmpmeta>"
    )
    full = xmp(name) + b" " * 300
    header = b"http://ns.adobe.com/xmp/extension/\x00" + guid
    half = len(full) // 2
    parts = [(0, full[:half]), (half, full[half:])]
    return [segment(0xE1, main)] + [
        segment(0xE1, header + struct.pack(">II", len(full), offset) + part)
        for offset, part in parts
    ]


def photoshop_iptc(name: str) -> bytes:
    """APP13 "Photoshop 3.0" with an 8BIM IPTC-NAA resource (0x0404): by-line, caption and
    city, as Photoshop and newsroom tools (Photo Mechanic) write them."""

    def dataset(number: int, value: str) -> bytes:
        raw = value.encode()
        return bytes([0x1C, 2, number]) + struct.pack(">H", len(raw)) + raw

    iptc = dataset(80, canary(name, "byline")) + dataset(120, canary(name, "caption"))
    iptc += dataset(90, "Erbil")
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(iptc))
    resource += iptc + b"\x00" * (len(iptc) % 2)
    return segment(0xED, b"Photoshop 3.0\x00" + resource)


def mpf_segment(second_image_offset: int, second_image_size: int, first_size: int) -> bytes:
    """APP2 "MPF": the CIPA DC-007 index of the images in the file, as Samsung and Fujifilm
    cameras and phones write it for a second, appended image (a larger preview, a depth or gain
    map). Offsets count from the MPF header's TIFF byte order mark."""
    entries = 3
    ifd_size = 2 + entries * 12 + 4
    values_offset = 8 + ifd_size
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", entries)
    tiff += struct.pack(">HHI4s", 0xB000, 7, 4, b"0100")  # MPFVersion
    tiff += struct.pack(">HHII", 0xB001, 4, 1, 2)  # NumberOfImages
    tiff += struct.pack(">HHII", 0xB002, 7, 32, values_offset)  # MPEntry, two of 16 bytes
    tiff += struct.pack(">I", 0)
    tiff += struct.pack(">IIIHH", 0x20030000, first_size, 0, 0, 0)
    tiff += struct.pack(">IIIHH", 0x00010001, second_image_size, second_image_offset, 0, 0)
    return segment(0xE2, b"MPF\x00" + tiff)


def jfif_with_thumbnail() -> bytes:
    """APP0 JFIF 1.02 with a 2 x 1 RGB thumbnail, then APP0 JFXX with a JPEG thumbnail: old
    scanners and camera software (and some "save for web" tools) still write them."""
    thumb = bytes([250, 10, 10, 10, 250, 10])
    jfif = b"JFIF\x00\x01\x02\x01\x00\x48\x00\x48" + bytes([2, 1]) + thumb
    small = save(pixels().resize((4, 4)), "JPEG")
    return segment(0xE0, jfif) + segment(0xE0, b"JFXX\x00\x10" + small)


# --- The samples ---------------------------------------------------------------------------


def jpeg_samples() -> list[Sample]:
    image = pixels()
    plain = save(image, "JPEG", quality=90)
    samples = [Sample("jpeg-plain", plain)]

    # A phone photo: EXIF (GPS, time, make, model, serial, orientation), XMP, a comment, and
    # the ICC profile that must stay.
    name = "jpeg-camera"
    data = save(
        image,
        "JPEG",
        exif=camera_exif(name),
        xmp=xmp(name),
        comment=canary(name, "comment"),
        icc_profile=srgb_profile(),
    )
    samples.append(Sample(name, data, (canary(name, "make"), canary(name, "xmp"), "2024:05:06")))

    # EXIF with an IFD1 thumbnail: a whole JPEG (SOI to EOI) inside APP1. Canon, Nikon and every
    # phone write a 160 x 120 preview there, and it can show what a crop removed.
    name = "jpeg-exif-thumbnail"
    thumb = save(pixels(seed=9).resize((8, 8)), "JPEG", comment=canary(name, "thumb"))
    blob = piexif.dump(
        {
            "0th": {piexif.ImageIFD.Make: canary(name, "make").encode()},
            "1st": {
                piexif.ImageIFD.JPEGInterchangeFormat: 0,
                piexif.ImageIFD.JPEGInterchangeFormatLength: 0,
            },
            "thumbnail": thumb,
        }
    )
    data = save(image, "JPEG", exif=blob)
    samples.append(Sample(name, data, (canary(name, "make"), canary(name, "thumb"))))

    # A phone's multi-picture JPEG: APP1 EXIF, APP2 MPF, and after the first image's EOI a
    # second JPEG with EXIF of its own (Samsung Galaxy, Fujifilm; Google's Ultra HDR appends
    # its gain map the same way).
    name = "jpeg-phone-mpf"
    second = save(pixels(seed=5), "JPEG", exif=camera_exif(name + "-second"))
    first = save(image, "JPEG", exif=camera_exif(name))
    mpf_placeholder = mpf_segment(0, len(second), 0)
    first = after_app0(first, mpf_placeholder)
    mpf_start = first.index(b"MPF\x00") + 4
    mpf = mpf_segment(len(first) - mpf_start, len(second), len(first))
    first = first.replace(mpf_placeholder, mpf)
    samples.append(
        Sample(name, first + second, (canary(name, "make"), canary(name + "-second", "make")))
    )

    # XMP spilt into extended XMP parts (Photoshop, Lightroom, Google Camera's depth data).
    name = "jpeg-extended-xmp"
    data = after_app0(plain, *extended_xmp(name))
    samples.append(Sample(name, data, (canary(name, "xmp"), "HasExtendedXMP")))

    # IPTC in APP13 (Photoshop, newsroom captioning tools) and two COM segments.
    name = "jpeg-iptc"
    comments = [segment(0xFE, canary(name, f"comment-{n}").encode()) for n in range(2)]
    data = after_app0(plain, photoshop_iptc(name), *comments)
    samples.append(Sample(name, data, (canary(name, "byline"), canary(name, "comment-1"))))

    # CMYK with APP14 "Adobe" (print workflows): its transform flag tells a decoder how to read
    # the components. Photoshop writes CMYK JPEGs as YCCK (transform 2); Pillow writes CMYK
    # (transform 0), so the flag is set to 2 here: the decoded pixels then depend on APP14,
    # and keeping it is what keeps them.
    name = "jpeg-adobe-ycck"
    data = bytearray(save(pixels("CMYK"), "JPEG", exif=camera_exif(name)))
    adobe = data.index(b"\xff\xee")
    assert data[adobe + 4 : adobe + 9] == b"Adobe", "Pillow writes APP14 Adobe for CMYK"
    data[adobe + 4 + 11] = 2
    data = bytearray(after_app0(bytes(data), photoshop_iptc(name)))
    samples.append(Sample(name, bytes(data), (canary(name, "make"), canary(name, "byline"))))

    # Progressive, with a COM between two scans: the format allows tables and APPn/COM
    # segments there, so removal cannot stop at the first SOS.
    name = "jpeg-progressive"
    data = save(image, "JPEG", progressive=True, exif=camera_exif(name))
    scans = [i for i in range(len(data) - 1) if data[i : i + 2] == b"\xff\xda"]
    assert len(scans) > 1
    data = data[: scans[1]] + segment(0xFE, canary(name, "between").encode()) + data[scans[1] :]
    samples.append(Sample(name, data, (canary(name, "make"), canary(name, "between"))))

    # Restart markers in the scan (some cameras write them for parallel decoding), and no
    # metadata: comes back unchanged.
    samples.append(Sample("jpeg-restarts", save(image, "JPEG", restart_marker_blocks=1)))

    # Fill bytes (0xFF) before a marker: legal, kept as they are.
    samples.append(Sample("jpeg-fill-bytes", plain[:20] + b"\xff\xff" + plain[20:]))

    # JFIF with a thumbnail, and a JFXX thumbnail.
    name = "jpeg-jfif-thumbnail"
    data = plain[:2] + jfif_with_thumbnail() + plain[20:]
    samples.append(Sample(name, data, ("JFXX",)))

    # Data after the image: Samsung's "SEFH" trailer, or a Google/Samsung motion photo's video.
    name = "jpeg-trailer"
    trailer = b"SEFH" + canary(name, "trailer").encode()
    samples.append(Sample(name, plain + trailer, (canary(name, "trailer"),)))
    return samples


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def png_samples() -> list[Sample]:
    image = pixels()
    samples = [Sample("png-plain", save(image, "PNG"))]

    # A screenshot or an edited photo: text in every form, EXIF, a modification time, XMP,
    # Apple's private iDOT (macOS screenshots), and colour chunks that must stay.
    name = "png-text"
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", canary(name, "text"))
    info.add_text("Comment", canary(name, "ztxt"), zip=True)
    info.add_itxt("XML:com.adobe.xmp", xmp(name).decode(), zip=False)
    info.add_itxt("Description", canary(name, "itxt-zip"), zip=True)
    info.add(b"tIME", struct.pack(">HBBBBB", 2024, 5, 6, 7, 8, 9))
    info.add(b"gAMA", struct.pack(">I", 45455))
    info.add(b"iDOT", bytes(28))
    data = save(
        image, "PNG", pnginfo=info, exif=camera_exif(name), icc_profile=srgb_profile(), dpi=(72, 72)
    )
    data += canary(name, "after-iend").encode()
    samples.append(
        Sample(
            name,
            data,
            (canary(name, "text"), canary(name, "make"), canary(name, "xmp"), "after-iend"),
        )
    )

    # A palette image with transparency (PLTE, tRNS) and a text chunk.
    name = "png-palette"
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", canary(name, "text"))
    paletted = image.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    samples.append(
        Sample(name, save(paletted, "PNG", transparency=3, pnginfo=info), (canary(name, "text"),))
    )

    # An animated PNG (acTL, fcTL, fdAT) with a text chunk.
    name = "png-animated"
    info = PngImagePlugin.PngInfo()
    info.add_text("Title", canary(name, "text"))
    frames = [pixels(seed=1), pixels(seed=2)]
    data = save(frames[0], "PNG", save_all=True, append_images=frames[1:], pnginfo=info)
    samples.append(Sample(name, data, (canary(name, "text"),)))
    return samples


def webp_samples() -> list[Sample]:
    image = pixels()
    samples = [
        Sample("webp-plain-lossy", save(image, "WEBP", quality=80)),
        Sample("webp-plain-lossless", save(image, "WEBP", lossless=True)),
    ]

    # A phone photo shared as WebP: EXIF and XMP next to an ICC profile that stays.
    name = "webp-camera"
    data = save(
        image, "WEBP", quality=80, exif=camera_exif(name), xmp=xmp(name), icc_profile=srgb_profile()
    )
    samples.append(Sample(name, data, (canary(name, "make"), canary(name, "xmp"))))

    # Lossy with an alpha channel (ALPH), and EXIF.
    name = "webp-alpha"
    data = save(pixels("RGBA"), "WEBP", quality=80, exif=camera_exif(name))
    samples.append(Sample(name, data, (canary(name, "make"),)))

    # Lossless with EXIF.
    name = "webp-lossless"
    data = save(image, "WEBP", lossless=True, exif=camera_exif(name), xmp=xmp(name))
    samples.append(Sample(name, data, (canary(name, "make"), canary(name, "xmp"))))

    # Animated (ANIM, ANMF) with EXIF and XMP.
    name = "webp-animated"
    frames = [pixels(seed=1), pixels(seed=2)]
    data = save(
        frames[0],
        "WEBP",
        save_all=True,
        append_images=frames[1:],
        lossless=True,
        exif=camera_exif(name),
        xmp=xmp(name),
    )
    samples.append(Sample(name, data, (canary(name, "make"), canary(name, "xmp"))))
    return samples


@functools.cache
def all_samples() -> tuple[Sample, ...]:
    return (*jpeg_samples(), *png_samples(), *webp_samples())


# --- Broken files: each says it is a photo, and each must be refused ----------------------


def jpeg_of(*segments: bytes, scan: bytes = b"\x00\x00") -> bytes:
    """SOI, the segments, then what stands for the scan (and its end)."""
    return b"\xff\xd8" + b"".join(segments) + scan


SOS = segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
PNG = b"\x89PNG\r\n\x1a\n"
IHDR = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
IEND = png_chunk(b"IEND", b"")
VP8L = b"VP8L" + struct.pack("<I", 2) + b"\x2f\x00"


def webp_of(*chunks: bytes, size: int | None = None) -> bytes:
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body) if size is None else size) + body


MALFORMED = {
    "jpeg-no-scan": jpeg_of(segment(0xE1, b"Exif\x00\x00"), scan=b"\xff\xd9"),
    "jpeg-no-eoi": jpeg_of(SOS, scan=b"\x12\x34\xff\x00"),
    "jpeg-ends-in-marker": jpeg_of(SOS, scan=b"\x12\xff"),
    "jpeg-length-too-short": jpeg_of(b"\xff\xe1\x00\x01", SOS, scan=b"\xff\xd9"),
    "jpeg-length-too-long": jpeg_of(b"\xff\xe1\x7f\xff" + b"Exif", scan=b""),
    "jpeg-second-soi": jpeg_of(b"\xff\xd8", SOS, scan=b"\xff\xd9"),
    "jpeg-data-not-marker": jpeg_of(segment(0xFE, b"x"), b"\x00\x01", SOS, scan=b"\xff\xd9"),
    "jpeg-only-soi": b"\xff\xd8\xff",
    "png-bad-crc": PNG + IHDR[:-1] + bytes([IHDR[-1] ^ 1]) + IEND,
    "png-type-not-letters": PNG + IHDR + png_chunk(b"te#t", b"x") + IEND,
    "png-no-ihdr": PNG + png_chunk(b"tEXt", b"a\x00b") + IHDR + IEND,
    "png-no-iend": PNG + IHDR,
    "png-length-over-2gib": PNG + IHDR + b"\x80\x00\x00\x00IDAT" + bytes(8),
    "webp-riff-too-big": webp_of(VP8L, size=1000),
    "webp-riff-too-small": webp_of(VP8L, size=2),
    "webp-no-chunks": webp_of(),
    "webp-chunk-overruns": webp_of(b"VP8L" + struct.pack("<I", 40) + b"\x2f\x00"),
    "webp-half-chunk-header": webp_of(VP8L, b"EXIF"),
    "webp-first-not-image": webp_of(b"EXIF" + struct.pack("<I", 2) + b"ab", VP8L),
    "webp-vp8x-too-short": webp_of(b"VP8X" + struct.pack("<I", 4) + bytes(4), VP8L),
    "webp-odd-chunk-unpadded": webp_of(b"VP8L" + struct.pack("<I", 1) + b"\x2f"),
}


def heic_header() -> bytes:
    """The start of an iPhone's HEIC: an ISO-BMFF "ftyp" box with the "heic" brand."""
    return struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic" + bytes(64)


def mutations(sample: Sample, count: int) -> list[bytes]:
    """``count`` damaged copies of a sample (bytes changed, inserted, lost, a length forged,
    the end cut off), the same on every run, for comparing two implementations on them."""
    pick = random.Random(sample.name)  # noqa: S311 - shares out test cases, not a secret
    damaged = []
    for _ in range(count):
        data = bytearray(sample.data)
        for _ in range(pick.randint(1, 4)):
            at = pick.randrange(len(data) - 4)
            how = pick.randrange(5)
            if how == 0:
                data[at] = pick.randrange(256)
            elif how == 1:
                data.insert(at, pick.randrange(256))
            elif how == 2:
                del data[at]
            elif how == 3:
                data[at : at + 2] = pick.randrange(2**16).to_bytes(2, "big")
            else:
                data[at : at + 4] = pick.randrange(2**32).to_bytes(
                    4, pick.choice(["big", "little"])
                )
        if pick.random() < 0.3:
            del data[pick.randrange(12, len(data)) :]
        damaged.append(bytes(data))
    return damaged
