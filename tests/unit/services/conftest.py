"""Fixtures of the service tests: the desk's staff, a clock the test moves, and a person with a
second factor."""

import pytest

from hrd_reports.crypto import totp
from hrd_reports.models import Role
from hrd_reports.services import clock
from tests.helpers import Desk, Person
from tests.unit.services.accounts_support import NORA, ONE_STEP, Clock, accept, code_now, invite


@pytest.fixture
def staff(desk: Desk, admin: Person) -> dict[str, Person]:
    return {
        "coordinator": desk.add_vetted("carol", Role.COORDINATOR, by=admin),
        "case_worker": desk.add_vetted("dave", Role.CASE_WORKER, by=admin),
        "other_case_worker": desk.add_vetted("frank", Role.CASE_WORKER, by=admin),
    }


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock()
    monkeypatch.setattr(clock, "utc_now", moved)
    return moved


@pytest.fixture
def nora(desk: Desk, fake_clock: Clock) -> bytes:
    """A coordinator who accepted her invitation; the clock is one step past her enrolment."""
    secret = totp.new_secret()
    token = invite(desk, NORA.name, Role.COORDINATOR)
    accept(desk, token, password=NORA.password, secret=secret, code=code_now(secret, fake_clock))
    fake_clock.advance(ONE_STEP)
    return secret
