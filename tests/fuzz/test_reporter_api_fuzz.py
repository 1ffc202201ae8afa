"""The reporter API under fuzzing: requests generated from its own public OpenAPI document.

Schemathesis reads ``/api/v1/openapi.json`` from the app of this test's desk and generates
requests for every operation the document describes, schema-valid and schema-invalid, sent to
the app in-process. For every case:

- no 5xx, and no exception escapes the app;
- the answer is one the document describes (status code, content type, headers, body schema),
  and a request the document calls invalid is refused with a 4xx;
- a refusal changes nothing (invariant 6, no partial write): every row of every table is as
  it was, but for the one proof of work an inbox request spends before it is refused (see
  ``_assert_nothing_changed``); and a GET changes nothing whatever it answers.

Random requests almost never carry a solved proof of work or the lookup token of a stored
report, so they would only ever meet the first check. Each case is therefore sent by a plan
(``PLANS``): as generated; with a freshly solved proof; most often as a valid request (solved
proof, a real envelope with a complete upload as its file, the lookup token of a stored report,
a well-formed message with its file, an upload's declaration, the id of a running upload and a
chunk of the right length) with one field changed, to its generated value or to an odd value
of its kind; as a valid request; or as a replay of the last one accepted. The checks behind the
proof of work, the receipt and an upload's id are fuzzed too.

Budget: ``HRD_FUZZ_CASES`` cases in all, across the operations (default: a small budget for
every CI run). The full run:

    HRD_FUZZ_CASES=5000 python -m pytest tests/fuzz

The test counts the requests it sent, prints the count and fails below the budget, so a
generator that broke cannot pass by generating nothing.
"""

import copy
import hashlib
import math
import os
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, note
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.python import asgi

from hrd_reports.crypto.attachments import MAX_CHUNK_BYTES, EncryptedFile, encrypt_file
from hrd_reports.crypto.envelope import new_dek
from hrd_reports.crypto.messages import encrypt_reporter_message
from hrd_reports.crypto.pow import window_of
from hrd_reports.crypto.receipts import ReceiptKeys, derive_receipt_keys, generate_receipt
from hrd_reports.crypto.submission import build_submission, encode_b64
from hrd_reports.crypto.xwing import PublicKey
from hrd_reports.services import attachments
from hrd_reports.services.attachments import UploadDeclared
from hrd_reports.services.clock import utc_now
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.wiring import Runtime
from tests.cli import table_snapshot
from tests.helpers import Desk, Submitted, report_content, solved_pow
from tests.uploads import declaration, named

FUZZ_CASES = int(os.environ.get("HRD_FUZZ_CASES", "600"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# Reports whose receipts the inbox cases use; one is replaced when a case withdraws it.
RECEIPT_POOL_SIZE = 3

Snapshot = dict[str, list[tuple[Any, ...]]]
Body = dict[str, Any]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Every valid message names a file, mostly of a few reports: as many as a desk may allow.
    return settings.model_copy(update={"attachments_per_report": 200})


@pytest.fixture
def app(settings: Settings, runtime: Runtime, desk: Desk) -> Iterator[FastAPI]:
    application = create_app(settings, runtime=runtime)
    yield application
    # Schemathesis runs the lifespan of every app it calls until the process exits; this
    # one's ends with its test, before the database it uses is dropped.
    asgi.shutdown_lifespans()


AS_GENERATED, SOLVED_PROOF, VALID, VALID_BUT, AGAIN = (
    "as generated",
    "solved proof",
    "valid",
    "valid but one field",
    "again",
)
# How the cases are shared out. Most are valid but for one field: one at a time, as with
# two the one refused first hides what the other would meet.
PLANS = {VALID_BUT: 50, AS_GENERATED: 15, SOLVED_PROOF: 15, AGAIN: 10, VALID: 10}
# Values a lax parser might take for another type ("1" or true for the integer 1), and the
# edges of each JSON type, to put in the one field.
ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2**64,
    1.0,
    0.5,
    "",
    " ",
    "1",
    "true",
    "\u00b2",
    "=",
    "A" * 4096,
    [],
    ["1"],
    {},
]


# The same for a path's parameters (an upload's id, a chunk's index), as a URL spells them;
# neither empty nor a dot segment, which name another path (``/uploads/``, the one to start an
# upload, or ``/uploads/ID/chunks/..``, which a client sends as ``/uploads/ID/``).
ODD_PATH_VALUES: list[Any] = [
    " ",
    "0",
    "-1",
    "+0",
    " 0",
    "0.0",
    "1e0",
    "\u0660",
    "%00",
    2**31,
    2**64,
    str(uuid.UUID(int=0)),
    "3F2504E0-4F89-41D3-9A0C-0305E82C3301",
    "A" * 4096,
]
# Chunk bodies of the wrong length, none at all, and one over the bound of a chunk's request.
ODD_CHUNKS: list[Any] = [
    b"",
    b"\0",
    bytes(4095),
    bytes(MAX_CHUNK_BYTES),
    bytes(MAX_CHUNK_BYTES + 1),
]


class _Generated:
    def __repr__(self) -> str:
        return "GENERATED"


# In a plan, the field keeps the value Schemathesis generated for it.
GENERATED = _Generated()


@dataclass(frozen=True)
class Plan:
    """How one case is sent (one of ``PLANS``), with whose receipt, and what it changes."""

    mode: str
    receipt_index: int = 0
    # For VALID_BUT: the one field changed, and its value.
    field: str = ""
    value: Any = None

    @classmethod
    def for_case(cls, case: Case, leaves: list[str]) -> "Plan":
        """The plan of a case, seeded by the case itself.

        Hypothesis repeats a draw's small choices from one example to the next, so a plan it
        drew would take the same few paths nearly every time; seeded by the generated
        request, plans vary as much as cases do, and a case replays with its plan.
        """
        # Not the headers: they carry a random id for each case.
        seed = hashlib.sha256(repr((case.body, case.query, case.path_parameters)).encode())
        pick = random.Random(seed.digest())  # noqa: S311 - shares out test cases, not a secret
        if not leaves:
            return cls(AS_GENERATED)
        [mode] = pick.choices(list(PLANS), weights=list(PLANS.values()))
        field = pick.choice(leaves)
        odd = ODD_CHUNKS if field == CHUNK else ODD_PATH_VALUES if field in PATH else ODD_VALUES
        value = GENERATED if pick.random() < 0.5 else pick.choice(odd)
        return cls(mode, pick.randrange(RECEIPT_POOL_SIZE), field, value)


# The leaves of a request sent to a path with parameters: the parameters, and a chunk's bytes.
PATH = ("path.attachment_id", "path.index")
CHUNK = "chunk"


def _leaves(body: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of the scalar fields of a request body."""
    paths: list[str] = []
    for name, value in body.items():
        if isinstance(value, Mapping):
            paths.extend(_leaves(value, f"{prefix}{name}."))
        elif isinstance(value, list) and value and isinstance(value[0], Mapping):
            # The list itself (none, or a generated list), and each field of its first item.
            paths.append(prefix + name)
            paths.extend(_leaves(value[0], f"{prefix}{name}.0."))
        else:
            paths.append(prefix + name)
    return paths


_ABSENT = object()


def _at(body: Any, path: str) -> Any:
    for name in path.split("."):
        if isinstance(body, list) and name.isdigit() and int(name) < len(body):
            body = body[int(name)]
        elif isinstance(body, Mapping) and name in body:
            body = body[name]
        else:
            return _ABSENT
    return body


def _put(body: Any, path: str, value: Any) -> None:
    *parents, name = path.split(".")
    for parent in parents:
        body = body[int(parent)] if isinstance(body, list) else body[parent]
    key = int(name) if isinstance(body, list) else name
    if value is _ABSENT:
        del body[key]
    else:
        body[key] = value


@dataclass(frozen=True)
class Receipt:
    """A stored report, known to the test as its reporter knows it."""

    submitted: Submitted
    keys: ReceiptKeys

    @property
    def lookup_token(self) -> str:
        return encode_b64(self.keys.lookup_token)


class Fuzzer:
    """Sends each case, checks its answer and what it changed, and counts what it sent."""

    def __init__(self, client: asgi.ASGIClient, desk: Desk, database_url: str) -> None:
        self.client = client
        self.desk = desk
        self.database_url = database_url
        self.intake_key: PublicKey = desk.intake_key()
        self.receipts = [self._stored_report() for _ in range(RECEIPT_POOL_SIZE)]
        self.uploads = [self._running_upload() for _ in range(RECEIPT_POOL_SIZE)]
        self.accepted: dict[str, Body] = {}
        self.accepted_paths: dict[str, tuple[dict[str, Any], bytes]] = {}
        self.sent: Counter[str] = Counter()
        self.answers: dict[str, Counter[int]] = defaultdict(Counter)
        self.plans: Counter[str] = Counter()
        # Rows change only when the app accepts something or the test stores a report: the
        # snapshot taken after a refusal is the one before the next case.
        self._snapshot: Snapshot | None = None

    def _stored_report(self) -> Receipt:
        submitted = self.desk.submit(report_content("fuzzing the inbox"))
        self._snapshot = None
        return Receipt(submitted, derive_receipt_keys(submitted.receipt))

    def _uploaded(
        self, key: bytes, report_id: uuid.UUID, message_id: uuid.UUID | None, *, chunks: bool
    ) -> EncryptedFile:
        """A small file encrypted as the browser does, its upload started (and its chunk
        stored, with ``chunks``) through the services, without a proof of work to solve."""
        encrypted = encrypt_file(
            key,
            b"fuzzing evidence",
            name="evidence.txt",
            media_type="text/plain",
            report_id=report_id,
            message_id=message_id,
        )
        declared = UploadDeclared(
            encrypted.attachment_id,
            report_id,
            message_id,
            len(encrypted.chunks),
            encrypted.stored_size,
        )
        # Refused cases leave their uploads behind, to expire: uncounted here, so that the
        # report of a receipt used by many cases still gets one.
        limits = replace(self.desk.runtime.attachment_limits, per_report=2**31)
        with self.desk.session() as session:
            attachments.start_upload(session, declared, limits=limits)
            for index, data in enumerate(encrypted.chunks if chunks else []):
                attachments.store_chunk(
                    session, attachment_id=encrypted.attachment_id, index=index, data=data
                )
            session.commit()
        self._snapshot = None
        return encrypted

    def _running_upload(self) -> EncryptedFile:
        """An upload whose chunk has not arrived yet, for a report not sent yet."""
        return self._uploaded(new_dek(), uuid.uuid4(), None, chunks=False)

    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            self._snapshot = table_snapshot(self.database_url)
        return self._snapshot

    def valid_body(self, path: str, receipt_index: int) -> Body:
        """A request the operation accepts, built as the reporter's browser builds it."""
        body: Body = {"proof_of_work": solved_pow(self.client)}
        if path == "/api/v1/reports":
            dek = new_dek()
            submission = build_submission(
                report_content("fuzzing intake"),
                intake_key=self.intake_key,
                receipt=generate_receipt(),
                dek=dek,
            )
            evidence = self._uploaded(dek, submission.report_id, None, chunks=True)
            return body | {"envelope": submission.to_wire(), "attachments": [named(evidence)]}
        if path == "/api/v1/uploads":
            report_id = uuid.uuid4()
            encrypted = encrypt_file(
                new_dek(), b"fuzzing", name="a", media_type="", report_id=report_id
            )
            return body | declaration(encrypted, report_id=report_id)
        receipt = self.receipts[receipt_index]
        body["lookup_token"] = receipt.lookup_token
        if path == "/api/v1/inbox/messages":
            message_id = uuid.uuid4()
            ciphertext = encrypt_reporter_message(
                receipt.keys.message_key,
                "fuzzing the conversation",
                report_id=receipt.submitted.report_id,
                message_id=message_id,
            )
            evidence = self._uploaded(
                receipt.keys.message_key, receipt.submitted.report_id, message_id, chunks=True
            )
            body["message"] = {
                "id": str(message_id),
                "ciphertext": encode_b64(ciphertext),
                "attachments": [named(evidence)],
            }
        return body

    def valid_parameters(self, path: str, upload_index: int) -> tuple[dict[str, Any], bytes]:
        """The path parameters of a running upload, and the chunk it is waiting for."""
        encrypted = self.uploads[upload_index]
        parameters: dict[str, Any] = {"attachment_id": str(encrypted.attachment_id)}
        if path.endswith("/chunks/{index}"):
            parameters["index"] = 0
        return parameters, encrypted.chunks[0]

    def shape_path(self, case: Case, plan: Plan) -> str:
        """``shape`` for a request to an upload: its id, a chunk's index and bytes."""
        if plan.mode in (AS_GENERATED, SOLVED_PROOF):
            return AS_GENERATED
        chunk: Any
        if plan.mode == AGAIN and case.path in self.accepted_paths:
            parameters, chunk = copy.deepcopy(self.accepted_paths[case.path])
        else:
            parameters, chunk = self.valid_parameters(case.path, plan.receipt_index)
        mode = VALID if plan.mode != VALID_BUT else VALID_BUT
        if plan.mode == VALID_BUT and plan.field == CHUNK:
            chunk = case.body if plan.value is GENERATED else plan.value
        elif plan.mode == VALID_BUT:
            name = plan.field.removeprefix("path.")
            generated = case.path_parameters.get(name, _ABSENT)
            value = generated if plan.value is GENERATED else plan.value
            if value is _ABSENT:
                del parameters[name]
            else:
                parameters[name] = value
        case.path_parameters = parameters
        if case.method.upper() == "PUT":
            case.body = chunk
        return mode

    def shape(self, case: Case, plan: Plan) -> str:
        """Give the case the proof of work, token and fields its plan says; the plan it
        could follow.

        The body is assigned anew, so Schemathesis checks it again against the document: a
        case that became valid is no longer expected to be refused, and one that became
        invalid is.
        """
        if case.operation.path_parameters:
            return self.shape_path(case, plan)
        generated = case.body
        if plan.mode == AS_GENERATED or not isinstance(generated, Mapping):
            return AS_GENERATED
        if plan.mode == SOLVED_PROOF:
            case.body = {**generated, "proof_of_work": solved_pow(self.client)}
            return SOLVED_PROOF
        if plan.mode == AGAIN and case.path in self.accepted:
            again = copy.deepcopy(self.accepted[case.path])
            case.body = again | {"proof_of_work": solved_pow(self.client)}
            return AGAIN
        body = self.valid_body(case.path, plan.receipt_index)
        if plan.mode != VALID_BUT:
            case.body = body
            return VALID
        value = _at(generated, plan.field) if plan.value is GENERATED else plan.value
        _put(body, plan.field, value)
        case.body = body
        return VALID_BUT

    def run(self, case: Case, plan: Plan) -> None:
        mode = self.shape(case, plan)
        before = self.snapshot()
        response = case.call(session=self.client)
        label = case.operation.label
        self.sent[label] += 1
        self.answers[label][response.status_code] += 1
        self.plans[mode] += 1
        case.validate_response(response, checks=CHECKS)
        if case.method.upper() == "GET" or 400 <= response.status_code < 500:
            self._snapshot = table_snapshot(self.database_url)
            _assert_nothing_changed(case, before, self._snapshot)
            return
        self._snapshot = None
        if 200 <= response.status_code < 300 and isinstance(case.body, Mapping):
            self.accepted[case.path] = copy.deepcopy(dict(case.body))
        if 200 <= response.status_code < 300 and case.operation.path_parameters:
            body = case.body if isinstance(case.body, bytes) else b""
            self.accepted_paths[case.path] = (dict(case.path_parameters), body)
        if case.method.upper() == "PUT" and response.status_code == 200:
            # That upload is complete: later cases get one still waiting for its chunk.
            done = case.path_parameters["attachment_id"]
            self.uploads = [
                self._running_upload() if str(upload.attachment_id) == done else upload
                for upload in self.uploads
            ]
        if case.path == "/api/v1/inbox/withdraw" and response.status_code == 200:
            # That report is gone: later inbox cases get a receipt that leads somewhere.
            token = case.body["lookup_token"]
            self.receipts = [
                self._stored_report() if receipt.lookup_token == token else receipt
                for receipt in self.receipts
            ]


def _assert_nothing_changed(case: Case, before: Snapshot, after: Snapshot) -> None:
    """A refusal, or any GET, leaves every row of every table as it was."""
    if case.path.startswith("/api/v1/inbox"):
        # An inbox request spends its proof of work in a transaction of its own, before the
        # receipt is looked at, so that a refused guess still costs its proof; otherwise one
        # solution would try receipts without end. It may add that one spent challenge, and
        # forget those that had expired anyway; the rest of the database stays as it was.
        spent_before, spent_after = set(before["spent_challenges"]), set(after["spent_challenges"])
        spent = spent_after - spent_before
        assert len(spent) <= 1, f"a refusal spent {len(spent)} proofs: {_named(case)}"
        oldest_usable = window_of(utc_now().timestamp()) - 1
        assert all(window < oldest_usable for _, window in spent_before - spent_after)
        before = {table: rows for table, rows in before.items() if table != "spent_challenges"}
        after = {table: rows for table, rows in after.items() if table != "spent_challenges"}
    assert after == before, f"the database changed: {_named(case)}"


def _named(case: Case) -> str:
    # The operation and the fields sent, never their values: a lookup token opens an inbox.
    fields = sorted(case.body) if isinstance(case.body, dict) else type(case.body).__name__
    return f"{case.method} {case.path} with {fields}"


def _has_input(operation: APIOperation) -> bool:
    return bool(operation.body) or bool(operation.path_parameters)


def _strategy(operation: APIOperation) -> st.SearchStrategy[Case]:
    positive = operation.as_strategy(GenerationMode.POSITIVE)
    if not _has_input(operation):
        # Nothing to get wrong: no body, no parameter; the one request there is.
        return positive
    return st.one_of(positive, operation.as_strategy(GenerationMode.NEGATIVE))


def _leaves_of(fuzzer: Fuzzer, operation: APIOperation) -> list[str]:
    """What a plan may change in a valid request to ``operation``."""
    if operation.path_parameters:
        names = [f"path.{parameter.name}" for parameter in operation.path_parameters]
        return names + ([CHUNK] if operation.body else [])
    return _leaves(fuzzer.valid_body(operation.path, 0)) if operation.body else []


def _fuzz(fuzzer: Fuzzer, operation: APIOperation, cases: int, leaves: list[str]) -> None:
    @hypothesis_settings(
        max_examples=cases,
        # Each case solves a proof of work and reads every table: slow by design.
        suppress_health_check=[HealthCheck.too_slow],
        # Each run starts from a fresh desk; a failure is printed with its reproduction.
        database=None,
    )
    @given(case=_strategy(operation))
    def one_case(case: Case) -> None:
        plan = Plan.for_case(case, leaves)
        note(f"sent by {plan}")
        fuzzer.run(case, plan)

    one_case()


def test_reporter_api_any_generated_request_is_answered_as_documented_and_refusals_change_nothing(
    app: FastAPI, desk: Desk, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    with asgi.get_client(app) as client:
        fuzzer = Fuzzer(client, desk, database_url)
        with_input = [operation for operation in operations if _has_input(operation)]
        share = math.ceil((FUZZ_CASES - (len(operations) - len(with_input))) / len(with_input))
        for operation in operations:
            leaves = _leaves_of(fuzzer, operation)
            _fuzz(fuzzer, operation, share if _has_input(operation) else 1, leaves)

    sent = sum(fuzzer.sent.values())
    with capsys.disabled():
        print(f"\nfuzzed the reporter API with {sent} cases (budget {FUZZ_CASES}):")
        for label, count in fuzzer.sent.items():
            print(
                f"  {label}: {count} cases, answers {dict(sorted(fuzzer.answers[label].items()))}"
            )
        print(f"  sent {dict(fuzzer.plans)}")
    assert {operation.label for operation in operations} == set(fuzzer.sent)
    assert all(fuzzer.sent[operation.label] >= share for operation in with_input), fuzzer.sent
    assert sent >= FUZZ_CASES
