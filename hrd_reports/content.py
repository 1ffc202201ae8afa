"""What a reporter tells the desk: the fields of a report, version 1.

Aligned with the HURIDOCS event formats, adapted to the threats human-rights defenders face
in Iraq. Codes are stable (they are stored inside encrypted reports and filtered on in the
dashboard); labels are English source strings, translated where shown. The browser builds
the same JSON document from the same form fields (``static/js/intake.js``); without
JavaScript, ``content_from_form`` builds it on the server, in memory.
"""

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hrd_reports.i18n import N_

CONTENT_VERSION = 1
NARRATIVE_MAX = 50_000
SHORT_TEXT_MAX = 200
LONG_TEXT_MAX = 2_000

Choices = tuple[tuple[str, str], ...]

INCIDENT_TYPES: Choices = (
    ("death_threat", N_("Death threat")),
    ("threat_to_family", N_("Threat to family")),
    ("intimidation", N_("Intimidation or harassment")),
    ("surveillance", N_("Physical or digital surveillance or stalking")),
    ("account_compromise", N_("Account compromise or device seizure")),
    ("blackmail", N_("Blackmail or extortion")),
    ("smear_campaign", N_("Smear campaign or incitement")),
    ("arbitrary_arrest", N_("Arbitrary arrest or summons")),
    ("detention", N_("Detention, enforced disappearance or abduction")),
    ("judicial_harassment", N_("Judicial harassment or travel ban")),
    ("physical_assault", N_("Physical assault")),
    ("torture", N_("Torture or sexual violence")),
    ("raid", N_("Raid, arson or attack on home or office")),
    ("assassination_attempt", N_("Assassination attempt")),
    ("killing", N_("Killing")),
    ("dismissal", N_("Dismissal or administrative reprisal")),
    ("forced_displacement", N_("Forced displacement")),
    ("other", N_("Other")),
)
DATE_PRECISIONS: Choices = (
    ("exact", N_("Exact date")),
    ("approximate", N_("Approximate date")),
    ("month", N_("Only the month")),
    ("unknown", N_("Unknown")),
)
YES_NO: Choices = (("yes", N_("Yes")), ("no", N_("No")))
# The 18 governorates of Iraq, the Kurdistan Region's included, and Halabja.
GOVERNORATES: Choices = (
    ("anbar", N_("Anbar")),
    ("babil", N_("Babil")),
    ("baghdad", N_("Baghdad")),
    ("basra", N_("Basra")),
    ("dhi_qar", N_("Dhi Qar")),
    ("diyala", N_("Diyala")),
    ("duhok", N_("Duhok")),
    ("erbil", N_("Erbil")),
    ("halabja", N_("Halabja")),
    ("karbala", N_("Karbala")),
    ("kirkuk", N_("Kirkuk")),
    ("maysan", N_("Maysan")),
    ("muthanna", N_("Muthanna")),
    ("najaf", N_("Najaf")),
    ("nineveh", N_("Nineveh")),
    ("qadisiyyah", N_("Qadisiyyah")),
    ("salah_al_din", N_("Salah al-Din")),
    ("sulaymaniyah", N_("Sulaymaniyah")),
    ("wasit", N_("Wasit")),
    ("outside_iraq", N_("Outside Iraq")),
)
PLACE_TYPES: Choices = (
    ("home", N_("Home")),
    ("work", N_("Workplace")),
    ("street", N_("Street or public place")),
    ("checkpoint", N_("Checkpoint")),
    ("detention", N_("Place of detention")),
    ("online", N_("Online")),
    ("protest", N_("Protest or demonstration")),
    ("other", N_("Other")),
)
TARGETS: Choices = (
    ("me", N_("Me")),
    ("colleague", N_("A colleague")),
    ("family", N_("My family or a family member")),
    ("organisation", N_("An organisation")),
)
SECTORS: Choices = (
    ("journalist", N_("Journalist or media worker")),
    ("lawyer", N_("Lawyer")),
    ("activist", N_("Activist")),
    ("union", N_("Trade unionist")),
    ("womens_rights", N_("Women's rights defender")),
    ("environmental", N_("Environmental defender")),
    ("student", N_("Student")),
    ("other", N_("Other")),
)
GENDERS: Choices = (
    ("woman", N_("Woman")),
    ("man", N_("Man")),
    ("other", N_("Another gender")),
    ("undisclosed", N_("Prefer not to say")),
)
AGE_BANDS: Choices = (
    ("under_18", N_("Under 18")),
    ("18_29", N_("18 to 29")),
    ("30_44", N_("30 to 44")),
    ("45_59", N_("45 to 59")),
    ("60_plus", N_("60 or older")),
    ("undisclosed", N_("Prefer not to say")),
)
PERPETRATOR_TYPES: Choices = (
    ("federal_security", N_("Federal security forces")),
    ("army", N_("Army")),
    ("intelligence", N_("Intelligence services")),
    ("krg_security", N_("Kurdistan Region security forces (Asayish)")),
    ("pmf", N_("Popular Mobilisation Forces (PMF) unit")),
    ("militia", N_("Non-state armed group or militia")),
    ("party", N_("Political party or its affiliates")),
    ("tribal", N_("Tribal actor")),
    ("religious", N_("Religious actor")),
    ("family_community", N_("Family or community")),
    ("employer", N_("Employer or private security")),
    ("online", N_("Online actor")),
    ("unknown", N_("Unknown")),
)
IDENTIFICATION: Choices = (
    ("confirmed", N_("Confirmed")),
    ("suspected", N_("Suspected")),
    ("unknown", N_("Unknown")),
)
NEEDS: Choices = (
    ("relocation", N_("Relocation or a safe place")),
    ("legal", N_("Legal support")),
    ("medical", N_("Medical care")),
    ("psychosocial", N_("Psychosocial support")),
    ("digital_security", N_("Digital security help")),
    ("financial", N_("Financial support")),
    ("advocacy", N_("Advocacy")),
    ("documentation_only", N_("Documentation only, no action")),
)
CONSENT_SHARE: Choices = (
    ("none", N_("Do not share: this desk only")),
    ("anonymised", N_("Share without anything that identifies me")),
    ("named", N_("Share with my name")),
)

FLAGGED_TYPES = frozenset({"detention", "assassination_attempt"})

# Every field of a report by its path in the document ("location.district"), with what the
# report page calls it: what a referral to a partner can carry, in this order.
REPORT_FIELDS: Choices = (
    ("incident_types", N_("Incident types")),
    ("in_danger_now", N_("In danger now")),
    ("start", N_("When it started")),
    ("end", N_("When it ended")),
    ("ongoing", N_("Still ongoing")),
    ("location.governorate", N_("Governorate")),
    ("location.district", N_("District, town or area")),
    ("location.place_type", N_("Kind of place")),
    ("target.who", N_("Who was targeted")),
    ("target.sector", N_("Their work")),
    ("target.gender", N_("Gender")),
    ("target.age_band", N_("Age")),
    ("perpetrator.types", N_("Perpetrators")),
    ("perpetrator.identification", N_("How sure the reporter is of who did it")),
    ("perpetrator.identifiers", N_("Identifiers")),
    ("narrative", N_("What happened")),
    ("needs", N_("Needs")),
    ("consent.share", N_("Consent to share")),
    ("consent.publish", N_("Consent to publish")),
)
# What a referral leaves out when the reporter chose to share "without anything that
# identifies me". The form asks for no name and no contact; what identifies a reporter is
# what they wrote in their own words and what narrows them down to a few people:
IDENTIFYING_FIELDS = frozenset(
    {
        # Their own account: names, places, the people around them.
        "narrative",
        # A town or an area, typed: with the rest, often one person.
        "location.district",
        # Names, units, vehicles, accounts: who did it, and so to whom.
        "perpetrator.identifiers",
        # The days it happened: with the place, the incident, and so the person.
        "start",
        "end",
        # With the work and the governorate, a handful of people.
        "target.gender",
        "target.age_band",
    }
)


def is_urgent(content: Mapping[str, Any]) -> bool:
    """In danger now, or an abduction, detention or attempt on a life: at the top of the list."""
    types = content.get("incident_types")
    flagged = isinstance(types, list) and bool(FLAGGED_TYPES & {str(kind) for kind in types})
    return content.get("in_danger_now") == "yes" or flagged


def codes(choices: Choices) -> frozenset[str]:
    return frozenset(code for code, _ in choices)


def _one_of(choices: Choices) -> Any:
    allowed = codes(choices)

    def check(value: str | None) -> str | None:
        if value is not None and value not in allowed:
            raise ValueError(f"unknown choice {value!r}")
        return value

    return check


def _all_of(choices: Choices) -> Any:
    allowed = codes(choices)

    def check(values: list[str]) -> list[str]:
        unknown = [value for value in values if value not in allowed]
        if unknown:
            raise ValueError(f"unknown choices {unknown!r}")
        if len(set(values)) != len(values):
            raise ValueError("a choice is repeated")
        return values

    return check


_DATE = re.compile(r"\d{4}-\d{2}(-\d{2})?")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Moment(_Model):
    date: str = Field(max_length=10)
    precision: Literal["exact", "approximate", "month"]

    @field_validator("date")
    @classmethod
    def _real_date(cls, value: str) -> str:
        if not _DATE.fullmatch(value):
            raise ValueError("a date is YYYY-MM-DD, or YYYY-MM for a month")
        dt.date.fromisoformat(value if len(value) == 10 else value + "-01")
        return value


class Location(_Model):
    governorate: str | None = None
    district: Annotated[str, Field(max_length=SHORT_TEXT_MAX)] = ""
    place_type: str | None = None

    _governorate = field_validator("governorate")(_one_of(GOVERNORATES))
    _place_type = field_validator("place_type")(_one_of(PLACE_TYPES))


class Target(_Model):
    who: str | None = None
    sector: str | None = None
    gender: str | None = None
    age_band: str | None = None

    _who = field_validator("who")(_one_of(TARGETS))
    _sector = field_validator("sector")(_one_of(SECTORS))
    _gender = field_validator("gender")(_one_of(GENDERS))
    _age_band = field_validator("age_band")(_one_of(AGE_BANDS))


class Perpetrator(_Model):
    types: list[str] = Field(default_factory=list, max_length=len(PERPETRATOR_TYPES))
    identification: str | None = None
    identifiers: Annotated[str, Field(max_length=LONG_TEXT_MAX)] = ""

    _types = field_validator("types")(_all_of(PERPETRATOR_TYPES))
    _identification = field_validator("identification")(_one_of(IDENTIFICATION))


class Consent(_Model):
    share: str | None = None
    publish: str | None = None

    _share = field_validator("share")(_one_of(CONSENT_SHARE))
    _publish = field_validator("publish")(_one_of(YES_NO))


class ReportContent(_Model):
    """A report as the reporter wrote it. Only the incident types and narrative are required."""

    v: Literal[1] = 1
    incident_types: list[str] = Field(min_length=1, max_length=len(INCIDENT_TYPES))
    start: Moment | None = None
    end: Moment | None = None
    ongoing: bool = False
    in_danger_now: str | None = None
    location: Location = Location()
    target: Target = Target()
    perpetrator: Perpetrator = Perpetrator()
    narrative: Annotated[str, Field(min_length=1, max_length=NARRATIVE_MAX)]
    needs: list[str] = Field(default_factory=list, max_length=len(NEEDS))
    consent: Consent = Consent()

    _incident_types = field_validator("incident_types")(_all_of(INCIDENT_TYPES))
    _in_danger_now = field_validator("in_danger_now")(_one_of(YES_NO))
    _needs = field_validator("needs")(_all_of(NEEDS))

    @field_validator("narrative")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the narrative is empty")
        return value

    @property
    def urgent(self) -> bool:
        """Flagged at the top of the dashboard: in danger now, detained or attacked."""
        return is_urgent(self.model_dump(mode="json"))

    def to_json_bytes(self) -> bytes:
        return json.dumps(
            self.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":")
        ).encode("utf-8")


class ContentError(ValueError):
    """The form's fields do not make a report; ``fields`` names the form fields that are wrong."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {problem}" for field, problem in fields.items()))
        self.fields = fields


# Where a problem found in the document is shown on the form.
_FORM_FIELD = {
    "incident_types": "incident_type",
    "start": "start_date",
    "end": "end_date",
    "location.governorate": "governorate",
    "location.district": "district",
    "location.place_type": "place_type",
    "target.who": "target_who",
    "target.sector": "target_sector",
    "target.gender": "target_gender",
    "target.age_band": "target_age_band",
    "perpetrator.types": "perpetrator_type",
    "perpetrator.identification": "perpetrator_identification",
    "perpetrator.identifiers": "perpetrator_identifiers",
    "needs": "need",
    "consent.share": "consent_share",
    "consent.publish": "consent_publish",
}


def _text(value: str) -> str:
    # Browsers post a textarea's line breaks as CRLF, while the page's own script reads them
    # as LF: the same words make the same report on both paths.
    return value.replace("\r\n", "\n").replace("\r", "\n")


def _first(fields: Mapping[str, Sequence[str]], name: str) -> str:
    values = fields.get(name) or [""]
    return _text(values[0]).strip()


def _choice(fields: Mapping[str, Sequence[str]], name: str) -> str | None:
    return _first(fields, name) or None


def _all(fields: Mapping[str, Sequence[str]], name: str) -> list[str]:
    return [value for value in fields.get(name, []) if value]


def _moment(fields: Mapping[str, Sequence[str]], prefix: str) -> dict[str, str] | None:
    precision = _first(fields, f"{prefix}_precision") or "exact"
    date = _first(fields, f"{prefix}_date")
    if precision == "unknown" or not date:
        return None
    return {"date": date[:7] if precision == "month" else date, "precision": precision}


def content_from_form(fields: Mapping[str, Sequence[str]]) -> ReportContent:
    """The report a submitted form describes; the browser builds the same from the same fields.

    ``fields`` maps each form field to its values, in order (a checkbox group has several).
    """
    document = {
        "incident_types": _all(fields, "incident_type"),
        "start": _moment(fields, "start"),
        "end": _moment(fields, "end"),
        "ongoing": _first(fields, "ongoing") == "yes",
        "in_danger_now": _choice(fields, "in_danger_now"),
        "location": {
            "governorate": _choice(fields, "governorate"),
            "district": _first(fields, "district"),
            "place_type": _choice(fields, "place_type"),
        },
        "target": {
            "who": _choice(fields, "target_who"),
            "sector": _choice(fields, "target_sector"),
            "gender": _choice(fields, "target_gender"),
            "age_band": _choice(fields, "target_age_band"),
        },
        "perpetrator": {
            "types": _all(fields, "perpetrator_type"),
            "identification": _choice(fields, "perpetrator_identification"),
            "identifiers": _first(fields, "perpetrator_identifiers"),
        },
        # The narrative keeps its own line breaks and spacing.
        "narrative": _text((fields.get("narrative") or [""])[0]),
        "needs": _all(fields, "need"),
        "consent": {
            "share": _choice(fields, "consent_share"),
            "publish": _choice(fields, "consent_publish"),
        },
    }
    try:
        return ReportContent.model_validate(document)
    except ValidationError as exc:
        problems: dict[str, str] = {}
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"] if not isinstance(part, int))
            field = next(
                (name for key, name in _FORM_FIELD.items() if where.startswith(key)), where
            )
            problems.setdefault(field or "report", error["msg"])
        raise ContentError(problems) from None


def all_labels() -> dict[str, dict[str, str]]:
    """Each choice's label (untranslated; templates pass it through gettext), by field."""
    return {
        "incident_types": dict(INCIDENT_TYPES),
        "precision": dict(DATE_PRECISIONS),
        "yes_no": dict(YES_NO),
        "governorates": dict(GOVERNORATES),
        "place_types": dict(PLACE_TYPES),
        "who": dict(TARGETS),
        "sectors": dict(SECTORS),
        "genders": dict(GENDERS),
        "age_bands": dict(AGE_BANDS),
        "perpetrator_types": dict(PERPETRATOR_TYPES),
        "identification": dict(IDENTIFICATION),
        "needs": dict(NEEDS),
        "consent_share": dict(CONSENT_SHARE),
    }
