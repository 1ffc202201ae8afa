"""Translations. Every user-facing string goes through gettext, from the first template on,
so that Arabic and Kurdish (right to left) are added as catalogues, not as rewrites."""

import gettext
import io
from dataclasses import dataclass
from functools import cache

import babel
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from hrd_reports.resources import resource_dir

DEFAULT_LOCALE = "en"
# English, Arabic, and Kurdish in its two written forms: Sorani (ckb, Arabic script, around
# Erbil and Sulaymaniyah) and Kurmanji (kmr, Latin script, around Duhok).
SUPPORTED_LOCALES = ("en", "ar", "ckb", "kmr")
RIGHT_TO_LEFT = frozenset({"ar", "ckb", "fa", "he"})
# Each language named in itself, so a reader finds theirs whatever page they are on:
# deliberately not translated.
LANGUAGE_NAMES = {"en": "English", "ar": "العربية", "ckb": "کوردی", "kmr": "Kurdî"}

# The CLDR locale whose dates and digits a language's pages use (Babel's data): Iraqi Arabic
# names the months as Iraq does (كانون الأول, not ديسمبر); CLDR files Kurmanji under ``ku``.
_CLDR_LOCALES = {"en": "en", "ar": "ar_IQ", "ckb": "ckb_IQ", "kmr": "ku"}
# The digits of CLDR's numbering systems named by those locales (``latn`` or ``arab``).
_DIGITS = {"latn": "0123456789", "arab": "٠١٢٣٤٥٦٧٨٩"}

# What browsers send for Kurdish: ``ckb`` for Sorani, ``kmr`` or plain ``ku`` (CLDR's
# Kurmanji) for Kurmanji, and ``ku-Arab`` for Kurdish in Arabic script, which is Sorani.
# A bare ``ku-IQ`` follows CLDR (Kurmanji) although most Kurdish readers in Iraq read Sorani:
# phones set to Sorani send ``ckb``, and the switch on every page is one tap away.
_ACCEPT_ALIASES = {"ku": "kmr", "ku-arab": "ckb", "ku-latn": "kmr", "ckb-arab": "ckb"}


def N_(message: str) -> str:  # noqa: N802 - the name gettext's tools look for
    """Mark a string for translation where it is defined; it is translated where shown."""
    return message


@dataclass(frozen=True)
class Locale:
    code: str
    translations: gettext.NullTranslations

    @property
    def direction(self) -> str:
        return "rtl" if self.code in RIGHT_TO_LEFT else "ltr"

    @property
    def cldr(self) -> str:
        """The locale Babel formats this language's dates and numbers in."""
        return _CLDR_LOCALES.get(self.code, self.code)

    def digits(self, text: str) -> str:
        """``text`` with its ASCII digits written as this language writes digits (Arabic-Indic
        on Arabic and Sorani pages, as CLDR's numbering system for them says)."""
        return text.translate(_digit_table(self.cldr))


@cache
def _digit_table(cldr: str) -> dict[int, int]:
    system = babel.Locale.parse(cldr).default_numbering_system
    return str.maketrans(_DIGITS["latn"], _DIGITS.get(system, _DIGITS["latn"]))


def negotiate(accept_language: str) -> str | None:
    """The supported language a browser's Accept-Language prefers most, by its q-values.

    Malformed parts are skipped, never an error: any client can send this header.
    """
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",", 32)[:32]):
        tag, _, parameters = part.strip().partition(";")
        weight = 1.0
        name, _, value = parameters.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                weight = float(value)
            except ValueError:
                continue
            if not 0 < weight <= 1:
                continue
        tag = tag.strip().lower().replace("_", "-")
        ranked.append((-weight, position, tag))
    for _, _, tag in sorted(ranked):
        subtags = tag.split("-")
        for candidate in ("-".join(subtags[:2]), tag, subtags[0]):
            code = _ACCEPT_ALIASES.get(candidate, candidate)
            if code in SUPPORTED_LOCALES:
                return code
    return None


@cache
def locale(code: str = DEFAULT_LOCALE) -> Locale:
    """The translations of ``code``, read from its ``.po`` catalogue once."""
    catalogue = resource_dir("locale") / code / "LC_MESSAGES" / "messages.po"
    if code == DEFAULT_LOCALE or not catalogue.is_file():
        return Locale(code=code, translations=gettext.NullTranslations())
    with catalogue.open("rb") as source:
        messages = read_po(source, locale=code)
    compiled = io.BytesIO()
    # Fuzzy (unreviewed) entries are left out: better English than a wrong translation.
    write_mo(compiled, messages, use_fuzzy=False)
    compiled.seek(0)
    return Locale(code=code, translations=gettext.GNUTranslations(compiled))
