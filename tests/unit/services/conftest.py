"""The desk's staff for the service tests of reading and casework."""

import pytest

from hrd_reports.models import Role
from tests.helpers import Desk, Person


@pytest.fixture
def staff(desk: Desk, admin: Person) -> dict[str, Person]:
    return {
        "coordinator": desk.add_vetted("carol", Role.COORDINATOR, by=admin),
        "case_worker": desk.add_vetted("dave", Role.CASE_WORKER, by=admin),
        "other_case_worker": desk.add_vetted("frank", Role.CASE_WORKER, by=admin),
    }
