"""Every letter a page shows is drawn by a font the desk serves itself, and the fonts served are
exactly the recorded ones.

A letter that no self-hosted font draws is left to whatever the reporter's phone has: a missing
Sorani or Kurmanji letter shows as an empty box in the middle of a warning, and the only fix a
page could reach for, a font from another origin, would tell a third party who opens the desk.

Which font draws a character is decided as the browser decides it: the first family of the
page's font stack (``html`` in ``base.css``) with a face whose ``unicode-range`` (``fonts.css``)
claims the character; that face's file must then have the character in its cmap. Characters
that are never drawn are left out: whitespace, format controls (general category Cf: the
right-to-left mark U+200F of the Arabic catalogue, ZWNJ), and placeholders such as
``%(name)s``, which are replaced before a page is shown. Nothing else is left out: typographic
quotes, ellipses and guillemets are checked like letters.
"""

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from fontTools.ttLib import TTFont

from hrd_reports.resources import resource_dir

REPOSITORY = Path(__file__).parents[2]
STATIC = resource_dir("static")
FONTS = STATIC / "fonts"
LOCALE_DIR = resource_dir("locale")

PLACEHOLDER = re.compile(r"%\([A-Za-z_]+\)[sdr]|%%")
FACE = re.compile(r"@font-face\s*\{(?P<body>[^}]*)\}")
PAGE_FONT_STACK = re.compile(r"(?:^|\n)html\s*\{[^}]*?font-family:\s*(?P<stack>[^;]+);")

# Named because a catalogue in Sorani or Kurmanji may be missing or incomplete in a checkout,
# and these letters must be drawn whatever it holds: Sorani's own letters (with its yeh, keheh
# and heh doachashmee), Kurmanji's accented letters in both cases, and the digits a reporter
# types on an Arabic or Persian keyboard (receipts accept both).
SORANI = "ڕڵۆێەڤیکھ"
KURMANJI = "êîûçşÊÎÛÇŞ"
ARABIC_INDIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"
PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"
NAMED = SORANI + KURMANJI + ARABIC_INDIC_DIGITS + PERSIAN_DIGITS


@dataclass(frozen=True)
class Face:
    family: str
    file: str
    ranges: tuple[tuple[int, int], ...]

    def claims(self, char: str) -> bool:
        return any(low <= ord(char) <= high for low, high in self.ranges)

    def draws(self, char: str) -> bool:
        return ord(char) in _cmap(self.file)


@cache
def _cmap(file: str) -> frozenset[int]:
    # A woff2 file is brotli-compressed: fontTools reads it with the brotli package.
    with TTFont(FONTS / file) as font:
        return frozenset(font.getBestCmap())


def _ranges(text: str) -> tuple[tuple[int, int], ...]:
    ranges = []
    for part in text.split(","):
        low, _, high = part.strip().removeprefix("U+").partition("-")
        ranges.append((int(low, 16), int(high or low, 16)))
    return tuple(ranges)


def _descriptor(body: str, name: str) -> str:
    match = re.search(rf"{name}:\s*(?P<value>[^;]+);", body)
    assert match, f"an @font-face without {name}"
    return match["value"].strip()


@cache
def _faces() -> tuple[Face, ...]:
    faces = []
    for match in FACE.finditer((STATIC / "css" / "fonts.css").read_text()):
        body = match["body"]
        source = re.fullmatch(
            r'url\("/static/fonts/(?P<file>[^"/]+)"\) format\("woff2"\)',
            _descriptor(body, "src"),
        )
        assert source, body
        faces.append(
            Face(
                family=_descriptor(body, "font-family").strip('"'),
                file=source["file"],
                ranges=_ranges(_descriptor(body, "unicode-range")),
            )
        )
    return tuple(faces)


def _page_font_stack() -> list[str]:
    match = PAGE_FONT_STACK.search((STATIC / "css" / "base.css").read_text())
    assert match, "base.css gives the page no font-family"
    return [family.strip().strip('"') for family in match["stack"].split(",")]


def _faces_that_draw(char: str) -> list[Face]:
    """The faces of the first family in the page's stack that claims ``char``, which draw it:
    none when no self-hosted family claims it (the system fonts would), or when the family
    that does has no glyph for it."""
    for family in _page_font_stack():
        claiming = [face for face in _faces() if face.family == family and face.claims(char)]
        if claiming:
            return [face for face in claiming if face.draws(char)]
    return []


def _catalogues() -> list[Path]:
    return sorted(LOCALE_DIR.glob("*/LC_MESSAGES/messages.po"))


def _texts(path: Path) -> list[str]:
    """Every message id (English, shown where there is no translation) and translation."""
    with path.open("rb") as source:
        catalogue = read_po(source)
    texts: list[str] = []
    for message in catalogue:
        for field in (message.id, message.string):
            texts.extend(field if isinstance(field, tuple) else [field])
    return [text for text in texts if text]


def _drawn_characters(text: str) -> set[str]:
    return {
        char
        for char in PLACEHOLDER.sub("", text)
        if not char.isspace() and unicodedata.category(char) != "Cf"
    }


def test_every_character_of_every_catalogue_is_drawn_by_a_self_hosted_font() -> None:
    catalogues = _catalogues()
    assert catalogues, f"no catalogue under {LOCALE_DIR}"
    missing = []
    for path in [LOCALE_DIR / "messages.pot", *catalogues]:
        for char in sorted(set().union(*map(_drawn_characters, _texts(path)))):
            if not _faces_that_draw(char):
                language = path.parent.parent.name if path.suffix == ".po" else "msgids"
                missing.append(f"{language}: U+{ord(char):04X} {unicodedata.name(char, '?')}")
    assert missing == []


@pytest.mark.parametrize("char", NAMED, ids=[f"U+{ord(char):04X}" for char in NAMED])
def test_sorani_and_kurmanji_letters_and_eastern_digits_are_drawn_by_a_self_hosted_font(
    char: str,
) -> None:
    assert _faces_that_draw(char), unicodedata.name(char)


def test_arabic_script_is_drawn_by_the_arabic_font_and_latin_by_the_latin_one() -> None:
    # Each script to its own file: Latin drawn from the Arabic font would cost every English
    # page 49 KB of Arabic, and Kurmanji's few letters beyond Latin-1 come from latin-ext.
    assert {face.family for face in _faces_that_draw("ڕ")} == {"Noto Sans Arabic"}
    assert {face.file for face in _faces_that_draw("a")} == {"noto-sans-latin-400.woff2"}
    assert {face.file for face in _faces_that_draw("ş")} == {"noto-sans-latin-ext-400.woff2"}


def test_a_character_outside_every_range_is_found_missing() -> None:
    # The check above can fail: a script no self-hosted font claims (Devanagari) is missing.
    assert _faces_that_draw("क") == []


def test_a_cut_down_font_is_declared_for_exactly_the_characters_it_still_draws() -> None:
    # A face declared for a character its file lacks still wins the browser's choice, and draws
    # an empty box where a system font would have drawn the letter.
    record = json.loads((FONTS / "fonts.json").read_text())
    cut = {name: entry for name, entry in record["files"].items() if "subset_of" in entry}
    assert "noto-sans-latin-ext-400.woff2" in cut
    for face in _faces():
        if face.file in cut:
            source = _ranges(cut[face.file]["subset_of"]["unicode_range"])
            claimed = {point for low, high in face.ranges for point in range(low, high + 1)}
            assert claimed == _cmap(face.file), face.file
            assert all(any(low <= point <= high for low, high in source) for point in claimed)


def test_fonts_json_records_every_file_served_from_static_fonts() -> None:
    record = json.loads((FONTS / "fonts.json").read_text())
    on_disk = {path.name for path in FONTS.iterdir()} - {"fonts.json"}
    assert set(record["files"]) == on_disk
    for name, expected in record["files"].items():
        data = (FONTS / name).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (
            expected["sha256"],
            expected["bytes"],
        ), name


def test_fonts_json_pins_the_packages_of_the_lockfile_and_their_licence() -> None:
    record = json.loads((FONTS / "fonts.json").read_text())
    lock = json.loads((REPOSITORY / "vendor" / "hpke" / "package-lock.json").read_text())
    assert set(record["packages"]) == {"@fontsource/noto-sans", "@fontsource/noto-sans-arabic"}
    for name, package in record["packages"].items():
        locked = lock["packages"][f"node_modules/{name}"]
        assert (package["version"], package["integrity"]) == (
            locked["version"],
            locked["integrity"],
        )
        assert package["license"] == locked["license"] == "OFL-1.1"
        licences = [
            file
            for file, entry in record["files"].items()
            if entry["package"] == name and file.endswith("-OFL.txt")
        ]
        assert len(licences) == 1, name
        assert "SIL OPEN FONT LICENSE Version 1.1" in (FONTS / licences[0]).read_text()


def test_fonts_css_declares_each_recorded_font_with_its_recorded_range() -> None:
    record = json.loads((FONTS / "fonts.json").read_text())
    fonts = {name: entry for name, entry in record["files"].items() if name.endswith(".woff2")}
    assert {face.file: (face.family, face.ranges) for face in _faces()} == {
        name: (entry["family"], _ranges(entry["unicode_range"])) for name, entry in fonts.items()
    }
    assert {(entry["family"], entry["subset"]) for entry in fonts.values()} == {
        ("Noto Sans Arabic", "arabic"),
        ("Noto Sans", "latin"),
        ("Noto Sans", "latin-ext"),
    }
