"""Referring a case to a partner, driven through the dashboard's forms: an administrator
registers partners (their keys checked, their fingerprints shown), a reader of a report
refers it, and what they download opens with the partner's private key to exactly the
fields the reporter's consent allows. Refusals are clear 4xx pages that change nothing."""

import json
import re
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pysequoia
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from hrd_reports.content import IDENTIFYING_FIELDS, REPORT_FIELDS
from hrd_reports.crypto.partners import fingerprint_groups
from hrd_reports.models import AuditEvent, Partner, Referral, Report, ReportStatus, Role
from hrd_reports.services import referrals
from hrd_reports.services.clock import utc_today
from hrd_reports.services.errors import DataIntegrityError
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.web.labels import STAGE_TEXTS
from hrd_reports.wiring import Runtime
from tests.dashboard_support import Clock, StaffBrowser, enrol, install_clock
from tests.helpers import Desk, Person, query_inbox
from tests.partner_keys import (
    AgePartner,
    OpenPgpPartner,
    age_partner,
    as_bytes,
    consented_report,
    openpgp_partner,
)

WORDS = "CANARY-referral"


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return install_clock(monkeypatch)


@pytest.fixture
def client(settings: Settings, runtime: Runtime, desk: Desk) -> Iterator[TestClient]:
    with TestClient(create_app(settings, runtime=runtime)) as test_client:
        yield test_client


@pytest.fixture
def head(client: TestClient, desk: Desk, admin: Person, fake_clock: Clock) -> StaffBrowser:
    """The administrator, who registers partners (and holds the desk's keys)."""
    return StaffBrowser(client.app, enrol(desk, admin, Role.ADMIN), fake_clock)  # type: ignore[arg-type]


@pytest.fixture
def cora(client: TestClient, desk: Desk, admin: Person, fake_clock: Clock) -> StaffBrowser:
    """A coordinator, who refers cases."""
    person = desk.add_vetted("cora", Role.COORDINATOR, by=admin)
    return StaffBrowser(client.app, enrol(desk, person, Role.COORDINATOR), fake_clock)  # type: ignore[arg-type]


def add_partner(head: StaffBrowser, desk: Desk, name: str, key: str) -> UUID:
    head.post("/dashboard/partners", name=name, key=key)
    with desk.session() as session:
        return session.execute(select(Partner.public_id).where(Partner.name == name)).scalar_one()


def refer(
    browser: StaffBrowser,
    report_id: UUID,
    partner: UUID | str,
    *,
    note: str = "",
    tell: bool = True,
) -> Any:
    data = {"partner": str(partner), "note": note, "csrf_token": browser.csrf}
    if tell:
        data["tell_reporter"] = "yes"
    return browser.client.post(
        f"/dashboard/reports/{report_id}/referrals", data=data, follow_redirects=False
    )


def expected_fields(report: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    chosen: dict[str, Any] = {}
    for path in paths:
        *parents, last = path.split(".")
        source, target = report, chosen
        for part in parents:
            source, target = source[part], target.setdefault(part, {})
        target[last] = source[last]
    return chosen


def referral_count(desk: Desk) -> int:
    with desk.session() as session:
        return session.execute(select(func.count()).select_from(Referral)).scalar_one()


# ---- partners -----------------------------------------------------------------------------


def test_admin_adds_a_partner_through_the_form_and_reads_its_fingerprint(
    head: StaffBrowser, desk: Desk
) -> None:
    partner = openpgp_partner(post_quantum=True)
    fingerprint = partner.secret.extract_certificate().fingerprint

    added = add_partner(head, desk, "Legal Aid Kurdistan", partner.public_key)
    page = head.page(f"/dashboard/partners?done=partner_added&at={added}")

    assert "Legal Aid Kurdistan" in page
    assert fingerprint_groups(fingerprint) in page
    assert "ML-KEM-768 + X25519" in page
    assert "post-quantum" in page
    assert "Compare its fingerprint with the partner" in page
    with desk.session() as session:
        event = session.execute(
            select(AuditEvent).where(AuditEvent.action == "partner.add")
        ).scalar_one()
    assert event.actor == "admin"
    assert json.loads(event.detail)["fingerprint"] == fingerprint


@pytest.mark.parametrize(
    ("key", "says"),
    [
        (lambda: str(age_partner().identity), "this is a private (secret) key"),
        (lambda: str(openpgp_partner().secret), "this is a private (secret) key"),
        (
            lambda: openpgp_partner(cipher_suite=pysequoia.CipherSuite.RSA2k).public_key,
            "uses RSA 2048, too weak",
        ),
        (lambda: "age1pq1" + "q" * 60, "post-quantum age keys (age1pq1...) cannot be used yet"),
        (lambda: "age1notakeyatall", "this age public key is not valid"),
        (lambda: "-----BEGIN PGP PUBLIC KEY BLOCK-----\nxx\n", "not a valid OpenPGP public key"),
        (lambda: "", "no key was given"),
    ],
)
def test_partner_form_refuses_a_key_it_cannot_use_with_a_clear_page_and_keeps_nothing(
    head: StaffBrowser, desk: Desk, key: Any, says: str
) -> None:
    pasted = key()
    response = head.client.post(
        "/dashboard/partners", data={"name": "Some Org", "key": pasted, "csrf_token": head.csrf}
    )

    assert response.status_code == 400
    assert says in response.text
    # The name is kept to correct the key; the key is never shown again (it may be secret).
    assert 'value="Some Org"' in response.text
    if pasted:
        assert pasted not in response.text
    with desk.session() as session:
        assert session.execute(select(func.count()).select_from(Partner)).scalar_one() == 0


def test_partner_key_that_expired_is_refused_by_the_desk_clock(
    head: StaffBrowser, desk: Desk, fake_clock: Clock
) -> None:
    partner = openpgp_partner(validity_seconds=600)
    # Past its expiry, within the dashboard session's idle time.
    fake_clock.advance(20 * 60)

    response = head.client.post(
        "/dashboard/partners",
        data={"name": "Late Org", "key": partner.public_key, "csrf_token": head.csrf},
    )

    assert response.status_code == 400
    assert "this OpenPGP key expired on" in response.text


def test_a_second_partner_of_the_same_name_is_refused(head: StaffBrowser, desk: Desk) -> None:
    add_partner(head, desk, "Legal Aid", age_partner().public_key)

    response = head.client.post(
        "/dashboard/partners",
        data={"name": "legal aid", "key": age_partner().public_key, "csrf_token": head.csrf},
    )

    assert response.status_code == 409
    assert "there is already a partner named legal aid" in response.text
    assert 'value="legal aid"' in response.text


def test_partners_page_is_for_administrators_only(cora: StaffBrowser) -> None:
    assert cora.client.get("/dashboard/partners").status_code == 403
    response = cora.client.post(
        "/dashboard/partners", data={"name": "x", "key": "y", "csrf_token": cora.csrf}
    )
    assert response.status_code == 403


# ---- the round trip -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make_partner", "suffix"),
    [(age_partner, ".age"), (lambda: openpgp_partner(post_quantum=True), ".pgp")],
)
def test_referral_without_identity_opens_to_exactly_the_fields_allowed(
    head: StaffBrowser, cora: StaffBrowser, desk: Desk, make_partner: Any, suffix: str
) -> None:
    partner: AgePartner | OpenPgpPartner = make_partner()
    partner_id = add_partner(head, desk, "Legal Aid", partner.public_key)
    report = consented_report(WORDS, share="anonymised")
    report_id = desk.submit(as_bytes(report)).report_id

    page = cora.report(report_id)
    assert "only these fields go to the partner" in page
    response = refer(cora, report_id, partner_id, note="Please call the desk first.")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment; ")
    assert re.fullmatch(rf'attachment; filename="referral-[0-9a-f]{{8}}\{suffix}"', disposition)
    assert response.headers["cache-control"] == "no-store"
    assert WORDS.encode() not in response.content
    package = json.loads(partner.open(response.content))
    allowed = [path for path, _ in REPORT_FIELDS if path not in IDENTIFYING_FIELDS]
    assert package["fields"] == allowed
    assert package["report"] == expected_fields(report, allowed)
    assert WORDS not in json.dumps(package, ensure_ascii=False)
    assert package["note"] == "Please call the desk first."
    assert package["format"] == "hrd-reports/referral/1"
    with desk.session() as session:
        made = session.execute(select(Referral)).scalar_one()
        event = session.execute(
            select(AuditEvent).where(AuditEvent.action == "report.refer")
        ).scalar_one()
    assert str(made.public_id) == package["referral"]
    assert json.loads(made.fields) == allowed
    assert made.referred_by == "cora"
    assert (event.actor, event.subject) == ("cora", str(report_id))
    assert json.loads(event.detail)["fields"] == allowed
    # Listed on the report: to whom, when, by whom, which fields.
    listed = re.search(r'data-testid="referral-made">(.*?)</li>', cora.report(report_id), re.S)
    assert listed is not None
    assert "to Legal Aid, by cora" in listed.group(1)
    assert "Governorate" in listed.group(1)
    assert "What happened" not in listed.group(1)


def test_referral_with_the_reporters_name_opens_to_every_field(
    head: StaffBrowser, cora: StaffBrowser, desk: Desk
) -> None:
    partner = openpgp_partner()
    partner_id = add_partner(head, desk, "Legal Aid", partner.public_key)
    report = consented_report(WORDS, share="named", publish="yes")
    report_id = desk.submit(as_bytes(report)).report_id

    response = refer(cora, report_id, partner_id)

    assert response.status_code == 200, response.text
    package = json.loads(partner.open(response.content))
    everything = [path for path, _ in REPORT_FIELDS]
    assert package["report"] == expected_fields(report, everything)
    assert package["report"]["narrative"] == f"{WORDS}: they came at night."
    assert package["report"]["consent"] == {"share": "named", "publish": "yes"}


def test_a_report_that_gave_only_some_fields_sends_the_others_empty(
    head: StaffBrowser, cora: StaffBrowser, desk: Desk
) -> None:
    partner = age_partner()
    partner_id = add_partner(head, desk, "Legal Aid", partner.public_key)
    report = {"incident_types": ["threat_to_family"], "narrative": WORDS}
    report["consent"] = {"share": "anonymised"}  # type: ignore[assignment]
    report_id = desk.submit(as_bytes(report)).report_id

    package = json.loads(partner.open(refer(cora, report_id, partner_id).content))

    assert package["report"]["incident_types"] == ["threat_to_family"]
    assert package["report"]["location"] == {"governorate": None, "place_type": None}
    assert package["report"]["consent"] == {"share": "anonymised", "publish": None}


# ---- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("share", "says"),
    [
        ("none", "the reporter chose “Do not share: this desk only”"),
        (None, "the reporter did not say whether this report may be shared"),
    ],
)
def test_report_the_reporter_did_not_allow_to_share_cannot_be_referred(
    head: StaffBrowser, cora: StaffBrowser, desk: Desk, share: str | None, says: str
) -> None:
    partner_id = add_partner(head, desk, "Legal Aid", age_partner().public_key)
    report_id = desk.submit(as_bytes(consented_report(WORDS, share=share))).report_id

    page = cora.report(report_id)
    assert says in page
    assert 'data-testid="referral-form"' not in page
    response = refer(cora, report_id, partner_id)

    assert response.status_code == 400
    assert says in response.text
    assert referral_count(desk) == 0


def test_report_that_does_not_follow_the_form_cannot_be_referred(
    head: StaffBrowser, cora: StaffBrowser, desk: Desk
) -> None:
    partner_id = add_partner(head, desk, "Legal Aid", age_partner().public_key)
    crafted = consented_report(WORDS, share="named") | {"extra": "not the form's"}
    report_id = desk.submit(as_bytes(crafted)).report_id

    response = refer(cora, report_id, partner_id)

    assert response.status_code == 400
    assert "does not follow the report form" in response.text
    assert referral_count(desk) == 0


def test_withdrawn_report_cannot_be_referred(
    head: StaffBrowser, cora: StaffBrowser, desk: Desk, settings: Settings
) -> None:
    partner_id = add_partner(head, desk, "Legal Aid", age_partner().public_key)
    report_id = desk.submit(as_bytes(consented_report(WORDS, share="named"))).report_id
    with desk.session() as session:
        session.execute(
            update(Report).where(Report.public_id == report_id).values(withdrawn_on=utc_today())
        )
        session.commit()

    response = refer(cora, report_id, partner_id)

    assert response.status_code == 409
    assert "the reporter withdrew this report" in response.text


def test_unknown_and_disabled_partners_are_refused(
    head: StaffBrowser, cora: StaffBrowser, desk: Desk
) -> None:
    partner_id = add_partner(head, desk, "Legal Aid", age_partner().public_key)
    report_id = desk.submit(as_bytes(consented_report(WORDS, share="named"))).report_id

    assert refer(cora, report_id, "00000000-0000-4000-8000-000000000000").status_code == 404
    assert refer(cora, report_id, "not a partner").status_code == 404
    empty = refer(cora, report_id, "")
    assert (empty.status_code, "choose the partner" in empty.text) == (400, True)
    head.post(f"/dashboard/partners/{partner_id}/disable")
    assert "(disabled)" in head.page("/dashboard/partners")
    assert "Legal Aid" not in cora.report(report_id).split('data-testid="referral-form"')[-1]
    disabled = refer(cora, report_id, partner_id)
    assert disabled.status_code == 409
    assert "the partner Legal Aid is disabled" in disabled.text
    assert referral_count(desk) == 0


def test_partner_key_expired_since_it_was_added_is_not_encrypted_to(
    head: StaffBrowser, cora: StaffBrowser, desk: Desk, fake_clock: Clock
) -> None:
    partner = openpgp_partner(validity_seconds=600)
    partner_id = add_partner(head, desk, "Legal Aid", partner.public_key)
    report_id = desk.submit(as_bytes(consented_report(WORDS, share="named"))).report_id
    # Past its expiry, within the dashboard session's idle time.
    fake_clock.advance(20 * 60)

    response = refer(cora, report_id, partner_id)

    assert response.status_code == 400
    assert "the key of Legal Aid can no longer be used" in response.text
    assert referral_count(desk) == 0


def test_partner_key_altered_in_the_database_is_not_encrypted_to(
    head: StaffBrowser, desk: Desk, admin: Person
) -> None:
    # Whoever can write the database swaps in a key of their own: refused, not encrypted to.
    partner_id = add_partner(head, desk, "Legal Aid", age_partner().public_key)
    report_id = desk.submit(as_bytes(consented_report(WORDS, share="named"))).report_id
    attacker = age_partner()
    with desk.session() as session:
        session.execute(
            update(Partner)
            .where(Partner.public_id == partner_id)
            .values(public_key=attacker.public_key)
        )
        session.commit()

    with desk.session() as session, pytest.raises(DataIntegrityError):
        referrals.refer(
            session,
            reader=desk._unlock(session, admin),
            report_id=report_id,
            partner_id=partner_id,
            note="",
            tell_reporter=False,
            secrets=desk.secrets,
        )


def test_who_may_refer_a_case(
    client: TestClient,
    head: StaffBrowser,
    desk: Desk,
    admin: Person,
    fake_clock: Clock,
) -> None:
    partner = age_partner()
    partner_id = add_partner(head, desk, "Legal Aid", partner.public_key)
    mine = desk.submit(as_bytes(consented_report(WORDS, share="named"))).report_id
    theirs = desk.submit(as_bytes(consented_report(WORDS, share="named"))).report_id
    worker = desk.add_vetted("wafa", Role.CASE_WORKER, by=admin)
    desk.assign(mine, to="wafa", by=admin)
    wafa = StaffBrowser(client.app, enrol(desk, worker, Role.CASE_WORKER), fake_clock)  # type: ignore[arg-type]
    auditor = StaffBrowser(
        client.app, enrol(desk, desk.add("aziz", Role.AUDITOR), Role.AUDITOR), fake_clock
    )  # type: ignore[arg-type]

    # The case worker the report is assigned to refers it; not a report of someone else's.
    assert refer(wafa, mine, partner_id).status_code == 200
    refused = refer(wafa, theirs, partner_id)
    assert refused.status_code == 403
    assert WORDS not in refused.text
    assert refer(auditor, mine, partner_id).status_code == 403
    assert refer(head, UUID("00000000-0000-4000-8000-000000000000"), partner_id).status_code == 404
    with desk.session() as session:
        refusals = (
            session.execute(select(AuditEvent.actor).where(AuditEvent.action == "access.refused"))
            .scalars()
            .all()
        )
    assert refusals == ["wafa", "aziz"]
    assert referral_count(desk) == 1


# ---- what the reporter reads --------------------------------------------------------------


def test_reporter_reads_that_the_case_was_referred_in_the_desks_words(
    client: TestClient, head: StaffBrowser, cora: StaffBrowser, desk: Desk, admin: Person
) -> None:
    partner_id = add_partner(head, desk, "Legal Aid", age_partner().public_key)
    told = desk.submit(as_bytes(consented_report(WORDS, share="named")))
    untold = desk.submit(as_bytes(consented_report(WORDS, share="named")))

    refer(cora, told.report_id, partner_id, tell=True)
    refer(cora, untold.report_id, partner_id, tell=False)

    assert query_inbox(client, told.receipt).json()["stage"] == "referred"
    assert query_inbox(client, untold.receipt).json()["stage"] == "received"
    page = client.post(
        "/inbox", data={"action": "read", "receipt": told.receipt, "no_script": "yes"}
    ).text
    assert STAGE_TEXTS["referred"] in page
    # The desk's own words for the stage, on the page where it words every stage.
    words = "We passed your case to lawyers we trust."
    cora.post("/dashboard/stages", stage="referred", locale="en", text=words)
    assert query_inbox(client, told.receipt).json()["stage_message"] == words
    # Closed is closed, referred or not.
    desk.set_status(told.report_id, ReportStatus.CLOSED, by=admin)
    assert query_inbox(client, told.receipt).json()["stage"] == "closed"
