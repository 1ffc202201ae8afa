"""What a file is, from its first bytes: never from its name or the type its sender claimed.

A reporter's browser (or anyone posing as one) names the file and its type; both are shown
to the desk as claims. The type the desk acts on (whether a file may be previewed) comes from
the bytes alone, so an HTML page named "photo.jpg" is never shown as anything but a download.
"""

# (offset, signature, media type), most specific first.
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"%PDF-", "application/pdf"),
    (0, b"PK\x03\x04", "application/zip"),  # also .docx, .xlsx, .odt: zip containers
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),  # old .doc/.xls
    (0, b"OggS", "audio/ogg"),  # WhatsApp and Telegram voice notes (Opus)
    (0, b"#!AMR", "audio/amr"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"fLaC", "audio/flac"),
    (0, b"\x1aE\xdf\xa3", "video/webm"),
    (0, b"{\\rtf", "application/rtf"),
)
# ISO base media files ("....ftyp<brand>"): the brand says which.
_FTYP_BRANDS = {
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
    b"avif": "image/avif",
    b"M4A ": "audio/mp4",
    b"qt  ": "video/quicktime",
    b"3gp4": "video/3gpp",
    b"3gp5": "video/3gpp",
}
PREVIEWABLE = frozenset({"image/jpeg", "image/png", "image/webp"})
SNIFF_BYTES = 64


def media_type_of(head: bytes) -> str:
    """The media type the first bytes show; ``application/octet-stream`` when unknown."""
    for offset, signature, media_type in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return media_type
    if head[:4] == b"RIFF" and head[8:12] in {b"WEBP", b"WAVE", b"AVI "}:
        return {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}[head[8:12]]
    if head[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(head[8:12], "video/mp4")
    if head and _is_text(head):
        return "text/plain"
    return "application/octet-stream"


def _is_text(head: bytes) -> bool:
    # A cut at the end of the sniffed bytes may split a multi-byte character: allow for it.
    for end in range(len(head), max(len(head) - 4, 0), -1):
        try:
            text = head[:end].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return all(character.isprintable() or character in "\t\r\n" for character in text)
    return False
