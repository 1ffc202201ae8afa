"""Metadata removal (hrd_reports/photos.py) on real photos, read back by real readers.

The photos are written by Pillow in the shapes cameras, phones and editors produce
(tests/photo_samples.py). What removal must do: leave no EXIF, GPS, time, XMP, IPTC, comment
or text behind (an independent reader finds none, and no canary survives), decode to the very
same pixels, keep what colour needs, and refuse a broken file with PhotoMalformed only.
"""

import io
import struct
import zlib

import exifread
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageSequence

from hrd_reports.photos import PhotoKind, PhotoMalformed, Stripped, sniff, strip_metadata
from tests.photo_samples import (
    IEND,
    IHDR,
    MALFORMED,
    PNG,
    Sample,
    all_samples,
    heic_header,
    jpeg_of,
    png_chunk,
    segment,
)

SAMPLES = all_samples()
WITH_METADATA = [sample for sample in SAMPLES if sample.has_metadata]
WITHOUT_METADATA = [sample for sample in SAMPLES if not sample.has_metadata]


def ids(sample: Sample) -> str:
    return sample.name


def frames(data: bytes) -> list[tuple[str, tuple[int, int], bytes]]:
    with Image.open(io.BytesIO(data)) as image:
        return [
            (frame.mode, frame.size, frame.tobytes()) for frame in ImageSequence.Iterator(image)
        ]


def png_chunks(data: bytes) -> list[bytes]:
    """The chunk types of a PNG, read independently of the code under test."""
    kinds, pos = [], 8
    while not kinds or kinds[-1] != b"IEND":
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kinds.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return kinds


def webp_chunks(data: bytes) -> list[bytes]:
    kinds, pos = [], 12
    while pos < len(data):
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        kinds.append(data[pos : pos + 4])
        pos += 8 + size + size % 2
    return kinds


# --- Sniffing -------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", SAMPLES, ids=ids)
def test_sniff_real_photo_names_its_kind(sample: Sample) -> None:
    assert sniff(sample.data) == PhotoKind(sample.name.split("-")[0])


@pytest.mark.parametrize(
    "data",
    [b"", b"\xff\xd8", b"%PDF-1.7\n", b"RIFF\x00\x00\x00\x00WAVEfmt ", heic_header()],
    ids=["empty", "short-jpeg", "pdf", "wav", "heic"],
)
def test_sniff_other_files_none(data: bytes) -> None:
    assert sniff(data) is None


def test_strip_metadata_heic_returned_unchanged() -> None:
    # HEIC is not handled here: the page warns the reporter instead.
    assert strip_metadata(heic_header()) == Stripped(heic_header(), None, removed=False)


# --- What goes ------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", WITH_METADATA, ids=ids)
def test_strip_metadata_photo_with_metadata_leaves_no_canary(sample: Sample) -> None:
    stripped = strip_metadata(sample.data)
    assert stripped.removed
    assert stripped.kind == sniff(sample.data)
    for canary in sample.canaries:
        assert canary.encode() in sample.data  # the sample does carry it
        assert canary.encode() not in stripped.data, canary


@pytest.mark.parametrize("sample", SAMPLES, ids=ids)
def test_strip_metadata_any_photo_no_exif_for_readers(sample: Sample) -> None:
    stripped = strip_metadata(sample.data).data
    with Image.open(io.BytesIO(stripped)) as image:
        assert not image.getexif()
        assert "xmp" not in image.info
        assert "comment" not in image.info
        assert not getattr(image, "text", {})
    # An independent EXIF reader (it reads JPEG and PNG; WebP is covered by the chunk list).
    tags = exifread.process_file(io.BytesIO(stripped), details=True)
    assert not [tag for tag in tags if tag.startswith(("GPS", "Image", "EXIF", "Thumbnail"))]


@pytest.mark.parametrize("sample", WITH_METADATA, ids=ids)
def test_strip_metadata_sample_metadata_was_readable_before(sample: Sample) -> None:
    # The readers used above do see the metadata of the originals: the test above can fail.
    with Image.open(io.BytesIO(sample.data)) as image:
        before = bool(image.getexif()) or bool(getattr(image, "text", {}))
        before = before or "comment" in image.info or "xmp" in image.info
    found_elsewhere = sample.name in {"jpeg-jfif-thumbnail", "jpeg-trailer", "jpeg-iptc"}
    assert before or found_elsewhere


def test_strip_metadata_jpeg_gps_make_and_date_gone_for_exifread() -> None:
    sample = next(s for s in SAMPLES if s.name == "jpeg-camera")
    before = exifread.process_file(io.BytesIO(sample.data), details=False)
    assert {"GPS GPSLatitude", "Image Make", "EXIF DateTimeOriginal"} <= set(before)
    after = exifread.process_file(io.BytesIO(strip_metadata(sample.data).data), details=False)
    assert not after


def test_strip_metadata_jpeg_orientation_removed_with_exif() -> None:
    # A deliberate choice (see the module): the photo may show sideways, but no EXIF remains.
    sample = next(s for s in SAMPLES if s.name == "jpeg-camera")
    with Image.open(io.BytesIO(sample.data)) as image:
        assert image.getexif()[0x0112] == 6
    with Image.open(io.BytesIO(strip_metadata(sample.data).data)) as image:
        assert 0x0112 not in image.getexif()


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("jpeg-camera", ["APP0", "APP2"]),  # JFIF, ICC_PROFILE
        ("jpeg-phone-mpf", ["APP0"]),  # MPF is APP2 but not colour
        ("jpeg-adobe-ycck", ["APP14"]),
        ("jpeg-jfif-thumbnail", ["APP0"]),  # JFXX gone
        ("jpeg-iptc", ["APP0"]),
    ],
)
def test_strip_metadata_jpeg_keeps_only_colour_segments(name: str, kept: list[str]) -> None:
    sample = next(s for s in SAMPLES if s.name == name)
    with Image.open(io.BytesIO(strip_metadata(sample.data).data)) as image:
        applist = image.applist  # type: ignore[attr-defined]
        assert [marker for marker, _ in applist] == kept
        for marker, payload in applist:
            expected = {"APP0": b"JFIF\x00", "APP2": b"ICC_PROFILE\x00", "APP14": b"Adobe"}
            assert payload.startswith(expected[marker])


def test_strip_metadata_jfif_thumbnail_cut_to_none() -> None:
    sample = next(s for s in SAMPLES if s.name == "jpeg-jfif-thumbnail")
    out = strip_metadata(sample.data).data
    assert out[2:20] == b"\xff\xe0\x00\x10JFIF\x00\x01\x02\x01\x00\x48\x00\x48\x00\x00"


def test_strip_metadata_jpeg_phone_mpf_second_image_dropped() -> None:
    sample = next(s for s in SAMPLES if s.name == "jpeg-phone-mpf")
    assert len(frames(sample.data)) == 2  # Pillow follows the MPF index to the second image
    out = strip_metadata(sample.data).data
    assert len(frames(out)) == 1
    assert out.endswith(b"\xff\xd9")


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("png-text", [b"IHDR", b"iCCP", b"gAMA", b"pHYs", b"IDAT", b"IEND"]),
        ("png-palette", [b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"]),
        ("png-animated", [b"IHDR", b"acTL", b"fcTL", b"IDAT", b"fcTL", b"fdAT", b"IEND"]),
    ],
)
def test_strip_metadata_png_keeps_critical_and_colour_chunks(name: str, kept: list[bytes]) -> None:
    sample = next(s for s in SAMPLES if s.name == name)
    assert set(png_chunks(sample.data)) - set(kept)  # something to remove
    assert png_chunks(strip_metadata(sample.data).data) == kept


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("webp-camera", [b"VP8X", b"ICCP", b"VP8 "]),
        ("webp-alpha", [b"VP8X", b"ALPH", b"VP8 "]),
        ("webp-lossless", [b"VP8X", b"VP8L"]),
        ("webp-animated", [b"VP8X", b"ANIM", b"ANMF", b"ANMF"]),
    ],
)
def test_strip_metadata_webp_drops_exif_xmp_and_flags(name: str, kept: list[bytes]) -> None:
    sample = next(s for s in SAMPLES if s.name == name)
    assert {b"EXIF"} <= set(webp_chunks(sample.data))
    assert sample.data[20] & 0x08  # the VP8X EXIF flag was set
    out = strip_metadata(sample.data).data
    assert webp_chunks(out) == kept
    assert out[20] & 0x0C == 0
    assert struct.unpack("<I", out[4:8])[0] == len(out) - 8


# --- What stays -----------------------------------------------------------------------------


@pytest.mark.parametrize("sample", SAMPLES, ids=ids)
def test_strip_metadata_any_photo_same_pixels(sample: Sample) -> None:
    before = frames(sample.data)
    if sample.name == "jpeg-phone-mpf":
        before = before[:1]  # Pillow reads the appended MPF image as a second frame: gone
    assert frames(strip_metadata(sample.data).data) == before


@pytest.mark.parametrize("sample", SAMPLES, ids=ids)
def test_strip_metadata_any_photo_keeps_icc_profile(sample: Sample) -> None:
    with Image.open(io.BytesIO(sample.data)) as image:
        before = image.info.get("icc_profile")
    with Image.open(io.BytesIO(strip_metadata(sample.data).data)) as image:
        assert image.info.get("icc_profile") == before


@pytest.mark.parametrize("sample", WITHOUT_METADATA, ids=ids)
def test_strip_metadata_photo_without_metadata_unchanged(sample: Sample) -> None:
    stripped = strip_metadata(sample.data)
    assert stripped == Stripped(sample.data, sniff(sample.data), removed=False)


@pytest.mark.parametrize("sample", SAMPLES, ids=ids)
def test_strip_metadata_stripped_photo_stripped_again_unchanged(sample: Sample) -> None:
    once = strip_metadata(sample.data).data
    assert strip_metadata(once) == Stripped(once, sniff(once), removed=False)


def test_strip_metadata_bytearray_input_accepted() -> None:
    sample = WITH_METADATA[0]
    assert strip_metadata(bytearray(sample.data)) == strip_metadata(sample.data)  # type: ignore[arg-type]


# --- Malformed input ------------------------------------------------------------------------


@pytest.mark.parametrize("sample", SAMPLES, ids=ids)
def test_strip_metadata_truncated_photo_refused(sample: Sample) -> None:
    # Every prefix of a clean photo that still sniffs as one lacks its end: each is refused.
    whole = strip_metadata(sample.data).data
    for cut in range(12, len(whole)):
        with pytest.raises(PhotoMalformed):
            strip_metadata(whole[:cut])


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_strip_metadata_malformed_photo_refused(data: bytes) -> None:
    assert sniff(data) is not None
    with pytest.raises(PhotoMalformed):
        strip_metadata(data)


def test_strip_metadata_refusal_quotes_nothing_of_the_file() -> None:
    # A broken file's bytes (here a canary in a comment) never reach a log through the message.
    secret = b"CANARY-in-a-broken-file"
    data = jpeg_of(segment(0xFE, secret), b"\xff\xe1\x7f\xff" + secret, scan=b"")
    with pytest.raises(PhotoMalformed) as refused:
        strip_metadata(data)
    assert "CANARY" not in str(refused.value)
    assert "CANARY" not in repr(refused.value.args)


def test_strip_metadata_valid_crc_recomputed_by_zlib() -> None:
    # The checksum test above is no accident of the built chunk: a good CRC passes.
    data = PNG + IHDR + png_chunk(b"tEXt", b"Author\x00x") + IEND
    assert zlib.crc32(IHDR[4:-4]) == struct.unpack(">I", IHDR[-4:])[0]
    assert strip_metadata(data) == Stripped(PNG + IHDR + IEND, PhotoKind.PNG, removed=True)


# --- Fuzzing --------------------------------------------------------------------------------


def _removal_failures(data: bytes) -> list[str]:
    """Removal either answers (and its answer is a fixed point no longer than the input) or
    refuses with PhotoMalformed: never another exception (it propagates to the test), and
    never a hang. One line per way its answer breaks that; empty when it holds or on refusal."""
    try:
        stripped = strip_metadata(data)
    except PhotoMalformed:
        return []
    failures = []
    if len(stripped.data) > len(data):
        failures.append(f"the answer has {len(stripped.data)} bytes, the input {len(data)}")
    changed = stripped.data != data
    if stripped.removed != changed:
        failures.append(f"removed={stripped.removed}, yet the data changed={changed}")
    if strip_metadata(stripped.data).data != stripped.data:
        failures.append("removal from its own answer changes it again")
    return failures


MAGIC = st.sampled_from([b"\xff\xd8\xff", PNG, b"RIFF\x10\x00\x00\x00WEBP", b""])


@given(magic=MAGIC, rest=st.binary(max_size=512))
def test_strip_metadata_random_bytes_removal_failures(magic: bytes, rest: bytes) -> None:
    assert _removal_failures(magic + rest) == []


@given(
    sample=st.sampled_from(SAMPLES),
    edits=st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255), st.integers(0, 2)),
        min_size=1,
        max_size=6,
    ),
    cut=st.floats(0, 1),
)
def test_strip_metadata_mutated_photo_removal_failures(
    sample: Sample, edits: list[tuple[float, int, int]], cut: float
) -> None:
    data = bytearray(sample.data)
    for where, value, how in edits:
        at = int(where * len(data))
        if how == 0:
            data[at] = value  # a changed byte
        elif how == 1:
            data.insert(at, value)  # an inserted byte
        elif len(data) > 1:
            del data[at]  # a lost byte
    cut_short = data[: max(1, int(cut * len(data)))] if cut < 1 else data
    assert _removal_failures(bytes(cut_short)) == []


@given(sample=st.sampled_from(SAMPLES), length=st.integers(0, 2**32 - 1), at=st.integers(0))
def test_strip_metadata_forged_length_removal_failures(
    sample: Sample, length: int, at: int
) -> None:
    # Lengths are what a parser trusts most: put an arbitrary one where a length may be.
    data = bytearray(sample.data)
    at %= len(data) - 4
    data[at : at + 4] = length.to_bytes(4, "big")
    assert _removal_failures(bytes(data)) == []
