"""Translations. Every user-facing string goes through gettext, from the first template on,
so that Arabic and Kurdish (right to left) are added as catalogues, not as rewrites."""

import gettext
import io
from dataclasses import dataclass
from functools import cache

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from hrd_reports.resources import resource_dir

DEFAULT_LOCALE = "en"
# Arabic and English are complete; Kurdish (Sorani, ckb) follows.
SUPPORTED_LOCALES = ("en", "ar")
RIGHT_TO_LEFT = frozenset({"ar", "ckb", "fa", "he"})
# Each language named in itself, so a reader finds theirs whatever page they are on:
# deliberately not translated.
LANGUAGE_NAMES = {"en": "English", "ar": "العربية"}


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
