"""A decrypted report read as untrusted input: bounded parsing, the form check, the text shown
of a report that does not follow the form."""

import json
import sys

import pytest

from hrd_reports import received
from hrd_reports.content import INCIDENT_TYPES, NARRATIVE_MAX, codes, is_urgent
from hrd_reports.received import ShapeProblem, Unreadable

FORM = {"v": 1, "incident_types": ["death_threat"], "narrative": "a car followed me home"}


def _with(**fields: object) -> bytes:
    return json.dumps({**FORM, **fields}, ensure_ascii=False).encode("utf-8")


def _raw_with(field: str, value: str) -> bytes:
    """The form with one field whose JSON text is ``value`` as written (json.dumps would not
    write NaN, a lone surrogate escape or a duplicate as a reporter's client can)."""
    return ('{"incident_types":["other"],"narrative":"x",' + f'"{field}":{value}}}').encode()


# Each: bytes a reporter's client can seal, and why they do not follow the form.
HOSTILE = {
    "arrays nested 100,000 deep": (b"[" * 100_000 + b"]" * 100_000, ShapeProblem.TOO_DEEP),
    "objects nested in a field": (
        _raw_with("location", '{"a":' * 40 + "1" + "}" * 40),
        ShapeProblem.TOO_DEEP,
    ),
    "too many brackets": (b"[" + b"[]," * 5000 + b"[]]", ShapeProblem.TOO_DEEP),
    "an integer of 5,000 digits": (_raw_with("v", "9" * 5000), ShapeProblem.NUMBER),
    "an integer of 40 digits": (_raw_with("v", "1" * 40), ShapeProblem.NUMBER),
    "a float beyond range": (_raw_with("v", "1e999"), ShapeProblem.NUMBER),
    "NaN": (_raw_with("v", "NaN"), ShapeProblem.NUMBER),
    "-Infinity": (_raw_with("v", "-Infinity"), ShapeProblem.NUMBER),
    "a lone surrogate in the narrative": (
        b'{"incident_types":["other"],"narrative":"\\ud800"}',
        ShapeProblem.BAD_TEXT,
    ),
    "a lone surrogate in a field name": (_raw_with("\\udfff", "1"), ShapeProblem.BAD_TEXT),
    "a field twice": (
        b'{"incident_types":["other"],"narrative":"a","narrative":"b"}',
        ShapeProblem.DUPLICATE_FIELD,
    ),
    "not UTF-8": (b'\xff\xfe{"narrative":"x"}', ShapeProblem.NOT_UTF8),
    "an encoded surrogate": (b'{"narrative":"\xed\xa0\x80"}', ShapeProblem.NOT_UTF8),
    "a raw control character": (b'{"narrative":"\x1b[2J"}', ShapeProblem.NOT_JSON),
    "not JSON": (b"<script>alert(1)</script>", ShapeProblem.NOT_JSON),
    "nothing": (b"", ShapeProblem.NOT_JSON),
    "an array": (b"[1, 2, 3]", ShapeProblem.NOT_OBJECT),
    "a string": (b'"a string"', ShapeProblem.NOT_OBJECT),
    "null": (b"null", ShapeProblem.NOT_OBJECT),
    "a string for a list": (_with(incident_types="death_threat"), ShapeProblem.NOT_THE_FORM),
    "yes for true": (_with(ongoing="yes"), ShapeProblem.NOT_THE_FORM),
    "a version as text": (_with(v="1"), ShapeProblem.NOT_THE_FORM),
    "an unknown field": (_with(extra=[1]), ShapeProblem.NOT_THE_FORM),
    "a narrative too long": (_with(narrative="x" * (NARRATIVE_MAX + 1)), ShapeProblem.NOT_THE_FORM),
    "an escape sequence in the narrative": (
        _with(narrative="\x1b]0;owned\x07"),
        ShapeProblem.CONTROL_CHARACTERS,
    ),
    "a C1 control in a district": (
        _with(location={"district": "Karrada\x9b2J"}),
        ShapeProblem.CONTROL_CHARACTERS,
    ),
}


def test_read_report_that_follows_the_form_returns_its_fields() -> None:
    content = received.read(_with(location={"governorate": "basra"}))
    assert content == {**FORM, "location": {"governorate": "basra"}}
    assert received.follows_form(content)


@pytest.mark.parametrize("name", HOSTILE)
def test_read_report_that_does_not_follow_the_form_is_kept_as_text(name: str) -> None:
    plaintext, problem = HOSTILE[name]
    content = received.read(plaintext)
    assert not received.follows_form(content)
    assert content[received.SHAPE_PROBLEM] == problem.value
    assert set(content["incident_types"]) <= codes(INCIDENT_TYPES)
    text = content[received.AS_RECEIVED]
    assert len(text) <= received.AS_RECEIVED_MAX
    # The text acts on no terminal, and every part can be written out (no lone surrogate).
    assert received.visible(text) == text
    json.dumps(content, ensure_ascii=False).encode("utf-8")


def test_read_report_as_received_is_the_text_with_control_characters_written_out() -> None:
    plaintext = "{bad json \x1b]0;owned\x07 \r\u202eevil\u2066 \u0085 tab\tnew\nline\x7f".encode()
    text = received.read(plaintext)[received.AS_RECEIVED]
    assert text == (
        "{bad json \\u001b]0;owned\\u0007 \\u000d\\u202eevil\\u2066 \\u0085 tab\tnew\nline\\u007f"
    )


def test_read_report_as_received_shows_bytes_that_are_not_utf8_as_escapes() -> None:
    content = received.read(b'{"narrative": "caf\xe9 <b>"}')
    assert content[received.AS_RECEIVED] == '{"narrative": "caf\\xe9 <b>"}'
    assert content["narrative"] == ""


def test_parse_refuses_more_than_an_envelope_can_hold() -> None:
    with pytest.raises(Unreadable) as refused:
        received.parse(b" " * (received.MAX_BYTES + 1))
    assert refused.value.problem == ShapeProblem.TOO_LARGE


def test_read_long_report_as_received_is_cut_and_says_how_much() -> None:
    plaintext = b"x" * (received.AS_RECEIVED_MAX + 1234)
    content = received.read(plaintext)
    assert content[received.AS_RECEIVED] == "x" * received.AS_RECEIVED_MAX
    assert content[received.AS_RECEIVED_OMITTED] == 1234


def test_read_report_with_tabs_and_line_breaks_follows_the_form() -> None:
    narrative = "first line\n\tindented\r\nsecond"
    assert received.read(_with(narrative=narrative))["narrative"] == narrative


def test_read_report_not_following_the_form_keeps_the_form_codes_it_has() -> None:
    # Sent by another client, an urgent report still comes first; nothing else is kept.
    content = received.read(
        _with(
            incident_types=["detention", "<b>made up</b>", ["nested"], "detention"],
            in_danger_now="yes",
            extra=1,
        )
    )
    assert content["incident_types"] == ["detention"]
    assert content["in_danger_now"] == "yes"
    assert is_urgent(content)
    assert "extra" not in content
    odd = received.read(_with(incident_types="detention", in_danger_now=["yes"]))
    assert (odd["incident_types"], "in_danger_now" in odd) == ([], False)


def test_read_report_not_following_the_form_keeps_a_readable_narrative_only() -> None:
    readable = received.read(_with(extra=1, narrative="threat <b>by</b> phone"))
    assert readable["narrative"] == "threat <b>by</b> phone"
    surrogate = received.read(b'{"narrative":"a\\ud800b","extra":1}')
    assert surrogate["narrative"] == ""
    listed = received.read(_with(extra=1, narrative=["not", "text"]))
    assert listed["narrative"] == ""


def test_parse_refuses_depth_beyond_the_bound_whatever_the_recursion_limit() -> None:
    # The bound is the module's own, not the interpreter's: with the limit raised (by anything
    # in the process), the parser would otherwise go as deep as a document asks.
    deep = b"[" * 20_000 + b"]" * 20_000
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(50_000)
    try:
        with pytest.raises(Unreadable) as refused:
            received.parse(deep)
    finally:
        sys.setrecursionlimit(limit)
    assert refused.value.problem == ShapeProblem.TOO_DEEP
    nested = b'{"a":' * received.MAX_DEPTH + b"1" + b"}" * received.MAX_DEPTH
    assert received.parse(nested) is not None
    with pytest.raises(Unreadable):
        received.parse(b"[" + nested + b"]")


def test_parse_counts_no_bracket_within_a_string() -> None:
    # Brackets, quotes and backslashes inside strings are text, not structure.
    narrative = '[[[[{{{{ " \\ \\" [[[[ ' * 40
    assert received.parse(_with(narrative=narrative))["narrative"] == narrative
    assert received.read(_with(narrative=narrative))["narrative"] == narrative


def test_parse_for_the_search_reads_what_the_form_check_refuses_but_stays_bounded() -> None:
    # The search matches the words of a report that does not follow the form too.
    assert received.parse(_with(extra=1))["extra"] == 1
    for plaintext in (_raw_with("v", "9" * 5000), _raw_with("v", "NaN"), b"[" * 10**5):
        with pytest.raises(Unreadable):
            received.parse(plaintext)


def test_visible_keeps_text_that_acts_on_nothing() -> None:
    text = "تهديد بالقتل\u200c \u200f hello\tworld\n"
    assert received.visible(text) == text


def test_text_of_message_that_is_not_utf8_is_shown_as_received() -> None:
    assert received.text_of("مرحبا".encode()) == ("مرحبا", True)
    assert received.text_of(b"\xff\x1b[2J") == ("\\xff\\u001b[2J", False)
