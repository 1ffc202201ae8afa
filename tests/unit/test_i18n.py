"""English and Arabic are complete: every string in the code and templates has a translation."""

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from hrd_reports.i18n import SUPPORTED_LOCALES, locale
from hrd_reports.models import ReportStatus, RiskLevel, Role
from hrd_reports.resources import resource_dir
from hrd_reports.web.labels import NAMES

REPOSITORY = Path(__file__).parents[2]
LOCALE_DIR = resource_dir("locale")


def _messages_in_the_sources() -> set[str]:
    found: set[str] = set()
    sources = [
        (
            REPOSITORY / "templates",
            [("**.html", "jinja2")],
            {"**.html": {"extensions": "jinja2.ext.i18n"}},
        ),
        (REPOSITORY / "hrd_reports", [("**.py", "python")], {}),
    ]
    for root, method_map, options in sources:
        for _, _, message, _, _ in extract_from_dir(str(root), method_map, options):
            found.add(message if isinstance(message, str) else message[0])
    return found


def _key(message_id: str | tuple[str, ...]) -> str:
    """A plural message by its singular, as extraction names it."""
    return message_id[0] if isinstance(message_id, tuple) else message_id


def _forms(text: str | tuple[str, ...]) -> tuple[str, ...]:
    return text if isinstance(text, tuple) else (text,)


def test_the_committed_template_lists_every_message_of_the_sources() -> None:
    with (LOCALE_DIR / "messages.pot").open("rb") as source:
        committed = {_key(message.id) for message in read_po(source) if message.id}
    assert _messages_in_the_sources() - committed == set()


@pytest.mark.parametrize("code", [code for code in SUPPORTED_LOCALES if code != "en"])
def test_every_message_has_a_reviewed_translation(code: str) -> None:
    with (LOCALE_DIR / code / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalogue = read_po(source, locale=code)
    missing = [_key(m.id) for m in catalogue if m.id and not all(_forms(m.string))]
    fuzzy = [_key(m.id) for m in catalogue if m.id and m.fuzzy]
    assert (missing, fuzzy) == ([], [])
    sources = _messages_in_the_sources()
    assert sources <= {_key(m.id) for m in catalogue if m.id}


@pytest.mark.parametrize("code", [code for code in SUPPORTED_LOCALES if code != "en"])
def test_every_translation_keeps_the_placeholders_of_its_message(code: str) -> None:
    # A lost, renamed or invented %(name)s would raise (a 500) where the page fills it in.
    with (LOCALE_DIR / code / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalogue = read_po(source, locale=code)
    placeholder = re.compile(r"%\([a-z_]+\)[a-z]")
    broken = []
    for m in catalogue:
        if not m.id:
            continue
        expected = sorted(placeholder.findall(_key(m.id)))
        for form in _forms(m.string):
            found = sorted(placeholder.findall(form))
            # A plural form may leave the number out ("two new messages"), never add one.
            plural_ok = isinstance(m.id, tuple) and set(found) <= set(expected)
            if found != expected and not plural_ok:
                broken.append(_key(m.id))
    assert broken == []


def test_every_role_status_and_risk_has_a_name_to_show() -> None:
    codes = [member.value for kind in (Role, ReportStatus, RiskLevel) for member in kind]
    # Distinct across the three, since pages look them up in one table.
    assert len(codes) == len(set(codes))
    assert sorted(NAMES) == sorted(codes)
    assert all(locale("ar").translations.gettext(name) != name for name in NAMES.values())


def test_placeholders_survive_translation() -> None:
    translations = locale("ar").translations
    text = translations.gettext("%(name)s is the administrator and holds the desk's key.")
    assert "%(name)s" in text
    assert text != "%(name)s is the administrator and holds the desk's key."
