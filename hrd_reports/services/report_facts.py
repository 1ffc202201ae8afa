"""What the statistics read of a decrypted report: its incident types, governorate,
perpetrator kinds and targeted group, or the row it counts under when it has none.

Decrypted content is untrusted input (``hrd_reports.received``): anyone with one proof of work
can seal any bytes to the desk's key. A report whose fields are not as the form makes them
counts under "not following the form", one that does not open under "could not be opened";
nothing here raises on what a report holds. Every report of a period goes through here, so
the fields the statistics count are checked with the form's own rules (``content``) in set
operations rather than through the whole model, which the list already applied to each
report when it was first opened (``Report.follows_form``).
"""

from collections.abc import Mapping
from typing import Any, NamedTuple

from hrd_reports import content, received

# The rows of a report that gives no facts.
OFF_FORM = "off_form"
NOT_OPENED = "not_opened"

_INCIDENT_CODES = content.codes(content.INCIDENT_TYPES)
_GOVERNORATE_CODES = content.codes(content.GOVERNORATES)
_PERPETRATOR_CODES = content.codes(content.PERPETRATOR_TYPES)
_SECTOR_CODES = content.codes(content.SECTORS)
_EMPTY: Mapping[str, Any] = {}


class Facts(NamedTuple):
    incident_types: tuple[str, ...]
    governorate: str | None
    perpetrators: tuple[str, ...]
    sector: str | None


def _codes(values: object, allowed: frozenset[str], *, most: int) -> tuple[str, ...] | None:
    """A list of distinct codes of the form, or None. In set operations: every report of a
    period goes through here."""
    if type(values) is not list or len(values) > most:
        return None
    try:
        distinct = set(values)
    except TypeError:  # an object or a list among the codes
        return None
    if len(distinct) != len(values) or not distinct <= allowed:
        return None
    return tuple(values)


def _code(value: object, allowed: frozenset[str]) -> tuple[bool, str | None]:
    """Whether ``value`` is a choice of the form or absent, and the choice."""
    if value is None:
        return True, None
    if type(value) is not str:
        return False, None
    return value in allowed, value


def read_facts(document: Any) -> Facts | None:
    """What the statistics count of a decrypted report, or None when the fields they read are
    not as the form makes them (the form's own checks, ``content.ReportContent``, for these
    fields: cheaper than the whole model, since every report of a period is read).

    ``document`` comes from the JSON parser (``received.parse``), which makes exact dicts,
    lists and strings and nothing derived from them: the exact types are asked (``type(x) is
    dict``, cheaper than ``isinstance``), and any other shape is not the form's.
    """
    if type(document) is not dict:
        return None
    version = document.get("v", 1)
    if version != 1 or type(version) is bool:
        return None
    types = _codes(document.get("incident_types"), _INCIDENT_CODES, most=len(_INCIDENT_CODES))
    location = document.get("location", _EMPTY)
    target = document.get("target", _EMPTY)
    perpetrator = document.get("perpetrator", _EMPTY)
    if not types or type(location) is not dict or type(target) is not dict:
        return None
    if type(perpetrator) is not dict:
        return None
    perpetrators = _codes(
        perpetrator.get("types", []), _PERPETRATOR_CODES, most=len(_PERPETRATOR_CODES)
    )
    governorate_ok, governorate = _code(location.get("governorate"), _GOVERNORATE_CODES)
    sector_ok, sector = _code(target.get("sector"), _SECTOR_CODES)
    if perpetrators is None or not governorate_ok or not sector_ok:
        return None
    return Facts(types, governorate, perpetrators, sector)


def facts_of(plaintext: bytes | None, follows_form: bool | None) -> Facts | str:
    """The facts of one report, or the row it counts under when it has none."""
    if plaintext is None:
        return NOT_OPENED
    if follows_form is False:
        return OFF_FORM
    try:
        document = received.parse(plaintext)
    except received.Unreadable:
        return OFF_FORM
    # Nobody has opened it yet: the whole form is checked, as its first reader's list would.
    if follows_form is None and not received.follows_form(received.read(plaintext)):
        return OFF_FORM
    return read_facts(document) or OFF_FORM
