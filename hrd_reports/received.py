"""A decrypted report read as untrusted input: parsed within bounds, checked against the form,
and otherwise kept as the text it arrived as.

The server sees a report for the first time when a reader opens it, and anyone with one proof
of work can seal any bytes to the desk's key: arrays nested a hundred thousand deep (the
parser's recursion), a number of thousands of digits (Python refuses to convert it), a lone
surrogate (no page or terminal can encode it), NaN, a field given twice, bytes that are not
UTF-8. None of it may break a list, a search, a page or a command for the desk, and none of it
may reach a reader as anything but inert text. So:

- ``parse`` reads a report for the search, which opens every report: the standard parser at
  full speed, within bounds of depth and structure, every refusal one exception.
- ``read`` reads a report to show: a stricter parse, then the form's model (strict types); a
  report that does not follow the form becomes ``as_received``: the bytes as escaped text,
  bounded, with why it is not the form.
"""

import contextlib
import json
import re
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from hrd_reports.content import INCIDENT_TYPES, NARRATIVE_MAX, ReportContent, codes
from hrd_reports.crypto.envelope import LENGTH_PREFIX_SIZE, MAX_REPORT_BUCKET
from hrd_reports.i18n import N_

# The envelope's largest bucket already bounds a report; said here too, so that a larger
# bucket one day does not make the parser take whatever it is given.
MAX_BYTES = MAX_REPORT_BUCKET - LENGTH_PREFIX_SIZE
# The form nests three deep (report, location, value) and has about twenty brackets; a
# structure beyond these bounds is shown as text, not parsed. The bound on depth holds
# whatever Python's recursion limit is set to, so the parser's own stack is never the limit.
MAX_DEPTH = 16
MAX_BRACKETS = 256
# The form's only number is its version; a number of thousands of digits costs time to
# convert (Python stops at 4,300 digits, with an error).
MAX_NUMBER_LENGTH = 32
# What a page or a command shows of a report that does not follow the form, in characters.
AS_RECEIVED_MAX = 64_000

# Keys of the content of a report that does not follow the form; the form's model forbids
# unknown fields, so a reporter cannot set them.
UNEXPECTED_SHAPE = "unexpected_shape"
AS_RECEIVED = "as_received"
AS_RECEIVED_OMITTED = "as_received_omitted"
SHAPE_PROBLEM = "shape_problem"


class ShapeProblem(StrEnum):
    TOO_LARGE = "too_large"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    TOO_DEEP = "too_deep"
    NUMBER = "number"
    DUPLICATE_FIELD = "duplicate_field"
    NOT_OBJECT = "not_object"
    BAD_TEXT = "bad_text"
    CONTROL_CHARACTERS = "control_characters"
    NOT_THE_FORM = "not_the_form"


# What the report page says of each problem.
SHAPE_PROBLEMS = {
    ShapeProblem.TOO_LARGE: N_("It is larger than any report the form sends."),
    ShapeProblem.NOT_UTF8: N_("It is not UTF-8 text: bytes that are not are shown as \\x escapes."),
    ShapeProblem.NOT_JSON: N_("It is not a JSON document."),
    ShapeProblem.TOO_DEEP: N_("It is nested deeper, or has more parts, than the form ever has."),
    ShapeProblem.NUMBER: N_("It holds a number the form never has: too long, or not finite."),
    ShapeProblem.DUPLICATE_FIELD: N_("A field is given more than once."),
    ShapeProblem.NOT_OBJECT: N_("It is JSON, but not an object with the form's fields."),
    ShapeProblem.BAD_TEXT: N_("A text in it is not valid Unicode (a lone surrogate)."),
    ShapeProblem.CONTROL_CHARACTERS: N_(
        "A text in it holds control characters, which the form's fields never send."
    ),
    ShapeProblem.NOT_THE_FORM: N_("Its fields or their values are not the form's."),
}


class Unreadable(Exception):
    """The content does not follow the form; ``problem`` says how. Carries no content."""

    def __init__(self, problem: ShapeProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


# Characters shown as ``\\uXXXX``: the C0 controls but tab and line feed, DEL, the C1 controls,
# the line and paragraph separators, the bidirectional embeddings, overrides and isolates, and
# lone surrogates (a JSON escape such as ``"\\ud800"`` in a file's record gives one, and no
# page, file or terminal can encode it).
# Escape sequences move a terminal's cursor or rewrite its title, a carriage return overwrites
# a line, and an override makes text read in another order than it is: none may act on a
# reader. Written as ``\\uXXXX``, each stays a valid escape inside a JSON string as well.
_INVISIBLE = [
    *(code for code in range(0x20) if chr(code) not in "\t\n"),
    *range(0x7F, 0xA0),
    0x2028,
    0x2029,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
    *range(0xD800, 0xE000),
]
_VISIBLE = {code: f"\\u{code:04x}" for code in _INVISIBLE}


def visible(text: str) -> str:
    """``text`` with every control character written out as an escape (see ``_INVISIBLE``)."""
    return text.translate(_VISIBLE)


def _refuse_constant(_name: str) -> Any:
    raise Unreadable(ShapeProblem.NUMBER)  # NaN, Infinity, -Infinity: not JSON at all


def _bounded_int(text: str) -> int:
    if len(text) > MAX_NUMBER_LENGTH:
        raise Unreadable(ShapeProblem.NUMBER)
    return int(text)


def _bounded_float(text: str) -> float:
    value = float(text) if len(text) <= MAX_NUMBER_LENGTH else float("inf")
    if value in (float("inf"), float("-inf")):
        raise Unreadable(ShapeProblem.NUMBER)
    return value


def _unique_fields(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Parsers disagree on which of two values of one field counts (Python and browsers keep
    # the last, others the first): the desk must not read another report than a tool would.
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise Unreadable(ShapeProblem.DUPLICATE_FIELD)
    return fields


# For the search: the C parser at full speed (a number too long for Python is a ValueError).
_FAST = json.JSONDecoder(parse_constant=_refuse_constant)
# For a report shown: every number bounded, every field once.
_STRICT = json.JSONDecoder(
    parse_int=_bounded_int,
    parse_float=_bounded_float,
    parse_constant=_refuse_constant,
    object_pairs_hook=_unique_fields,
)
_ESCAPED_PAIRS = re.compile(r"\\.", re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
# Control characters that no field of the form sends (a text area sends tabs and line breaks).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_INCIDENT_CODES = codes(INCIDENT_TYPES)


def _check_structure(text: str) -> None:
    """Refuse a document deeper than ``MAX_DEPTH`` or with more than ``MAX_BRACKETS``.

    Linear, and at C speed but for the final walk over at most ``MAX_BRACKETS`` characters:
    escaped characters are dropped (so an escaped quote is not a quote), then the text
    between quotes (string contents), then everything but brackets.
    """
    outside_strings = _ESCAPED_PAIRS.sub("", text).split('"')[0::2]
    brackets = _NOT_BRACKETS.sub("", "".join(outside_strings))
    if len(brackets) > MAX_BRACKETS:
        raise Unreadable(ShapeProblem.TOO_DEEP)
    depth = 0
    for bracket in brackets:
        depth += 1 if bracket in "[{" else -1
        if depth > MAX_DEPTH:
            raise Unreadable(ShapeProblem.TOO_DEEP)


def parse(plaintext: bytes, *, strict: bool = False) -> Any:
    """The JSON document ``plaintext`` holds, or ``Unreadable``.

    A search decrypts and parses every report it looks through, so the common case costs what
    ``json.loads`` costs: the structure is only looked at when the text has more brackets
    than the form could nest (two counts at C speed decide).
    """
    if len(plaintext) > MAX_BYTES:
        raise Unreadable(ShapeProblem.TOO_LARGE)
    try:
        text = plaintext.decode("utf-8")
    except UnicodeDecodeError:
        raise Unreadable(ShapeProblem.NOT_UTF8) from None
    if text.count("[") + text.count("{") > MAX_DEPTH:
        _check_structure(text)
    try:
        return (_STRICT if strict else _FAST).decode(text)
    except RecursionError:
        raise Unreadable(ShapeProblem.TOO_DEEP) from None
    except ValueError:  # json.JSONDecodeError, or a number too long for Python
        raise Unreadable(ShapeProblem.NOT_JSON) from None


def _check_form(document: Any) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise Unreadable(ShapeProblem.NOT_OBJECT)
    try:
        report = ReportContent.model_validate(document, strict=True)
    except ValidationError as exc:
        kinds = {error["type"] for error in exc.errors(include_input=False)}
        problem = ShapeProblem.BAD_TEXT if "string_unicode" in kinds else ShapeProblem.NOT_THE_FORM
        raise Unreadable(problem) from None
    texts = (report.narrative, report.location.district, report.perpetrator.identifiers)
    if any(_CONTROL.search(text) for text in texts):
        raise Unreadable(ShapeProblem.CONTROL_CHARACTERS)
    return document


def _salvaged(document: Any) -> dict[str, Any]:
    """What can be read safely of a report that does not follow the form: the incident types
    that are the form's codes and whether the reporter is in danger now (so that an urgent
    report sent by another client still comes first), and a narrative that is text."""
    if not isinstance(document, dict):
        return {"incident_types": [], "narrative": ""}
    types = document.get("incident_types")
    known = (
        [
            kind
            for kind in types[: len(INCIDENT_TYPES)]
            if isinstance(kind, str) and kind in _INCIDENT_CODES
        ]
        if isinstance(types, list)
        else []
    )
    narrative = document.get("narrative")
    if not isinstance(narrative, str) or len(narrative) > NARRATIVE_MAX or not encodable(narrative):
        narrative = ""  # a lone surrogate cannot be written on a page or to a terminal
    salvaged: dict[str, Any] = {
        "incident_types": list(dict.fromkeys(known)),
        "narrative": narrative,
    }
    if document.get("in_danger_now") in ("yes", "no"):
        salvaged["in_danger_now"] = document["in_danger_now"]
    return salvaged


def encodable(text: str) -> bool:
    """Whether ``text`` can be written out at all: a lone surrogate cannot, on a page or in a
    terminal (JSON's ``"\\ud800"`` parses to one)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def as_received(plaintext: bytes) -> tuple[str, int]:
    """The bytes as text a page or a terminal shows as it is, at most ``AS_RECEIVED_MAX``
    characters; and how many characters were left out."""
    text = visible(plaintext.decode("utf-8", errors="backslashreplace"))
    omitted = max(0, len(text) - AS_RECEIVED_MAX)
    return text[:AS_RECEIVED_MAX], omitted


def read(plaintext: bytes) -> dict[str, Any]:
    """The report as the form defines it; anything else, as the text it arrived as.

    A report that does not follow the form keeps what can be read of it safely (``_salvaged``)
    and, whole up to a bound, its text (``AS_RECEIVED``), with ``UNEXPECTED_SHAPE`` set and
    why (``SHAPE_PROBLEM``). A field that is not one of the form's codes must reach a page as
    the words it is, never as a label to translate or as markup.
    """
    document: Any = None
    try:
        document = parse(plaintext, strict=True)
        return _check_form(document)
    except Unreadable as exc:
        problem = exc.problem
    if document is None:
        # A field given twice, say: what can be read, read as a browser reads it.
        with contextlib.suppress(Unreadable):
            document = parse(plaintext)
    text, omitted = as_received(plaintext)
    return {
        **_salvaged(document),
        AS_RECEIVED: text,
        AS_RECEIVED_OMITTED: omitted,
        UNEXPECTED_SHAPE: True,
        SHAPE_PROBLEM: problem.value,
    }


def follows_form(content: dict[str, Any]) -> bool:
    return not content.get(UNEXPECTED_SHAPE)


def text_of(plaintext: bytes) -> tuple[str, bool]:
    """Text someone sent (a message), and whether it was valid UTF-8; if not, as received."""
    try:
        return plaintext.decode("utf-8"), True
    except UnicodeDecodeError:
        return as_received(plaintext)[0], False
