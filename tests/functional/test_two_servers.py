"""Two ``hrd-reports serve`` processes, each in a working directory of its own, on one database
with the same ``keys/`` and settings: how a desk grows past one machine.

A report sent to one is read by a case worker signed in on the other; the session opened on
one works on the other; a proof of work spent on one is refused on the other; a key rotation
runs while both take reports, and every report still opens afterwards.
"""

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hrd_reports.models import Role
from tests.cli import invoke
from tests.dashboard_support import Staff, enrolled_steps_ago, signed_in_over_http
from tests.helpers import Desk, Person, post_report, report_content, solve
from tests.server import ServerProcess


@pytest.fixture
def servers(cli_env: dict[str, str], tmp_path: Path, desk: Desk) -> Iterator[list[ServerProcess]]:
    started = []
    try:
        for name in ("first", "second"):
            directory = tmp_path / name
            directory.mkdir()
            server = ServerProcess(cli_env, directory, workers=1)
            started.append(server)
            server.start()
        yield started
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def wafa(desk: Desk, admin: Person, monkeypatch: pytest.MonkeyPatch) -> Staff:
    person = desk.add_vetted("wafa", Role.CASE_WORKER, by=admin)
    return enrolled_steps_ago(desk, person, Role.CASE_WORKER, monkeypatch)


def test_report_sent_to_one_server_is_read_on_the_other_with_a_session_both_accept(
    servers: list[ServerProcess], desk: Desk, admin: Person, wafa: Staff
) -> None:
    first, second = servers
    with httpx.Client(base_url=first.url, timeout=30) as reporter:
        _receipt, sent = post_report(reporter, report_content("CANARY-two-servers sent to one"))
    assert sent.status_code == 201, sent.text
    report_id = sent.json()["report_id"]
    desk.assign(report_id, to="wafa", by=admin)

    on_second = signed_in_over_http(second.url, wafa)
    # The same browser, its cookie and all, on the other server.
    on_first = httpx.Client(base_url=first.url, cookies=on_second.cookies, timeout=30)
    try:
        page = on_second.get(f"/dashboard/reports/{report_id}")
        again = on_first.get(f"/dashboard/reports/{report_id}")
    finally:
        on_second.close()
        on_first.close()
    assert page.status_code == 200
    assert "CANARY-two-servers sent to one" in page.text
    assert again.status_code == 200
    assert "CANARY-two-servers sent to one" in again.text


def test_proof_of_work_spent_on_one_server_is_refused_on_the_other(
    servers: list[ServerProcess],
) -> None:
    first, second = servers
    with httpx.Client(base_url=first.url, timeout=30) as one:
        challenge = one.get("/api/v1/challenge").json()
        proof = {
            "challenge": challenge["challenge"],
            "counter": solve(challenge["challenge"], challenge["difficulty"]),
        }
        _receipt, accepted = post_report(
            one, report_content("CANARY-two-servers proof"), proof_of_work=proof
        )
    assert accepted.status_code == 201, accepted.text
    with httpx.Client(base_url=second.url, timeout=30) as other:
        _receipt, replayed = post_report(
            other, report_content("CANARY-two-servers replay"), proof_of_work=proof
        )
    assert replayed.status_code == 400
    assert "already used" in replayed.json()["detail"]


def test_rotation_while_both_servers_take_reports_leaves_every_report_readable(
    servers: list[ServerProcess], cli_env: dict[str, str], admin: Person
) -> None:
    sent: list[str] = []
    refused: list[str] = []
    stop = threading.Event()

    def report_to_both() -> None:
        clients = [httpx.Client(base_url=server.url, timeout=60) for server in servers]
        try:
            turn = 0
            while (not stop.is_set() or len(sent) < 6) and turn < 200:
                client = clients[turn % 2]
                _receipt, answer = post_report(client, report_content(f"CANARY-rotation {turn}"))
                if answer.status_code == 201:
                    sent.append(answer.json()["report_id"])
                elif answer.status_code != 409:  # the key changed under it: sent again
                    refused.append(f"{answer.status_code} {answer.text[:200]}")
                turn += 1
        finally:
            for client in clients:
                client.close()

    reporting = threading.Thread(target=report_to_both)
    reporting.start()
    try:
        rotated = invoke(
            cli_env,
            *("keys", "rotate", "--as", admin.name, "--password-stdin", "--retire-old"),
            stdin=admin.password + "\n",
        )
    finally:
        stop.set()
        reporting.join(timeout=120)
    assert rotated.exit_code == 0, rotated.stderr
    assert refused == []
    assert len(sent) >= 6

    listed = invoke(
        cli_env,
        *("reports", "list", "--as", admin.name, "--password-stdin", "--json"),
        stdin=admin.password + "\n",
    )
    assert listed.exit_code == 0, listed.stderr
    ids = {report["id"] for report in listed.json()["reports"]}
    assert set(sent) <= ids
    for report_id in sent:
        shown = invoke(
            cli_env,
            *("reports", "show", report_id, "--as", admin.name, "--password-stdin", "--json"),
            stdin=admin.password + "\n",
        )
        assert shown.exit_code == 0, shown.stderr
        assert "CANARY-rotation" in shown.stdout
