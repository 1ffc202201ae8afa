"""The reporter's inbox over HTTP: ciphertext only, one answer for every wrong receipt, and a
withdrawal that leaves nothing of the report but its workflow fields."""

import base64
import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from hrd_reports.crypto.contexts import Purpose, bind
from hrd_reports.crypto.messages import encrypt_reporter_message, open_reply_as_reporter
from hrd_reports.crypto.receipts import derive_receipt_keys, generate_receipt
from hrd_reports.models import (
    AuditEvent,
    MessageSender,
    Report,
    ReportMessage,
    ReportStatus,
    WithdrawnReport,
)
from hrd_reports.services import casework, conversation, credentials, withdrawal
from hrd_reports.services.clock import utc_today
from hrd_reports.services.errors import NotFound
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.wiring import Runtime
from tests.cli import invoke
from tests.conftest import DatabaseServer
from tests.helpers import (
    Desk,
    Person,
    post_reporter_message,
    query_body,
    query_inbox,
    report_content,
    solved_pow,
)

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def audit_entries(desk: Desk) -> list[tuple[int, str, str, str]]:
    """(seq, actor, action, detail) of every audit entry, oldest first."""
    with desk.session() as session:
        rows = session.execute(
            select(AuditEvent.seq, AuditEvent.actor, AuditEvent.action, AuditEvent.detail).order_by(
                AuditEvent.seq
            )
        ).all()
    return [tuple(row) for row in rows]


@pytest.fixture
def client(settings: Settings, runtime: Runtime, desk: Desk) -> Iterator[TestClient]:
    with TestClient(create_app(settings, runtime=runtime)) as test_client:
        yield test_client


def test_inbox_right_receipt_shows_the_stage_and_replies_only_as_ciphertext(
    client: TestClient, desk: Desk, admin: Person
) -> None:
    submitted = desk.submit(report_content("CANARY-inbox-report"))
    reply = "CANARY-reply are you safe tonight?"
    desk.reply(submitted.report_id, reply, by=admin)

    response = query_inbox(client, submitted.receipt)

    assert response.status_code == 200
    assert reply not in response.text
    inbox = response.json()
    assert (inbox["found"], inbox["report_id"], inbox["stage"]) == (
        True,
        str(submitted.report_id),
        "received",
    )
    (message,) = inbox["messages"]
    assert message["sender"] == "desk"
    keys = derive_receipt_keys(submitted.receipt)
    opened = open_reply_as_reporter(
        base64.b64decode(message["ciphertext"]),
        reporter=keys.reporter_key,
        report_id=submitted.report_id,
        message_id=uuid.UUID(message["id"]),
    )
    assert opened == reply


def test_inbox_receipt_typed_in_arabic_indic_digits_opens_the_same_inbox(
    client: TestClient, desk: Desk
) -> None:
    submitted = desk.submit(report_content("CANARY-arabic-digits"))
    typed = submitted.receipt.translate(ARABIC_INDIC).replace(" ", " - ")
    assert typed != submitted.receipt

    inbox = query_inbox(client, typed).json()

    assert (inbox["found"], inbox["report_id"]) == (True, str(submitted.report_id))


def test_inbox_wrong_receipt_gets_the_generic_answer_with_the_same_fields(
    client: TestClient, desk: Desk
) -> None:
    submitted = desk.submit(report_content("CANARY-right"))
    right = query_inbox(client, submitted.receipt).json()

    wrong = query_inbox(client, generate_receipt())

    assert wrong.status_code == 200
    assert set(wrong.json()) == set(right)
    assert wrong.json() == {
        "found": False,
        "notice": conversation.NOTHING_FOUND,
        "report_id": None,
        "stage": None,
        "stage_message": None,
        "can_write": False,
        "messages": [],
    }


def test_message_or_withdrawal_for_a_wrong_receipt_is_a_404_the_public_document_describes(
    client: TestClient, desk: Desk
) -> None:
    # Found by fuzzing (tests/fuzz): this refusal was answered but not described, so a client
    # built from the public document could not expect it.
    wrong = generate_receipt()
    message = post_reporter_message(client, wrong, uuid.uuid4(), "hello")
    withdrawal = client.post("/api/v1/inbox/withdraw", json=query_body(client, wrong))

    assert (message.status_code, withdrawal.status_code) == (404, 404)
    assert message.json() == withdrawal.json() == {"detail": conversation.NOTHING_FOUND}
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for path in ("/api/v1/inbox/messages", "/api/v1/inbox/withdraw"):
        assert "404" in paths[path]["post"]["responses"]


def test_inbox_proof_of_work_spent_on_a_wrong_receipt_cannot_be_used_again(
    client: TestClient, desk: Desk
) -> None:
    proof = solved_pow(client)
    token = base64.b64encode(derive_receipt_keys(generate_receipt()).lookup_token).decode()
    first = client.post("/api/v1/inbox", json={"proof_of_work": proof, "lookup_token": token})
    again = client.post("/api/v1/inbox", json={"proof_of_work": proof, "lookup_token": token})
    assert first.json()["found"] is False
    assert again.status_code in {400, 409}


def test_reporter_message_reaches_the_desk_thread_and_writes_no_timed_entry(
    client: TestClient, desk: Desk, admin: Person
) -> None:
    submitted = desk.submit(report_content("CANARY-thread"))
    response = post_reporter_message(
        client, submitted.receipt, submitted.report_id, "CANARY-reporter still followed"
    )
    assert response.status_code == 201
    assert "CANARY" not in response.text

    (message,) = desk.thread(submitted.report_id, by=admin)

    assert (message.sender, message.text) == (
        MessageSender.REPORTER,
        "CANARY-reporter still followed",
    )
    with desk.session() as session:
        assert session.execute(select(ReportMessage.unread)).scalar_one() is False
        actors = session.execute(select(AuditEvent.actor)).scalars().all()
    # An audit entry is timed to the second: none may say when a reporter wrote.
    assert "reporter" not in actors


@pytest.mark.parametrize(
    "ciphertext",
    [
        pytest.param(base64.b64encode(b"x" * 100).decode(), id="not-a-padded-size"),
        pytest.param("not base64!", id="not-base64"),
    ],
)
def test_reporter_message_malformed_is_refused_and_stores_nothing(
    client: TestClient, desk: Desk, ciphertext: str
) -> None:
    submitted = desk.submit(report_content("CANARY-malformed"))
    token = base64.b64encode(derive_receipt_keys(submitted.receipt).lookup_token).decode()
    response = client.post(
        "/api/v1/inbox/messages",
        json={
            "proof_of_work": solved_pow(client),
            "lookup_token": token,
            "message": {"id": "5d1f3a2c-7b9e-4c6d-8a0f-1e2d3c4b5a69", "ciphertext": ciphertext},
        },
    )
    assert 400 <= response.status_code < 500
    with desk.session() as session:
        assert session.execute(select(func.count()).select_from(ReportMessage)).scalar_one() == 0


def test_stage_follows_the_workflow_in_four_steps(client: TestClient, desk: Desk) -> None:
    submitted = desk.submit(report_content("CANARY-stage"))
    seen = []
    for status in (ReportStatus.TRIAGE, ReportStatus.MONITORING, ReportStatus.OUT_OF_MANDATE):
        with desk.session() as session:
            session.execute(select(Report)).scalar_one().status = status
            session.commit()
        seen.append(query_inbox(client, submitted.receipt).json()["stage"])
    assert seen == ["reviewing", "action", "closed"]


def test_withdrawal_destroys_the_report_and_its_messages_leaving_a_tombstone(
    client: TestClient,
    desk: Desk,
    admin: Person,
    settings: Settings,
    workdir: Path,
    database_server: DatabaseServer,
) -> None:
    submitted = desk.submit(report_content("CANARY-withdraw"))
    desk.reply(submitted.report_id, "CANARY-reply before withdrawal", by=admin)
    post_reporter_message(client, submitted.receipt, submitted.report_id, "CANARY-msg")
    with desk.session() as session:
        stored = [
            session.execute(select(Report.body)).scalar_one(),
            *session.execute(select(ReportMessage.body)).scalars(),
        ]
    token = base64.b64encode(derive_receipt_keys(submitted.receipt).lookup_token).decode()
    entries_before = audit_entries(desk)

    response = client.post(
        "/api/v1/inbox/withdraw", json={"proof_of_work": solved_pow(client), "lookup_token": token}
    )

    assert response.json() == {"withdrawn": True, "destroyed": True}
    # Not audited at the reporter's moment (an entry is timed to the second) ...
    assert audit_entries(desk) == entries_before
    assert query_inbox(client, submitted.receipt).json()["found"] is False
    with desk.session() as session:
        assert session.execute(select(func.count()).select_from(Report)).scalar_one() == 0
        assert session.execute(select(func.count()).select_from(ReportMessage)).scalar_one() == 0
        tombstone = session.execute(select(WithdrawnReport)).scalar_one()
        assert tombstone.public_id == submitted.report_id
    # ... but at the desk's next action, with the day only.
    desk.list_reports(admin)
    (entry,) = [e for e in audit_entries(desk) if e[2] == "report.withdraw"]
    assert (entry[1], json.loads(entry[3])) == (
        "reporter",
        {
            "reports": [
                {
                    "id": str(submitted.report_id),
                    "withdrawn_on": tombstone.withdrawn_on.isoformat(),
                    "destroyed": True,
                }
            ]
        },
    )
    # Not a byte of the report's or the messages' ciphertext is left in the database files.
    if not database_server.is_postgresql:
        at_rest = b"".join(path.read_bytes() for path in workdir.glob("hrd-reports.db*"))
        assert at_rest
        assert [blob[:16].hex() for blob in stored if blob[16:80] in at_rest] == []


def test_withdrawal_with_a_grace_period_hides_the_report_until_it_is_purged(
    desk: Desk, admin: Person, runtime: Runtime
) -> None:
    submitted = desk.submit(report_content("CANARY-grace"))
    token = derive_receipt_keys(submitted.receipt).lookup_token
    with desk.session() as session:
        withdrawal.withdraw(
            session, lookup_token=token, grace=dt.timedelta(days=7), secrets=desk.secrets
        )
        session.commit()
    with desk.session() as session:
        with pytest.raises(NotFound, match="No report matches"):
            conversation.open_inbox(session, lookup_token=token, secrets=desk.secrets, locale="en")
        assert (
            withdrawal.purge_withdrawn(
                session, grace=dt.timedelta(days=7), actor="test", secrets=desk.secrets
            )
            == []
        )
        assert withdrawal.purge_withdrawn(
            session, grace=dt.timedelta(days=0), actor="test", secrets=desk.secrets
        ) == [str(submitted.report_id)]
        session.commit()
    with desk.session() as session:
        assert session.execute(select(func.count()).select_from(Report)).scalar_one() == 0


def test_purge_withdrawn_command_destroys_reports_past_their_grace_period(
    desk: Desk, cli_env: dict[str, str]
) -> None:
    kept, due = (desk.submit(report_content(f"CANARY-purge-{n}")) for n in range(2))
    with desk.session() as session:
        for submitted, days_ago in ((kept, 1), (due, 8)):
            report = session.execute(
                select(Report).where(Report.public_id == submitted.report_id)
            ).scalar_one()
            report.withdrawn_on = utc_today() - dt.timedelta(days=days_ago)
        session.commit()

    run = invoke(
        {**cli_env, "HRD_WITHDRAWAL_GRACE_DAYS": "7"}, "reports", "purge-withdrawn", "--json"
    )

    assert run.exit_code == 0, run.stderr
    assert run.json() == {"destroyed": [str(due.report_id)]}
    with desk.session() as session:
        left = session.execute(select(Report.public_id)).scalars().all()
        destroyed = session.execute(select(WithdrawnReport.public_id)).scalars().all()
    assert (left, destroyed) == ([kept.report_id], [due.report_id])


@pytest.mark.parametrize(
    "plaintext",
    [pytest.param(None, id="random-bytes"), pytest.param(b"\xff" * 1024, id="bad-padding")],
)
def test_reporter_message_that_does_not_open_leaves_the_report_and_the_inbox_readable(
    client: TestClient, desk: Desk, admin: Person, plaintext: bytes | None
) -> None:
    # The server cannot check a message before someone opens it: a client holding the receipt
    # can send bytes that authenticate and say nothing, or say nothing at all.
    submitted = desk.submit(report_content("CANARY-still-readable"))
    keys = derive_receipt_keys(submitted.receipt)
    message_id = uuid.uuid4()
    if plaintext is None:
        blob = os.urandom(12 + 1024 + 16)
    else:
        nonce = os.urandom(12)
        aad = bind(Purpose.REPORTER_MESSAGE, submitted.report_id, message_id)
        blob = nonce + AESGCM(keys.message_key).encrypt(nonce, plaintext, aad)
    response = client.post(
        "/api/v1/inbox/messages",
        json={
            "proof_of_work": solved_pow(client),
            "lookup_token": base64.b64encode(keys.lookup_token).decode(),
            "message": {"id": str(message_id), "ciphertext": base64.b64encode(blob).decode()},
        },
    )
    assert response.status_code == 201
    post_reporter_message(client, submitted.receipt, submitted.report_id, "CANARY-readable one")

    with desk.session() as session:
        reader = credentials.unlock(
            session, name=admin.name, password=admin.password, passwords=desk.runtime.passwords
        )
        detail = casework.show(
            session, reader=reader, report_id=submitted.report_id, secrets=desk.secrets
        )
        session.commit()
    assert [message.text for message in detail.messages] == [None, "CANARY-readable one"]
    # The desk's reading is audited with the message that did not open named.
    assert json.loads(audit_entries(desk)[-1][3])["messages_failed"] == [str(message_id)]
    page = client.post(
        "/inbox", data={"receipt": submitted.receipt, "action": "read", "no_script": "yes"}
    )
    assert page.status_code == 200
    assert "CANARY-readable one" in page.text


def test_reporter_message_id_in_another_spelling_is_refused(client: TestClient, desk: Desk) -> None:
    submitted = desk.submit(report_content("CANARY-spelling"))
    keys = derive_receipt_keys(submitted.receipt)
    message_id = uuid.uuid4()
    blob = encrypt_reporter_message(
        keys.message_key, "hello", report_id=submitted.report_id, message_id=message_id
    )
    response = client.post(
        "/api/v1/inbox/messages",
        json={
            "proof_of_work": solved_pow(client),
            "lookup_token": base64.b64encode(keys.lookup_token).decode(),
            "message": {
                "id": str(message_id).upper(),
                "ciphertext": base64.b64encode(blob).decode(),
            },
        },
    )
    assert response.status_code == 400
    with desk.session() as session:
        assert session.execute(select(func.count()).select_from(ReportMessage)).scalar_one() == 0


def test_server_with_a_grace_period_purges_withdrawn_reports_itself(
    settings: Settings, runtime: Runtime, desk: Desk
) -> None:
    submitted = desk.submit(report_content("CANARY-server-purge"))
    with desk.session() as session:
        session.execute(select(Report)).scalar_one().withdrawn_on = utc_today() - dt.timedelta(
            days=8
        )
        session.commit()

    purging = settings.model_copy(update={"withdrawal_grace_days": 7})
    with TestClient(create_app(purging, runtime=runtime)):
        pass  # start-up runs the first purge

    with desk.session() as session:
        assert session.execute(select(func.count()).select_from(Report)).scalar_one() == 0
        assert session.execute(select(WithdrawnReport.public_id)).scalars().all() == [
            submitted.report_id
        ]
