"""Translations. Every user-facing string goes through gettext, from the first template on,
so that Arabic and Kurdish (right to left) are added as catalogues, not as rewrites."""

import gettext
from dataclasses import dataclass
from functools import cache

from hrd_reports.resources import resource_dir

DEFAULT_LOCALE = "en"
RIGHT_TO_LEFT = frozenset({"ar", "ckb", "fa", "he"})


@dataclass(frozen=True)
class Locale:
    code: str
    translations: gettext.NullTranslations

    @property
    def direction(self) -> str:
        return "rtl" if self.code in RIGHT_TO_LEFT else "ltr"


@cache
def locale(code: str = DEFAULT_LOCALE) -> Locale:
    try:
        localedir = resource_dir("locale")
    except FileNotFoundError:
        return Locale(code=DEFAULT_LOCALE, translations=gettext.NullTranslations())
    translations = gettext.translation(
        "messages", localedir=localedir, languages=[code], fallback=True
    )
    return Locale(code=code, translations=translations)
