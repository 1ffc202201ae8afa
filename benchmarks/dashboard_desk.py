"""The desk ``dashboard.py`` measures: N reports of a realistic mix, and people enrolled with
a second factor as an invitation enrols them."""

import datetime as dt
import random
import re
import sys
import time

from bench_desk import ADMIN, PASSWORD, insert_reports, report_row, settle

from hrd_reports import content, db
from hrd_reports.crypto import totp
from hrd_reports.crypto.submission import new_submission
from hrd_reports.crypto.xwing import PublicKey
from hrd_reports.models import ReportStatus, Role
from hrd_reports.services import accounts, credentials, keyring, signin, users
from hrd_reports.services.clock import utc_today
from hrd_reports.wiring import Runtime

THROTTLE = signin.Throttle(max_failures=5, lockout=dt.timedelta(minutes=15))
# Reports are built and inserted in chunks, so that 100,000 are never all in memory.
CHUNK = 1_000
# In fewer reports than fill a page, so that a search for it reads every report.
SEARCH_TERM, SEARCH_HITS = "white pickup", 20
# The words of the narratives, drawn at random.
SAMPLE_NARRATIVE = (
    "they came to the office at night and took phones laptops and papers from the desk "
    "a car followed me home from the court after the hearing two men in civilian clothes "
    "asked neighbours about my family the message said stop writing or you will regret it "
    "my account was hacked and private photos were posted with threats against my sister "
    "officers at the checkpoint held us for hours and questioned us about the protest"
)
WORDS = SAMPLE_NARRATIVE.split()
# Where a desk's reports are after a while: most received or in triage, a few set aside.
STATUSES = {
    ReportStatus.RECEIVED: 55,
    ReportStatus.ACKNOWLEDGED: 10,
    ReportStatus.TRIAGE: 10,
    ReportStatus.OPEN: 10,
    ReportStatus.ACTION: 5,
    ReportStatus.MONITORING: 4,
    ReportStatus.CLOSED: 5,
    ReportStatus.DUPLICATE: 0.5,
    ReportStatus.OUT_OF_MANDATE: 0.5,
}
COMMON_TYPES = [code for code, _ in content.INCIDENT_TYPES if code not in content.FLAGGED_TYPES]
FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def report_content(rng: random.Random, *, hit: bool) -> bytes:
    """A report as the reporter's browser builds it, of 100 to 1,300 characters.

    About one in seven is urgent (``content.is_urgent``): the reporter is in danger now (10 %)
    or reports a detention or an attempt on a life (6 %).
    """
    types = rng.sample(COMMON_TYPES, k=rng.choice((1, 1, 2)))
    if rng.random() < 0.06:
        types.append(rng.choice(sorted(content.FLAGGED_TYPES)))
    words = rng.choices(WORDS, k=rng.randint(20, 220))
    if hit:
        words[len(words) // 2 : len(words) // 2] = ["a", *SEARCH_TERM.split(), "truck"]
    danger = rng.random()
    document = {
        "incident_types": types,
        "in_danger_now": "yes" if danger < 0.1 else ("no" if danger < 0.7 else None),
        "location": {
            "governorate": rng.choice(content.GOVERNORATES)[0],
            "district": rng.choice(("", "centre", "old city", "industrial area")),
        },
        "perpetrator": {"identifiers": rng.choice(("", "a white car, no plates", "unit 12"))},
        "narrative": " ".join(words).capitalize() + ".",
    }
    return content.ReportContent.model_validate(document).to_json_bytes()


def enrol(rt: Runtime, *, name: str, role: Role) -> bytes:
    """Invite a new person and accept as they would, with a password and an authenticator
    app; the app's secret, to make the codes they will sign in with."""
    secret = totp.new_secret()
    with db.unit_of_work(rt.sessions) as session:
        token = accounts.invite(
            session,
            name=name,
            role=role,
            actor=ADMIN,
            valid_for=dt.timedelta(hours=1),
            secrets=rt.secrets,
        )
        session.commit()
    with db.unit_of_work(rt.sessions) as session:
        accounts.accept_invitation(
            session,
            token=token,
            password=PASSWORD,
            totp_secret=secret,
            code=totp.code_for(secret, totp.step_at(time.time())),
            passwords=rt.passwords,
            secrets=rt.secrets,
            throttle=THROTTLE,
        )
        session.commit()
    return secret


def vet(rt: Runtime, name: str) -> None:
    """The administrator vets ``name``; a coordinator receives the desk's intake keys."""
    with db.unit_of_work(rt.sessions) as session:
        admin = credentials.unlock(session, name=ADMIN, password=PASSWORD, passwords=rt.passwords)
        users.vet_user(
            session,
            name=name,
            vetter=admin.user,
            intake_keys=keyring.unlock_intake_keys(
                session, user=admin.user, private_key=admin.private_key
            ),
            vetted_by=ADMIN,
            secrets=rt.secrets,
        )
        session.commit()


def store_reports(rt: Runtime, count: int, intake_key: PublicKey) -> None:
    """``count`` reports built by the reference client and stored with exactly the columns
    ``submit_report`` writes, in bulk; ``SEARCH_HITS`` of them, spread out, hold the
    search term.

    They arrived over the last year and are in the statuses triage would have left them in;
    ``urgent`` is unknown, as intake leaves it, until the first listing learns it.
    """
    rng = random.Random(count)  # noqa: S311 - test data, not a secret
    today, every = utc_today(), count // SEARCH_HITS
    statuses, weights = list(STATUSES), list(STATUSES.values())
    for start in range(0, count, CHUNK):
        rows = []
        for index in range(start, min(start + CHUNK, count)):
            document = report_content(rng, hit=index % every == every // 2)
            _receipt, submission = new_submission(document, intake_key=intake_key)
            received_on = today - dt.timedelta(days=rng.randrange(365))
            status = rng.choices(statuses, weights)[0]
            rows.append(
                report_row(
                    rt, submission, intake_key=intake_key, status=status, received_on=received_on
                )
            )
        insert_reports(rt, rows)
    settle(rt)


def login_form(page: str, *, name: str, secret: bytes) -> dict[str, str]:
    """The sign-in form of ``page`` filled in, with the code of the next time step: the one
    of the current step was spent at enrolment, and a code works once."""
    token = FORM_TOKEN.search(page)
    if token is None:
        sys.exit("the sign-in page has no form token; no result")
    code = totp.code_for(secret, totp.step_at(time.time()) + 1)
    return {"name": name, "password": PASSWORD, "code": code, "form_token": token.group(1)}
