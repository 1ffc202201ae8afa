"""A case file as one JSON document whose field names follow HURIDOCS' Events Standard Formats.

The Events Standard Formats (HURIDOCS, 2001) record a violation as an *event* (what happened,
where, when), the *acts* in it (one per type of act), the *victim*, the perpetrator's
*involvement*, the *chain of events* between events and the *interventions*. Their fields are
numbered (the event's 101-173, the act's 2101-2172...); each key here is such a field's name as
HURIDOCS' own OpenEvSys spells it, so that a tool built on the formats finds each value where
it looks. ``docs/HURIDOCS.md`` is the mapping, field by field. What the formats have no field
for (the desk's workflow, the conversation with the reporter) is under ``desk``.

A choice goes out as ``{"code": ..., "label": ...}``: our form's stable code and its label in
the exporter's language. A value that is not one of the form's codes (a report sealed by
another client) goes out as the text it is, with the label null: it is never looked up in a
catalogue. The reporter's words go out as they were written; JSON escapes them, and whoever
opens the file decides how to show them.
"""

from collections.abc import Callable
from typing import Any

from hrd_reports import content, received
from hrd_reports.services.evidence import FileView
from hrd_reports.services.exports import CaseFile
from hrd_reports.services.linking import short_id
from hrd_reports.web.labels import NAMES, PRIORITY_NAMES

FORMAT = "hrd-reports case file"
FORMAT_VERSION = 1
STANDARD = "HURIDOCS Events Standard Formats"

Translate = Callable[[str], str]
_LABELS = content.all_labels()


def _choice(table: str, code: Any, translate: Translate) -> dict[str, Any] | None:
    if code is None or code == "":
        return None
    label = _LABELS[table].get(code) if isinstance(code, str) else None
    if label is None:
        return {"code": code if isinstance(code, str) else None, "label": None}
    return {"code": code, "label": translate(label)}


def _choices(table: str, codes: Any, translate: Translate) -> list[dict[str, Any]]:
    if not isinstance(codes, list):
        return []
    return [choice for code in codes if (choice := _choice(table, code, translate))]


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _named(code: str | None, names: dict[str, str], translate: Translate) -> dict[str, Any] | None:
    if code is None:
        return None
    return {"code": code, "label": translate(names[code]) if code in names else None}


def _dates(report: dict[str, Any], translate: Translate) -> dict[str, Any]:
    """Initial and final date (ESF 113/114, 2111/2121) with their type (113_1/114_1)."""
    dates: dict[str, Any] = {}
    for ours, theirs in (("start", "initial"), ("end", "final")):
        moment = _mapping(report.get(ours))
        dates[f"{theirs}_date"] = _text(moment.get("date"))
        dates[f"{theirs}_date_type"] = _choice("precision", moment.get("precision"), translate)
    return dates


def document(case: CaseFile, *, language: str, translate: Translate) -> dict[str, Any]:
    """The case file as JSON (see the module's docstring and ``docs/HURIDOCS.md``)."""
    detail = case.detail
    view = detail.view
    report = view.content or {}
    location = _mapping(report.get("location"))
    target = _mapping(report.get("target"))
    perpetrator = _mapping(report.get("perpetrator"))
    consent = _mapping(report.get("consent"))
    dates = _dates(report, translate)
    types = _choices("incident_types", report.get("incident_types"), translate)
    title = ", ".join(str(kind["label"] or kind["code"]) for kind in types)
    return {
        "document": {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "standard": STANDARD,
            "mapping": "docs/HURIDOCS.md",
            "language": language,
            "exported_by": case.exporter.name,
            "exported_on": case.exporter.day.isoformat(),
        },
        "event": {
            "event_record_number": str(view.id),
            "event_title": f"{short_id(view.id)}: {title}" if title else short_id(view.id),
            # Confidential unless the reporter agreed to share it.
            "confidentiality": consent.get("share") not in ("anonymised", "named"),
            "geographical_term": _choice("governorates", location.get("governorate"), translate),
            "local_geographical_area": _text(location.get("district")),
            **dates,
            "event_description": _text(report.get("narrative")),
            "date_received": view.received_on.isoformat(),
            "monitoring_status": _named(view.status, NAMES, translate),
            "record_grouping": detail.tags,
            "comments": [
                {"author": note.author, "date": note.written_on.isoformat(), "text": note.text}
                for note in detail.notes
            ],
            "files": [_file(file) for file in detail.files],
        },
        "acts": [
            {
                "type_of_act": kind,
                "initial_date": dates["initial_date"],
                "initial_date_type": dates["initial_date_type"],
                "final_date": dates["final_date"],
                "final_date_type": dates["final_date_type"],
                "type_of_location": _choice("place_types", location.get("place_type"), translate),
                "victim_characteristics": _choices("sectors", [target.get("sector")], translate),
                "age_at_time_of_victimisation": _choice(
                    "age_bands", target.get("age_band"), translate
                ),
            }
            for kind in types
        ],
        "victim": {
            "counting_unit": _choice("who", target.get("who"), translate),
            "sex": _choice("genders", target.get("gender"), translate),
        },
        "involvement": {
            "type_of_perpetrator": _choices(
                "perpetrator_types", perpetrator.get("types"), translate
            ),
            "latest_status_as_perpetrator_in_the_act": _choice(
                "identification", perpetrator.get("identification"), translate
            ),
            "remarks": _text(perpetrator.get("identifiers")),
        },
        "chain_of_events": [{"related_event": str(other)} for other in detail.links],
        "intervention": {
            "type_of_intervention": _choices("needs", report.get("needs"), translate),
            "priority": _named(view.priority, PRIORITY_NAMES, translate),
        },
        "desk": _desk(case, report, translate),
    }


def _desk(case: CaseFile, report: dict[str, Any], translate: Translate) -> dict[str, Any]:
    """What the formats have no field for: the desk's workflow, how the report arrived, and
    the conversation with the reporter."""
    detail = case.detail
    view = detail.view
    consent = _mapping(report.get("consent"))
    problem = report.get(received.SHAPE_PROBLEM)
    return {
        "in_danger_now": _choice("yes_no", report.get("in_danger_now"), translate),
        "ongoing": report.get("ongoing") is True if view.follows_form else None,
        "urgent": detail.urgent,
        "risk": _named(detail.risk, NAMES, translate),
        "assigned_to": view.assignee,
        "server_sealed": view.server_sealed,
        "withdrawn_on": detail.withdrawn_on.isoformat() if detail.withdrawn_on else None,
        "consent": {
            "share": _choice("consent_share", consent.get("share"), translate),
            "publish": _choice("yes_no", consent.get("publish"), translate),
        },
        "opened": view.content is not None,
        "problem": (
            translate(view.refusal.template) % view.refusal.params
            if view.refusal is not None
            else None
        ),
        "follows_form": view.follows_form if view.content is not None else None,
        "shape_problem": (
            {"code": problem, "label": translate(received.SHAPE_PROBLEMS[problem])}
            if problem in received.SHAPE_PROBLEMS
            else None
        ),
        "as_received": report.get(received.AS_RECEIVED),
        "as_received_omitted": report.get(received.AS_RECEIVED_OMITTED, 0),
        "hidden_links": detail.hidden_links,
        "conversation": [
            {
                "id": str(message.id),
                "sender": message.sender.value,
                "author": message.author,
                "sent_on": message.sent_on.isoformat(),
                "opened": message.text is not None,
                "as_received": message.as_received,
                "text": message.text,
            }
            for message in detail.messages
        ],
    }


def _file(file: FileView) -> dict[str, Any]:
    """A file as the list shows it (ESF 167, Files): what it is, never its content."""
    record = file.record
    return {
        "position": file.position,
        "sent_with_message": str(file.message_id) if file.message_id else None,
        "opened": record is not None,
        "name": file.name if record is not None else None,
        "media_type": file.media_type if record is not None else None,
        "media_type_as_sent": file.media_type_as_sent if record is not None else None,
        "size": record.size if record is not None else None,
        "stored_size": file.stored_size,
        "sha256": record.sha256_original if record is not None else None,
        "sha256_as_sent": record.sha256_sent if record is not None else None,
        "metadata": record.metadata.value if record is not None else None,
    }
