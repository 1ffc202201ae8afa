"""The desk's notifications: who is told what, when a mail goes, and that a mail that failed
is kept and tried again; the address encrypted at rest; the unread count of the navigation."""

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, text, update

from hrd_reports.crypto import addresses
from hrd_reports.crypto.submission import new_submission
from hrd_reports.models import NotificationSubscription, NotifyChoice, Role, User
from hrd_reports.services import (
    conversation,
    intake,
    notification_choice,
    notifications,
    users,
)
from hrd_reports.services.errors import Invalid
from tests.conftest import DatabaseServer
from tests.helpers import Desk, Person
from tests.unit.services.conversation_support import post
from tests.unit.services.notification_support import (
    NEXT_HOUR,
    NOW,
    THIS_HOUR,
    choose,
    claim,
    collect,
    failed,
    sent,
    waiting,
)
from tests.unit.services.reading_support import content, list_page, show

DIGEST = NotifyChoice.DIGEST
AT_ONCE = NotifyChoice.URGENT_AND_DIGEST

# ---- who is told what -----------------------------------------------------------------------


def test_collect_counts_only_what_arrived_after_the_choice(
    desk: Desk, staff: dict[str, Person]
) -> None:
    desk.submit(content("before the choice"))
    choose(desk, "carol", DIGEST)
    desk.submit(content("after one"))
    desk.submit(content("after two"))

    assert collect(desk) == 1

    mail = waiting(desk, "carol")
    assert mail is not None
    # Nobody has opened them: either may be urgent.
    assert (mail.kind, mail.reports, mail.messages, mail.urgent) == ("digest", 2, 0, 2)
    assert mail.next_attempt_at == NEXT_HOUR


def test_collect_run_again_counts_each_report_once(desk: Desk, staff: dict[str, Person]) -> None:
    choose(desk, "carol", DIGEST)
    desk.submit(content("once"))
    collect(desk)
    collect(desk)
    desk.submit(content("twice"))
    collect(desk)

    mail = waiting(desk, "carol")
    assert mail is not None
    assert mail.reports == 2


def test_collect_with_urgent_choice_a_report_nobody_opened_goes_at_once(
    desk: Desk, staff: dict[str, Person]
) -> None:
    choose(desk, "carol", AT_ONCE)
    desk.submit(content("in danger now", in_danger_now="yes"))

    collect(desk)

    mail = waiting(desk, "carol")
    assert mail is not None
    assert (mail.kind, mail.urgent, mail.next_attempt_at) == ("urgent", 1, THIS_HOUR)


def test_collect_report_opened_and_not_urgent_waits_for_the_digest(
    desk: Desk, staff: dict[str, Person]
) -> None:
    choose(desk, "carol", AT_ONCE)
    desk.submit(content("a quiet report", in_danger_now="no"))
    list_page(desk, staff["coordinator"])  # opened: the server learns it is not urgent

    collect(desk)

    mail = waiting(desk, "carol")
    assert mail is not None
    assert (mail.kind, mail.reports, mail.urgent, mail.next_attempt_at) == (
        "digest",
        1,
        0,
        NEXT_HOUR,
    )


def test_collect_digest_only_choice_never_goes_at_once(
    desk: Desk, staff: dict[str, Person]
) -> None:
    choose(desk, "carol", DIGEST)
    desk.submit(content("in danger now", in_danger_now="yes"))

    collect(desk)

    mail = waiting(desk, "carol")
    assert mail is not None
    assert (mail.kind, mail.urgent, mail.next_attempt_at) == ("digest", 1, NEXT_HOUR)


def test_collect_urgent_news_sends_a_waiting_digest_at_once(
    desk: Desk, staff: dict[str, Person]
) -> None:
    choose(desk, "carol", AT_ONCE)
    quiet = desk.submit(content("quiet", in_danger_now="no"))
    list_page(desk, staff["coordinator"])
    collect(desk)
    post(desk, quiet, "a message on a quiet report")
    desk.submit(content("in danger now", in_danger_now="yes"))

    collect(desk)

    mail = waiting(desk, "carol")
    assert mail is not None
    assert (mail.kind, mail.reports, mail.messages, mail.urgent) == ("urgent", 2, 1, 1)
    assert mail.next_attempt_at == THIS_HOUR


def test_collect_case_worker_counts_only_their_assigned_reports_and_messages(
    desk: Desk, staff: dict[str, Person], admin: Person
) -> None:
    choose(desk, "dave", DIGEST)
    choose(desk, "frank", DIGEST)
    theirs = desk.submit(content("assigned to dave", in_danger_now="no"))
    other = desk.submit(content("nobody's"))
    list_page(desk, staff["coordinator"])  # opened before it is handed on: not urgent
    desk.assign(theirs.report_id, to="dave", by=admin)
    post(desk, theirs, "more for dave")
    post(desk, other, "more for the coordinators")

    collect(desk)

    mail = waiting(desk, "dave")
    assert mail is not None
    # One report newly theirs, one message on it.
    assert (mail.reports, mail.messages, mail.urgent) == (1, 1, 0)
    assert waiting(desk, "frank") is None


def test_collect_reporter_message_on_an_urgent_report_is_urgent(
    desk: Desk, staff: dict[str, Person]
) -> None:
    urgent = desk.submit(content("in danger now", in_danger_now="yes"))
    list_page(desk, staff["coordinator"])  # opened: known urgent
    choose(desk, "carol", AT_ONCE)
    post(desk, urgent, "they are outside")

    collect(desk)

    mail = waiting(desk, "carol")
    assert mail is not None
    assert (mail.kind, mail.reports, mail.messages, mail.urgent) == ("urgent", 0, 1, 1)


def test_collect_message_already_read_is_not_counted(desk: Desk, staff: dict[str, Person]) -> None:
    submitted = desk.submit(content("a report"))
    choose(desk, "carol", DIGEST)
    post(desk, submitted, "read before the round")
    show(desk, staff["coordinator"], submitted.report_id)

    collect(desk)

    assert waiting(desk, "carol") is None


def test_collect_disabled_person_is_told_nothing_and_their_mail_is_dropped(
    desk: Desk, staff: dict[str, Person]
) -> None:
    choose(desk, "carol", DIGEST)
    desk.submit(content("first"))
    collect(desk)
    with desk.session() as session:
        users.set_disabled(
            session, name="carol", disabled=True, actor="admin", secrets=desk.secrets
        )
        session.commit()
    desk.submit(content("second"))

    collect(desk)

    assert waiting(desk, "carol") is None
    assert claim(desk, NEXT_HOUR) is None


# ---- the choice -----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "role"), [("audrey", Role.AUDITOR), ("uma", Role.COORDINATOR)])
def test_set_choice_by_someone_who_reads_no_reports_is_refused(
    desk: Desk, name: str, role: Role
) -> None:
    desk.add(name, role)  # an auditor, or a coordinator not vetted

    with pytest.raises(Invalid, match="reads no reports"):
        choose(desk, name, DIGEST)

    with desk.session() as session:
        assert session.execute(select(NotificationSubscription)).first() is None


@pytest.mark.parametrize(
    "address",
    [
        "no-at-sign",
        "carol@localhost",
        "carol@example.org\r\nBcc: someone@example.net",
        "carol@example.org, someone@example.net",
        "carol <carol@example.org>",
        "c" * 250 + "@example.org",
        "",
    ],
)
def test_set_choice_without_one_valid_address_is_refused(
    desk: Desk, staff: dict[str, Person], address: str
) -> None:
    with pytest.raises(Invalid):
        choose(desk, "carol", DIGEST, address=address)

    with desk.session() as session:
        assert session.execute(select(NotificationSubscription)).first() is None


def test_set_choice_off_drops_the_mail_waiting(desk: Desk, staff: dict[str, Person]) -> None:
    choose(desk, "carol", DIGEST)
    desk.submit(content("waiting"))
    collect(desk)

    choose(desk, "carol", NotifyChoice.OFF, address="")

    assert waiting(desk, "carol") is None
    desk.submit(content("after"))
    collect(desk)
    assert waiting(desk, "carol") is None


def test_address_is_encrypted_at_rest_and_opens_only_on_its_owners_row(
    desk: Desk, staff: dict[str, Person]
) -> None:
    choose(desk, "carol", DIGEST, address="carol.private@example.org")
    choose(desk, "dave", DIGEST, address="dave@example.org")
    with desk.session() as session:
        stored = session.execute(text("SELECT address FROM notification_subscriptions")).scalars()
        blobs = [bytes(blob) for blob in stored]
        assert not any(b"carol.private" in blob or b"example.org" in blob for blob in blobs)
        # Padded: the length does not tell one address from another.
        assert len({len(blob) for blob in blobs}) == 1
        carol = session.execute(select(User).where(User.name == "carol")).scalar_one()
        dave = session.execute(select(User).where(User.name == "dave")).scalar_one()
        # Someone with the database alone moves carol's address onto dave's row.
        session.execute(
            update(NotificationSubscription)
            .where(NotificationSubscription.user_id == dave.id)
            .values(address=session.get(NotificationSubscription, carol.id).address)  # type: ignore[union-attr]
        )
        session.commit()
    with desk.session() as session:
        dave_row = session.get(NotificationSubscription, dave.id)
        assert dave_row is not None
        assert notification_choice.open_address(dave_row, dave, desk.secrets) is None
        chosen = notification_choice.get_choice(session, user=carol, secrets=desk.secrets)
        assert chosen.address == "carol.private@example.org"


def test_protect_address_refuses_one_past_its_padding() -> None:
    key = addresses.storage_key(b"\x01" * 32)
    with pytest.raises(ValueError, match="not an e-mail address"):
        addresses.protect_address("a" * 255, key=key, owner="someone")


# ---- sending --------------------------------------------------------------------------------


def test_claim_next_a_claimed_mail_is_not_claimed_again_until_its_claim_ends(
    desk: Desk, staff: dict[str, Person]
) -> None:
    choose(desk, "carol", AT_ONCE, address="carol@example.org")
    desk.submit(content("urgent?"))
    collect(desk)

    first = claim(desk)
    assert first is not None
    assert (first.address, first.reports, first.urgent) == ("carol@example.org", 1, 1)
    assert claim(desk) is None  # another process at the same moment
    # The first process died while sending: once its claim ends (on the minute after its
    # lease), the mail is sent again.
    lease_end = NOW + notifications.CLAIM_LEASE
    assert claim(desk, lease_end) is None
    again = claim(desk, lease_end + dt.timedelta(minutes=1))
    assert again is not None


def test_claim_next_digest_is_not_due_before_the_hour(desk: Desk, staff: dict[str, Person]) -> None:
    choose(desk, "carol", DIGEST)
    desk.submit(content("a report"))
    collect(desk)

    assert claim(desk) is None
    assert claim(desk, NEXT_HOUR) is not None


def test_record_failure_keeps_the_mail_and_pauses_doubling_up_to_an_hour(
    desk: Desk, staff: dict[str, Person]
) -> None:
    choose(desk, "carol", AT_ONCE)
    desk.submit(content("urgent?"))
    collect(desk)
    now = NOW
    pauses = []
    for _ in range(9):
        outgoing = claim(desk, now)
        assert outgoing is not None
        retry_at = failed(desk, outgoing, now)
        assert claim(desk, retry_at - dt.timedelta(seconds=1)) is None
        # No finer than the minute: it would time the report the mail counted.
        assert retry_at.second == 0
        pauses.append((retry_at - now) // dt.timedelta(minutes=1))
        now = retry_at

    # The first from 09:20:10 to 09:22: at least a minute, on the minute.
    assert pauses == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    mail = waiting(desk, "carol")
    assert mail is not None
    assert (mail.attempts, mail.last_error, mail.reports) == (9, "ConnectionRefusedError", 1)


def test_record_sent_keeps_what_arrived_while_sending(desk: Desk, staff: dict[str, Person]) -> None:
    choose(desk, "carol", AT_ONCE)
    desk.submit(content("first"))
    collect(desk)
    outgoing = claim(desk)
    assert outgoing is not None
    desk.submit(content("second, while the first mail is on its way"))
    collect(desk)

    sent(desk, outgoing)

    mail = waiting(desk, "carol")
    assert mail is not None
    assert (mail.kind, mail.reports, mail.urgent, mail.next_attempt_at) == (
        "urgent",
        1,
        1,
        THIS_HOUR,
    )
    again = claim(desk)
    assert again is not None
    sent(desk, again)
    assert waiting(desk, "carol") is None


# ---- the navigation's unread count ----------------------------------------------------------


def _unread(desk: Desk, name: str) -> int | None:
    with desk.session() as session:
        user = session.execute(select(User).where(User.name == name)).scalar_one()
        return conversation.unread_total(session, user)


def test_unread_total_counts_the_messages_each_person_may_read(
    desk: Desk, staff: dict[str, Person], admin: Person
) -> None:
    assigned = desk.submit(content("assigned to dave"))
    other = desk.submit(content("nobody's"))
    desk.assign(assigned.report_id, to="dave", by=admin)
    post(desk, assigned, "one")
    post(desk, other, "two")
    post(desk, other, "three")
    desk.add("audrey", Role.AUDITOR)

    assert _unread(desk, "carol") == 3
    assert _unread(desk, "dave") == 1
    assert _unread(desk, "frank") == 0
    assert _unread(desk, "audrey") is None

    show(desk, staff["coordinator"], other.report_id)
    assert _unread(desk, "carol") == 1


# ---- reports stored while the sender counts -------------------------------------------------


def _waits_for_a_lock(desk: Desk) -> bool:
    with desk.session() as session:
        waiting_now = session.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        ).scalar_one()
    return bool(waiting_now)


def test_collect_never_skips_a_report_committed_after_a_later_one(
    desk: Desk, staff: dict[str, Person], database_server: DatabaseServer
) -> None:
    if not database_server.is_postgresql:
        pytest.skip("SQLite stores one report at a time: ids commit in their order")
    choose(desk, "carol", DIGEST)
    with desk.session() as slow, ThreadPoolExecutor(max_workers=1) as sender:
        # A report being stored (its id drawn, not yet committed) while a later one commits.
        _receipt, first = new_submission(content("slow"), intake_key=desk.intake_key())
        intake.submit_report(slow, submission=first, secrets=desk.secrets)
        desk.submit(content("fast"))
        counting = sender.submit(collect, desk)
        deadline = time.monotonic() + 30
        while not counting.done() and not _waits_for_a_lock(desk):
            assert time.monotonic() < deadline, "the sender neither counted nor waited"
            time.sleep(0.02)
        slow.commit()
        counting.result(timeout=30)
    collect(desk)

    mail = waiting(desk, "carol")
    assert mail is not None
    assert mail.reports == 2
