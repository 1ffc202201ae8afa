"""Evidence files over the reporter API: uploaded chunk by chunk, resumed after a lost answer,
named by a report or a message, refused with the documented status and code (and nothing
changed), and still readable by the desk after its keys are rotated."""

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from hrd_reports.crypto.attachments import (
    CHUNK_SIZE,
    MAX_CHUNK_BYTES,
    EncryptedFile,
    attachment_key,
    decrypt_file,
    decrypt_record,
)
from hrd_reports.crypto.messages import encrypt_reporter_message
from hrd_reports.crypto.submission import encode_b64
from hrd_reports.models import (
    Attachment,
    AttachmentChunk,
    Report,
    ReportMessage,
    SpentChallenge,
)
from hrd_reports.services import attachments, credentials, reading
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.wiring import Runtime
from tests.helpers import Desk, Person, solved_pow, unsolved_work
from tests.uploads import (
    TWO_CHUNKS,
    Reporter,
    chunk_path,
    declaration,
    named,
    new_reporter,
    put_chunk,
    start,
    upload,
)


@pytest.fixture
def client(settings: Settings, runtime: Runtime, desk: Desk) -> Iterator[TestClient]:
    with TestClient(create_app(settings, runtime=runtime)) as test_client:
        yield test_client


@pytest.fixture
def reporter(desk: Desk) -> Reporter:
    return new_reporter(desk.intake_key())


def _counts(desk: Desk) -> dict[str, int]:
    """Rows a refusal must leave as they were."""
    with desk.session() as session:
        return {
            model.__tablename__: session.execute(
                select(func.count()).select_from(model)
            ).scalar_one()
            for model in (Attachment, AttachmentChunk, Report, ReportMessage, SpentChallenge)
        }


def _limits(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, **changes: Any) -> None:
    """The desk's settings for files, changed for one test."""
    monkeypatch.setattr(runtime, "settings", runtime.settings.model_copy(update=changes))


def _send_report(client: TestClient, reporter: Reporter, files: list[EncryptedFile]) -> Any:
    return client.post(
        "/api/v1/reports",
        json={
            "proof_of_work": solved_pow(client),
            "envelope": reporter.submission.to_wire(),
            "attachments": [named(encrypted) for encrypted in files],
        },
    )


def _message_body(
    client: TestClient, reporter: Reporter, message_id: UUID, files: list[EncryptedFile]
) -> dict[str, Any]:
    ciphertext = encrypt_reporter_message(
        reporter.message_key,
        "the photos I promised",
        report_id=reporter.report_id,
        message_id=message_id,
    )
    return {
        "proof_of_work": solved_pow(client),
        "lookup_token": reporter.lookup_token,
        "message": {
            "id": str(message_id),
            "ciphertext": encode_b64(ciphertext),
            "attachments": [named(encrypted) for encrypted in files],
        },
    }


def _code(response: Any) -> str:
    return str(response.json()["detail"]["code"])


def _opened(desk: Desk, admin: Person, report_id: UUID) -> list[tuple[str, bytes]]:
    """Each file of the report as a key holder opens it: its name and its bytes."""
    opened = []
    with desk.session() as session:
        reader = credentials.unlock(
            session, name=admin.name, password=admin.password, passwords=desk.runtime.passwords
        )
        report = reading.get_report(session, report_id)
        dek = reading.reader_keys(session, reader).data_key(session, report)
        for stored in attachments.files_of(session, report):
            file_id = stored.public_id
            key = attachment_key(dek, report_id=report_id, message_id=None, attachment_id=file_id)
            assert stored.record is not None
            record = decrypt_record(
                key, stored.record, report_id=report_id, message_id=None, attachment_id=file_id
            )
            content = b"".join(
                decrypt_file(
                    key,
                    attachments.chunks_of(session, stored),
                    record=record,
                    chunk_total=stored.chunks,
                    report_id=report_id,
                    message_id=None,
                    attachment_id=file_id,
                )
            )
            opened.append((record.name, content))
    return opened


# ---- the whole flow -----------------------------------------------------------------------


def test_report_with_files_uploaded_over_http_opens_for_a_key_holder(
    client: TestClient, desk: Desk, admin: Person, reporter: Reporter
) -> None:
    photo = b"CANARY-photo" + bytes(TWO_CHUNKS - 12)
    files = [
        reporter.file(photo, name="street.jpg"),
        reporter.file(b"CANARY-note", name="note.txt"),
    ]
    for encrypted in files:
        upload(client, encrypted, report_id=reporter.report_id)

    response = _send_report(client, reporter, files)

    assert response.status_code == 201, response.text
    assert _opened(desk, admin, reporter.report_id) == [
        ("street.jpg", photo),
        ("note.txt", b"CANARY-note"),
    ]
    # Attached, the upload is gone from the reporter API: no chunk can be added or replaced.
    answer = client.get(f"/api/v1/uploads/{files[0].attachment_id}")
    assert (answer.status_code, _code(answer)) == (404, "upload_unknown")
    replaced = put_chunk(client, files[1], 0, files[1].chunks[0])
    assert (replaced.status_code, _code(replaced)) == (404, "upload_unknown")


def test_message_with_files_uploaded_over_http_is_stored_with_them_and_sent_again_unchanged(
    client: TestClient, desk: Desk, reporter: Reporter
) -> None:
    assert _send_report(client, reporter, []).status_code == 201
    message_id = uuid.uuid4()
    files = [reporter.file(bytes(n), message_id=message_id) for n in (10, TWO_CHUNKS)]
    for encrypted in files:
        upload(client, encrypted, report_id=reporter.report_id, message_id=message_id)
    body = _message_body(client, reporter, message_id, files)

    response = client.post("/api/v1/inbox/messages", json=body)

    assert response.status_code == 201, response.text
    with desk.session() as session:
        message = session.execute(
            select(ReportMessage).where(ReportMessage.public_id == message_id)
        ).scalar_one()
        stored = session.execute(select(Attachment).order_by(Attachment.position)).scalars().all()
        assert [(row.public_id, row.message_id) for row in stored] == [
            (encrypted.attachment_id, message.id) for encrypted in files
        ]
        assert list(attachments.chunks_of(session, stored[1])) == files[1].chunks
    before = _counts(desk)

    # Its answer was lost; the browser sends the very same message again, with a new proof.
    again = client.post("/api/v1/inbox/messages", json=body | {"proof_of_work": solved_pow(client)})

    assert (again.status_code, again.json()) == (201, response.json())
    assert _counts(desk) == before | {"spent_challenges": before["spent_challenges"] + 1}


def test_upload_resumed_get_names_the_chunks_still_missing(
    client: TestClient, reporter: Reporter
) -> None:
    encrypted = reporter.file(bytes(TWO_CHUNKS))
    started = start(client, encrypted, report_id=reporter.report_id)
    assert (started.status_code, started.json()) == (
        201,
        {
            "attachment_id": str(encrypted.attachment_id),
            "chunk_size": CHUNK_SIZE,
            "chunks": 2,
            "missing": [0, 1],
        },
    )

    stored = put_chunk(client, encrypted, 1, encrypted.chunks[1])
    assert (stored.status_code, stored.json()) == (200, {"index": 1, "missing": 1})
    assert client.get(f"/api/v1/uploads/{encrypted.attachment_id}").json()["missing"] == [0]

    # The same chunk again (its answer lost) is accepted; the upload ends where it left off.
    assert put_chunk(client, encrypted, 1, encrypted.chunks[1]).json() == {"index": 1, "missing": 1}
    assert put_chunk(client, encrypted, 0, encrypted.chunks[0]).json() == {"index": 0, "missing": 0}
    assert client.get(f"/api/v1/uploads/{encrypted.attachment_id}").json()["missing"] == []


def test_upload_created_again_identically_is_a_200_that_spends_no_new_proof_of_work(
    client: TestClient, desk: Desk, reporter: Reporter
) -> None:
    encrypted = reporter.file(bytes(TWO_CHUNKS))
    body = {
        "proof_of_work": solved_pow(client),
        **declaration(encrypted, report_id=reporter.report_id),
    }
    assert client.post("/api/v1/uploads", json=body).status_code == 201
    put_chunk(client, encrypted, 0, encrypted.chunks[0])
    before = _counts(desk)

    # The answer was lost: the browser asks again, with the proof it already spent.
    again = client.post("/api/v1/uploads", json=body)

    assert (again.status_code, again.json()["missing"]) == (200, [1])
    assert _counts(desk) == before
    # That proof buys nothing else.
    other = reporter.file(bytes(10))
    spent = client.post(
        "/api/v1/uploads",
        json=body | declaration(other, report_id=reporter.report_id),
    )
    assert spent.status_code == 400
    assert _counts(desk) == before


def test_upload_other_declaration_under_the_same_id_is_409_upload_exists(
    client: TestClient, desk: Desk, reporter: Reporter
) -> None:
    encrypted = reporter.file(bytes(TWO_CHUNKS))
    upload(client, encrypted, report_id=reporter.report_id)
    before = _counts(desk)
    declared = declaration(encrypted, report_id=reporter.report_id)
    smaller = declaration(reporter.file(bytes(10)), report_id=reporter.report_id)

    for other in (
        declared | {"report_id": str(uuid.uuid4())},
        declared | {"message_id": str(uuid.uuid4())},
        smaller | {"attachment_id": declared["attachment_id"]},
    ):
        response = client.post(
            "/api/v1/uploads", json={"proof_of_work": solved_pow(client), **other}
        )
        assert (response.status_code, _code(response)) == (409, "upload_exists")
    assert _counts(desk) == before


def test_upload_answers_are_the_ones_the_public_document_describes(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    started = paths["/api/v1/uploads"]["post"]["responses"]
    chunk = paths["/api/v1/uploads/{attachment_id}/chunks/{index}"]["put"]["responses"]
    asked = paths["/api/v1/uploads/{attachment_id}"]["get"]["responses"]
    assert {"200", "201", "400", "409", "413"} <= set(started)
    assert {"200", "400", "404", "409", "413"} <= set(chunk)
    assert {"200", "404"} <= set(asked)


# ---- refusals -----------------------------------------------------------------------------


def test_upload_declarations_refused_with_their_status_and_code_change_nothing(
    client: TestClient,
    desk: Desk,
    runtime: Runtime,
    reporter: Reporter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    two = reporter.file(bytes(TWO_CHUNKS))
    small = reporter.file(bytes(10))
    upload(client, small, report_id=reporter.report_id)
    before = _counts(desk)

    def refused(encrypted: EncryptedFile, **changes: Any) -> tuple[int, str]:
        body = declaration(encrypted, report_id=reporter.report_id) | changes
        response = client.post(
            "/api/v1/uploads", json={"proof_of_work": solved_pow(client), **body}
        )
        assert _counts(desk) == before, response.text
        return response.status_code, _code(response)

    assert refused(two, size=two.stored_size + 1) == (400, "bad_layout")
    assert refused(two, chunks=1) == (400, "bad_layout")
    _limits(runtime, monkeypatch, attachment_max_mb=1)
    assert refused(two) == (413, "file_too_large")
    _limits(runtime, monkeypatch, attachment_storage_gb=(small.stored_size + 1) / 2**30)
    assert refused(reporter.file(bytes(10))) == (413, "storage_full")
    _limits(runtime, monkeypatch, attachments_per_report=1)
    assert refused(reporter.file(bytes(10))) == (409, "too_many_files")
    _limits(runtime, monkeypatch, attachments_per_report=0)
    assert refused(reporter.file(bytes(10))) == (409, "too_many_files")


@pytest.mark.parametrize(
    "proof",
    [
        unsolved_work,
        lambda _client: {"challenge": "1.2.3.forged.mac", "counter": 1},
    ],
    ids=["unsolved", "forged"],
)
def test_upload_without_a_solved_proof_of_work_is_refused_and_changes_nothing(
    client: TestClient,
    desk: Desk,
    reporter: Reporter,
    proof: Callable[[TestClient], dict[str, Any]],
) -> None:
    before = _counts(desk)
    body = declaration(reporter.file(bytes(10)), report_id=reporter.report_id)

    response = client.post("/api/v1/uploads", json={"proof_of_work": proof(client), **body})

    assert response.status_code == 400
    assert _counts(desk) == before


def test_chunks_refused_with_their_status_and_code_change_nothing(
    client: TestClient, desk: Desk, reporter: Reporter
) -> None:
    encrypted = reporter.file(bytes(TWO_CHUNKS))
    start(client, encrypted, report_id=reporter.report_id)
    put_chunk(client, encrypted, 0, encrypted.chunks[0])
    other = reporter.file(bytes(TWO_CHUNKS))
    before = _counts(desk)

    for target, index, data, status, code in [
        (uuid.uuid4(), 0, encrypted.chunks[0], 404, "upload_unknown"),
        (encrypted.attachment_id, 2, encrypted.chunks[1], 400, "chunk_out_of_range"),
        (encrypted.attachment_id, 1, encrypted.chunks[0], 400, "chunk_wrong_length"),
        (encrypted.attachment_id, 1, b"", 400, "chunk_wrong_length"),
        (encrypted.attachment_id, 0, other.chunks[0], 409, "chunk_conflict"),
    ]:
        response = put_chunk(client, target, index, data)
        assert (response.status_code, _code(response)) == (status, code)
        assert _counts(desk) == before
    unknown = client.get(f"/api/v1/uploads/{uuid.uuid4()}")
    assert (unknown.status_code, _code(unknown)) == (404, "upload_unknown")


def test_chunk_over_its_bound_is_413_and_other_routes_keep_their_1_mib_bound(
    client: TestClient, desk: Desk, reporter: Reporter
) -> None:
    encrypted = reporter.file(bytes(TWO_CHUNKS))
    start(client, encrypted, report_id=reporter.report_id)
    before = _counts(desk)

    assert put_chunk(client, encrypted, 0, bytes(MAX_CHUNK_BYTES + 1)).status_code == 413
    # A chunk's worth passes the bound (and is then refused for its length, not its size).
    assert put_chunk(client, encrypted, 1, bytes(MAX_CHUNK_BYTES)).status_code == 400
    over_a_mib = b"{" + b" " * (1024 * 1024 + 64) + b"}"
    for method, path in [
        ("POST", "/api/v1/reports"),
        ("POST", "/api/v1/uploads"),
        ("POST", "/api/v1/inbox/messages"),
        ("PUT", chunk_path(encrypted, "x")),
        ("PUT", f"{chunk_path(encrypted, 0)}/more"),
        ("PUT", f"/api/v1/uploads/{encrypted.attachment_id}"),
    ]:
        response = client.request(
            method, path, content=over_a_mib, headers={"content-type": "application/json"}
        )
        assert response.status_code == 413, (method, path)
    assert _counts(desk) == before


def test_report_naming_files_it_cannot_have_is_refused_and_changes_nothing(
    client: TestClient,
    desk: Desk,
    runtime: Runtime,
    reporter: Reporter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    complete = reporter.file(bytes(10))
    partial = reporter.file(bytes(TWO_CHUNKS))
    another = reporter.file(bytes(20))
    upload(client, complete, report_id=reporter.report_id)
    upload(client, another, report_id=reporter.report_id)
    start(client, partial, report_id=reporter.report_id)
    put_chunk(client, partial, 0, partial.chunks[0])
    elsewhere = new_reporter(desk.intake_key())
    theirs = elsewhere.file(bytes(10))
    upload(client, theirs, report_id=elsewhere.report_id)
    before = _counts(desk)

    def refused(files: list[dict[str, str]]) -> tuple[int, str]:
        response = client.post(
            "/api/v1/reports",
            json={
                "proof_of_work": solved_pow(client),
                "envelope": reporter.submission.to_wire(),
                "attachments": files,
            },
        )
        assert _counts(desk) == before, response.text
        return response.status_code, _code(response)

    assert refused([named(partial)]) == (409, "upload_incomplete")
    assert refused([named(theirs)]) == (400, "upload_foreign")
    assert refused([named(reporter.file(bytes(10)))]) == (400, "upload_foreign")
    assert refused([named(complete), named(complete)]) == (400, "upload_foreign")
    short = named(complete) | {"record": encode_b64(bytes(100))}
    assert refused([short]) == (400, "bad_record")
    _limits(runtime, monkeypatch, attachments_per_report=1)
    assert refused([named(complete), named(another)]) == (409, "too_many_files")


def test_message_naming_files_it_cannot_have_is_refused_and_keeps_only_its_spent_proof(
    client: TestClient, desk: Desk, reporter: Reporter
) -> None:
    assert _send_report(client, reporter, []).status_code == 201
    message_id = uuid.uuid4()
    partial = reporter.file(bytes(TWO_CHUNKS), message_id=message_id)
    start(client, partial, report_id=reporter.report_id, message_id=message_id)
    of_report = reporter.file(bytes(10))
    upload(client, of_report, report_id=reporter.report_id)
    of_other_message = reporter.file(bytes(10), message_id=uuid.uuid4())

    for files, status, code in [
        ([partial], 409, "upload_incomplete"),
        ([of_report], 400, "upload_foreign"),
        ([of_other_message], 400, "upload_foreign"),
    ]:
        before = _counts(desk)
        response = client.post(
            "/api/v1/inbox/messages", json=_message_body(client, reporter, message_id, files)
        )
        assert (response.status_code, _code(response)) == (status, code)
        # An inbox request spends its proof before the receipt is looked at (a refused guess
        # still costs it); nothing else changes.
        assert _counts(desk) == before | {"spent_challenges": before["spent_challenges"] + 1}


# ---- what no request may get ----------------------------------------------------------------


def test_upload_responses_set_no_cookie(client: TestClient, reporter: Reporter) -> None:
    encrypted = reporter.file(bytes(10))
    responses = [
        start(client, encrypted, report_id=reporter.report_id),
        client.get(f"/api/v1/uploads/{encrypted.attachment_id}"),
        put_chunk(client, encrypted, 0, encrypted.chunks[0]),
        put_chunk(client, encrypted, 0, bytes(len(encrypted.chunks[0]))),
        client.get(f"/api/v1/uploads/{uuid.uuid4()}"),
        put_chunk(client, encrypted, 0, bytes(MAX_CHUNK_BYTES + 1)),
        _send_report(client, reporter, [encrypted]),
    ]
    assert [response.status_code for response in responses] == [201, 200, 200, 409, 404, 413, 201]
    assert not any("set-cookie" in response.headers for response in responses)


MALFORMED_PATHS = [
    "not-a-uuid",
    "00000000-0000-0000-0000-000000000000",
    "6ba7b810-9dad-11d1-80b4-00c04fd430c8",  # version 1
    "3F2504E0-4F89-41D3-9A0C-0305E82C3301",  # upper case
    "%00",
    "a" * 5000,
]


@pytest.mark.parametrize("attachment_id", MALFORMED_PATHS)
def test_upload_ids_that_are_not_random_uuids_are_4xx(
    client: TestClient, desk: Desk, attachment_id: str
) -> None:
    before = _counts(desk)
    answers = [
        client.get(f"/api/v1/uploads/{attachment_id}"),
        client.put(f"/api/v1/uploads/{attachment_id}/chunks/0", content=b"x"),
    ]
    assert all(400 <= answer.status_code < 500 for answer in answers), answers
    assert _counts(desk) == before


@pytest.mark.parametrize(
    # The upload has one chunk, and these bytes are that chunk: only "0" may store them.
    "index",
    ["0.0", "+0", " 0", "0 ", "-0", "\u0660", "0x0", "0e0", "-1", "", "9" * 30, str(2**63)],
)
def test_chunk_indices_that_are_not_small_numbers_are_4xx(
    client: TestClient, desk: Desk, reporter: Reporter, index: str
) -> None:
    encrypted = reporter.file(bytes(10))
    start(client, encrypted, report_id=reporter.report_id)
    before = _counts(desk)

    response = put_chunk(client, encrypted.attachment_id, index, encrypted.chunks[0])

    assert 400 <= response.status_code < 500, response.text
    assert _counts(desk) == before


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"[]",
        b"null",
        b'{"chunks": 1}',
    ],
)
def test_upload_declaration_malformed_is_a_422(client: TestClient, desk: Desk, body: bytes) -> None:
    before = _counts(desk)
    response = client.post(
        "/api/v1/uploads", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert _counts(desk) == before


# ---- the desk's side ----------------------------------------------------------------------


def test_report_file_still_opens_after_the_keys_are_rotated(
    client: TestClient, desk: Desk, admin: Person, reporter: Reporter
) -> None:
    photo = b"CANARY-rotated-photo" * 5000
    encrypted = reporter.file(photo, name="before rotation.jpg")
    upload(client, encrypted, report_id=reporter.report_id)
    assert _send_report(client, reporter, [encrypted]).status_code == 201

    desk.rotate(by=admin, retire_old=True)

    assert _opened(desk, admin, reporter.report_id) == [("before rotation.jpg", photo)]


def test_server_at_start_deletes_uploads_that_expired(
    settings: Settings, runtime: Runtime, desk: Desk, client: TestClient, reporter: Reporter
) -> None:
    expired = reporter.file(bytes(TWO_CHUNKS))
    running = reporter.file(bytes(10))
    start(client, expired, report_id=reporter.report_id)
    put_chunk(client, expired, 0, expired.chunks[0])
    upload(client, running, report_id=reporter.report_id)
    with desk.session() as session:
        session.execute(
            update(Attachment)
            .where(Attachment.public_id == expired.attachment_id)
            .values(expires_at=dt.datetime(2000, 1, 1))  # noqa: DTZ001 - stored without a zone
        )
        session.commit()

    with TestClient(create_app(settings, runtime=runtime)):
        pass  # start-up runs the first purge

    with desk.session() as session:
        assert session.execute(select(Attachment.public_id)).scalars().all() == [
            running.attachment_id
        ]
    assert _counts(desk)["attachment_chunks"] == 1
