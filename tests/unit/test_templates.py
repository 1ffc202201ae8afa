"""Every user-facing string in a template goes through gettext (Arabic and Kurdish follow)."""

import re
from pathlib import Path

import jinja2
import pytest
from babel.messages.extract import extract_from_dir

from hrd_reports.resources import resource_dir

TEMPLATES = sorted(resource_dir("templates").glob("**/*.html"))
TAG = re.compile(r"<[^>]*>", re.DOTALL)
# Attributes a person reads; a ``value`` only on buttons (elsewhere it is a machine code).
TEXT_ATTRIBUTE = re.compile(
    r'\b(?:title|placeholder|alt|aria-label)="([^"{]*[^\W\d_][^"{]*)"'
    r'|<input[^>]*type="(?:submit|button|reset)"[^>]*value="[^"\ue000]*[^\W\d_]'
)


# Stands for whatever Jinja outputs (an expression, a translated block): not a letter.
PLACEHOLDER = "\ue000"


def _literal_text(template: Path) -> str:
    """The template as the browser would see it if every Jinja part printed PLACEHOLDER."""
    environment = jinja2.Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    parts: list[str] = []
    in_trans = False
    for _, kind, value in environment.lex(template.read_text(encoding="utf-8")):
        if kind == "name" and value == "trans":
            in_trans = True
        elif kind == "name" and value == "endtrans":
            in_trans = False
        if kind == "data" and not in_trans:
            parts.append(value)
        elif not parts or parts[-1] != PLACEHOLDER:
            parts.append(PLACEHOLDER)
    return "".join(parts)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: path.name)
def test_template_has_no_text_outside_gettext(template: Path) -> None:
    literal = _literal_text(template)
    assert not TEXT_ATTRIBUTE.search(literal), f"untranslated attribute in {template.name}"
    text = TAG.sub(" ", literal)
    assert not re.search(r"[^\W\d_]", text), (
        f"untranslated text in {template.name}: {text.strip()!r}"
    )


def test_template_lint_catches_bare_text(tmp_path: Path) -> None:
    bare = tmp_path / "bare.html"
    bare.write_text(
        '<p>{{ _("fine") }}</p><a href="{{ link }}">Hello</a><input placeholder="Name">'
    )
    literal = _literal_text(bare)
    assert re.search(r"[^\W\d_]", TAG.sub(" ", literal))
    assert TEXT_ATTRIBUTE.search(literal)
    button = tmp_path / "button.html"
    button.write_text('<input type="submit" value="Send">')
    assert TEXT_ATTRIBUTE.search(_literal_text(button))
    code = tmp_path / "code.html"
    code.write_text('<input type="checkbox" name="x" value="death_threat">')
    assert not TEXT_ATTRIBUTE.search(_literal_text(code))
    translated = tmp_path / "translated.html"
    translated.write_text(
        '<a href="{{ link }}" title="{{ _("Go") }}">{% trans %}Hello{% endtrans %}</a>'
    )
    assert not re.search(r"[^\W\d_]", TAG.sub(" ", _literal_text(translated)))


def test_messages_are_extracted_from_templates() -> None:
    root = resource_dir("templates")
    method_map = [("**.html", "jinja2")]
    options = {"**.html": {"extensions": "jinja2.ext.i18n"}}
    messages = {message[2] for message in extract_from_dir(str(root), method_map, options)}
    assert "Set up this desk" in messages
    assert "Save the recovery key now" in messages
