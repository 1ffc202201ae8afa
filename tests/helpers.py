"""A desk driven through the same services the CLI and the web call, for tests."""

import asyncio
import base64
import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from hrd_reports.crypto.aead import aes_gcm_encrypt
from hrd_reports.crypto.contexts import Purpose, bind
from hrd_reports.crypto.envelope import pad
from hrd_reports.crypto.messages import MAX_MESSAGE_BUCKET, encrypt_reporter_message
from hrd_reports.crypto.pow import leading_zero_bits, solve
from hrd_reports.crypto.receipts import derive_receipt_keys
from hrd_reports.crypto.submission import Submission, encode_b64, new_submission
from hrd_reports.crypto.xwing import PrivateKey, PublicKey
from hrd_reports.db import checkpoint_deleted, unit_of_work
from hrd_reports.models import ReportStatus, Role
from hrd_reports.resources import resource_dir
from hrd_reports.services import (
    assignment,
    casework,
    conversation,
    credentials,
    desk,
    intake,
    keyring,
    listing,
    reading,
    reseal,
    rotation,
    users,
    withdrawal,
)
from hrd_reports.services.assignment import AssignOutcome
from hrd_reports.services.desk import DeskSetup
from hrd_reports.services.reading import ReportView
from hrd_reports.services.rotation import RotationEnd, RotationStart
from hrd_reports.web.headers import REPORTER_SCRIPTS
from hrd_reports.wiring import Runtime

T = TypeVar("T")


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run on an event loop of its own, in a thread: the browser tests' Playwright keeps a loop
    running in the main thread, where ``asyncio.run`` refuses to start another."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


@dataclass(frozen=True)
class Person:
    name: str
    password: str


@dataclass(frozen=True)
class Submitted:
    report_id: UUID
    receipt: str
    submission: Submission


def post_report(client: Any, content: bytes, **overrides: Any) -> tuple[str, Any]:
    """Submit over HTTP as the reporter's browser does: key, challenge, work, envelope.

    ``overrides`` replace parts of the request body, to send something a browser would not.
    """
    key = client.get("/api/v1/intake-key").json()
    challenge = client.get("/api/v1/challenge").json()
    receipt, submission = new_submission(
        content, intake_key=PublicKey(base64.b64decode(key["public_key"]))
    )
    body = {
        "proof_of_work": {
            "challenge": challenge["challenge"],
            "counter": solve(challenge["challenge"], challenge["difficulty"]),
        },
        "envelope": submission.to_wire(),
    } | overrides
    return receipt, client.post("/api/v1/reports", json=body)


def pinned_reporter_policy() -> str:
    """The reporter pages' policy, written out, not imported: weakening it in
    hrd_reports.web.headers fails the tests that compare with this. Only the scripts of the
    reporter pages run there, each named by the SHA-384 of the file the desk serves."""
    static = resource_dir("static")
    scripts = " ".join(
        "'sha384-"
        + base64.b64encode(hashlib.sha384((static / path).read_bytes()).digest()).decode()
        + "'"
        for path in REPORTER_SCRIPTS
    )
    return (
        f"default-src 'none'; script-src {scripts}; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; worker-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )


def hidden_value(page: str, name: str) -> str:
    """The value of a page's hidden field ``name``: a form token, a CSRF token."""
    found = re.search(rf'name="{name}" value="([^"]+)"', page)
    assert found is not None, f"no {name} on the page"
    return found.group(1)


def solved_pow(client: Any) -> dict[str, Any]:
    challenge = client.get("/api/v1/challenge").json()
    return {
        "challenge": challenge["challenge"],
        "counter": solve(challenge["challenge"], challenge["difficulty"]),
    }


def unsolved_work(client: Any) -> dict[str, Any]:
    """A challenge with a counter that does not solve it (at a few bits of difficulty, a
    fixed counter would solve one challenge in sixteen)."""
    challenge = client.get("/api/v1/challenge").json()
    wrong = next(
        counter
        for counter in range(2**64 - 1, 0, -1)
        if leading_zero_bits(
            hashlib.sha256(
                challenge["challenge"].encode("ascii") + counter.to_bytes(8, "big")
            ).digest()
        )
        < challenge["difficulty"]
    )
    return {"challenge": challenge["challenge"], "counter": wrong}


def query_body(client: Any, receipt: str) -> dict[str, Any]:
    """What the reporter's browser sends to open the inbox: a solved proof, the token."""
    token = derive_receipt_keys(receipt).lookup_token
    return {"proof_of_work": solved_pow(client), "lookup_token": encode_b64(token)}


def query_inbox(client: Any, receipt: str) -> Any:
    """Open the inbox as the reporter's browser does: derive the token, work, ask."""
    return client.post("/api/v1/inbox", json=query_body(client, receipt))


def post_reporter_message(client: Any, receipt: str, report_id: UUID, text: str) -> Any:
    keys = derive_receipt_keys(receipt)
    message_id = uuid.uuid4()
    blob = encrypt_reporter_message(
        keys.message_key, text, report_id=report_id, message_id=message_id
    )
    return client.post(
        "/api/v1/inbox/messages",
        json={
            "proof_of_work": solved_pow(client),
            "lookup_token": encode_b64(keys.lookup_token),
            "message": {"id": str(message_id), "ciphertext": encode_b64(blob)},
        },
    )


def sealed_message_bytes(receipt: str, report_id: UUID, plaintext: bytes) -> tuple[UUID, bytes]:
    """A reporter's message of any bytes, sealed as a client can (not only as our page does,
    which seals UTF-8 text): its id and its ciphertext."""
    message_id = uuid.uuid4()
    padded = pad(plaintext, max_bucket=MAX_MESSAGE_BUCKET)
    aad = bind(Purpose.REPORTER_MESSAGE, report_id, message_id)
    return message_id, aes_gcm_encrypt(derive_receipt_keys(receipt).message_key, padded, aad=aad)


def report_content(narrative: str, *, incident_types: tuple[str, ...] = ("death_threat",)) -> bytes:
    return json.dumps(
        {"incident_types": list(incident_types), "narrative": narrative}, ensure_ascii=False
    ).encode("utf-8")


class Desk:
    """One desk under test: each method is one unit of work, committed like a CLI command."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.secrets = runtime.secrets
        self.audit_secret = runtime.secrets.audit

    def session(self) -> Any:
        return unit_of_work(self.runtime.sessions)

    def set_up(self, admin: Person) -> DeskSetup:
        with self.session() as session:
            setup = desk.set_up_desk(
                session,
                admin_name=admin.name,
                admin_password=admin.password,
                passwords=self.runtime.passwords,
                secrets=self.secrets,
            )
            session.commit()
        return setup

    def add(self, name: str, role: Role) -> Person:
        # Distinct per person, so a canary search can tell whose password leaked.
        person = Person(
            name, f"passphrase of a {role.value.replace('_', ' ')} {secrets.randbelow(10**9)}"
        )
        with self.session() as session:
            users.create_user(
                session,
                name=name,
                role=role,
                password=person.password,
                passwords=self.runtime.passwords,
                secrets=self.secrets,
                actor="test",
            )
            session.commit()
        return person

    def vet(self, name: str, *, by: Person) -> users.VetOutcome:
        with self.session() as session:
            holder = self._unlock(session, by)
            outcome = users.vet_user(
                session,
                name=name,
                vetter=holder.user,
                intake_keys=keyring.unlock_intake_keys(
                    session, user=holder.user, private_key=holder.private_key
                ),
                vetted_by=by.name,
                secrets=self.secrets,
            )
            session.commit()
        return outcome

    def add_vetted(self, name: str, role: Role, *, by: Person) -> Person:
        person = self.add(name, role)
        self.vet(name, by=by)
        return person

    def revoke(self, name: str) -> users.RevokeOutcome:
        with self.session() as session:
            outcome = users.revoke_user(session, name=name, actor="test", secrets=self.secrets)
            session.commit()
        return outcome

    def intake_key(self) -> PublicKey:
        with self.session() as session:
            return PublicKey(keyring.active_intake_key(session).public_key)

    def submit(self, content: bytes) -> Submitted:
        receipt, submission = new_submission(content, intake_key=self.intake_key())
        self.store(submission)
        return Submitted(report_id=submission.report_id, receipt=receipt, submission=submission)

    def store(self, submission: Submission) -> None:
        with self.session() as session:
            intake.submit_report(session, submission=submission, secrets=self.secrets)
            session.commit()

    def _unlock(self, session: Any, person: Person) -> credentials.UnlockedUser:
        return credentials.unlock(
            session, name=person.name, password=person.password, passwords=self.runtime.passwords
        )

    def list_reports(self, person: Person) -> list[ReportView]:
        """Like ``reports list``: every report the person may read, newest first."""
        with self.session() as session:
            listed = listing.list_page(
                session,
                reader=self._unlock(session, person),
                filters=listing.ReportFilter(),
                page=1,
                page_size=None,
                secrets=self.secrets,
            )
            session.commit()
        views = [entry.view for entry in listed.entries]
        return sorted(views, key=lambda view: view.received_on, reverse=True)

    def show(self, person: Person, report_id: UUID) -> ReportView:
        """Like ``reports show``: the attempt is committed to the audit log, then refused."""
        with self.session() as session:
            detail = casework.show(
                session,
                reader=self._unlock(session, person),
                report_id=report_id,
                secrets=self.secrets,
            )
            session.commit()
        if detail.view.refusal is not None:
            raise detail.view.refusal
        return detail.view

    def assign(self, report_id: UUID, *, to: str, by: Person) -> AssignOutcome:
        with self.session() as session:
            outcome = assignment.assign_report(
                session,
                keyholder=self._unlock(session, by),
                report_id=report_id,
                assignee_name=to,
                secrets=self.secrets,
            )
            session.commit()
        return outcome

    def set_status(self, report_id: UUID, status: ReportStatus, *, by: Person) -> None:
        with self.session() as session:
            casework.update_workflow(
                session,
                reader=self._unlock(session, by),
                report_id=report_id,
                status=status,
                priority=casework.KEEP,
                risk=None,
                secrets=self.secrets,
            )
            session.commit()

    def reply(self, report_id: UUID, text: str, *, by: Person) -> UUID:
        with self.session() as session:
            message_id = conversation.reply(
                session,
                reader=self._unlock(session, by),
                report_id=report_id,
                text=text,
                secrets=self.secrets,
            )
            session.commit()
        return message_id

    def destroy(self, report_id: UUID, *, reason: str, by: Person) -> UUID:
        """Like ``reports destroy``: a key holder destroys a report, then the WAL is emptied."""
        with self.session() as session:
            destroyed = withdrawal.destroy_by_desk(
                session,
                keyholder=self._unlock(session, by),
                report_id=report_id,
                reason=reason,
                secrets=self.secrets,
            )
            session.commit()
        checkpoint_deleted(self.runtime.engine)
        return destroyed

    def thread(self, report_id: UUID, *, by: Person) -> list[conversation.ThreadMessage]:
        """The conversation as the desk reads it, through the reader's own keys."""
        with self.session() as session:
            report, dek = reading.writable(session, self._unlock(session, by), report_id)
            messages = conversation.thread(session, report, dek)
            session.commit()
        return messages

    def start_rotation(self, *, by: Person) -> tuple[RotationStart, dict[str, PrivateKey]]:
        """The first step of ``keys rotate``, committed; also the keys ``by`` opened for it."""
        with self.session() as session:
            holder = self._unlock(session, by)
            intake_keys = keyring.unlock_intake_keys(
                session, user=holder.user, private_key=holder.private_key
            )
            start = rotation.start_rotation(
                session, holder=holder.user, intake_keys=intake_keys, secrets=self.secrets
            )
            session.commit()
        return start, intake_keys

    def rotate(self, *, by: Person, retire_old: bool = False, batch_size: int = 3) -> RotationEnd:
        start, intake_keys = self.start_rotation(by=by)
        damaged = reseal.reseal_all(
            self.runtime.sessions,
            rotation_id=start.rotation_id,
            intake_keys=intake_keys,
            batch_size=batch_size,
            secrets=self.secrets,
        )
        with self.session() as session:
            end = rotation.finish_rotation(
                session,
                rotation_id=start.rotation_id,
                actor=by.name,
                retire_old=retire_old,
                secrets=self.secrets,
                damaged=damaged,
            )
            session.commit()
        return end
