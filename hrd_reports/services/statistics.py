"""The desk's statistics: which threats, where, when, against whom, and how fast the desk
answers, for its own work and for its network and donors.

Computed from decrypted content only, inside a reader's session: nothing about a report's
content is stored to make statistics faster. Each computation decrypts, with the reader's own
keys and through the listing's opener (``listing.Opener``), every report the reader may read
in the period asked (a key holder every report, a case worker the reports assigned to them),
counts, and keeps nothing but the counts. One audit entry records each computation, with how
many reports it decrypted (``audit_computation``).

- From the content: incident types and perpetrator kinds (a report may count under several),
  the governorate, and the targeted group (the sector of the person targeted: journalist,
  lawyer...), read by ``report_facts``. Decrypted content is untrusted input: a report that
  does not follow the form (as learned when it was first opened, or as its fields read now)
  counts under "not following the form" in each of these tables, and one that does not open
  at all under "could not be opened"; neither breaks anything.
- From the workflow fields, in clear: the month received, status, priority and risk; for key
  holders, the reports withdrawn by their reporters or destroyed, of which nothing but those
  fields is left (not broken down by governorate, which went with their content).
- Waiting times, in days (``_first_triage_days``, ``_first_reply_days``), and the reports
  overdue now, as the worklist defines it (``worklist.overdue_condition``).

Every count goes through small-cell suppression (``services.suppression``) before it leaves
here: what a page shows is what a snapshot would publish. Filters: the days received (in the
database) and a governorate (on the decrypted content, so every report of the period is
decrypted to find those of one governorate). Differences between two computations with
different filters are not protected: only key holders and case workers compute, over reports
they may read anyway; what leaves the desk is a published snapshot.
"""

import contextlib
import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from pydantic import TypeAdapter
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from hrd_reports import content
from hrd_reports.i18n import N_
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import (
    AuditEvent,
    Destroyer,
    MessageSender,
    Priority,
    Report,
    ReportMessage,
    ReportStatus,
    RiskLevel,
    Role,
    WithdrawnReport,
)
from hrd_reports.services import audit, listing, reading, worklist
from hrd_reports.services.credentials import UnlockedUser
from hrd_reports.services.errors import Invalid
from hrd_reports.services.report_facts import NOT_OPENED, OFF_FORM, Facts, facts_of
from hrd_reports.services.suppression import Cell, nearest_rank, suppress, suppress_count

# Row keys besides the form's codes (and OFF_FORM, NOT_OPENED of ``report_facts``).
NOT_GIVEN = "not_given"
NOT_SET = "none"

_GOVERNORATE_CODES = content.codes(content.GOVERNORATES)


def _keys(choices: content.Choices, *extra: str) -> tuple[str, ...]:
    return (*(code for code, _ in choices), *extra)


# The tables read from the content, their rows in the form's order, and whether a report
# may count in several rows.
CONTENT_TABLES: dict[str, tuple[tuple[str, ...], bool]] = {
    "incident_types": (_keys(content.INCIDENT_TYPES, OFF_FORM), True),
    "governorates": (_keys(content.GOVERNORATES, NOT_GIVEN, OFF_FORM), False),
    "perpetrators": (_keys(content.PERPETRATOR_TYPES, NOT_GIVEN, OFF_FORM), True),
    "sectors": (_keys(content.SECTORS, NOT_GIVEN, OFF_FORM), False),
}
GONE_ROWS = {
    Destroyer.REPORTER: "withdrawn",
    Destroyer.DESK: "destroyed",
    Destroyer.RETENTION: "expired",
}


@dataclass(frozen=True)
class StatisticsFilter:
    received_from: dt.date | None = None
    received_to: dt.date | None = None
    governorate: str | None = None

    def __post_init__(self) -> None:
        if self.governorate is not None and self.governorate not in _GOVERNORATE_CODES:
            raise Invalid(N_("%(value)r is not a governorate of the form"), value=self.governorate)
        if self.received_from and self.received_to and self.received_from > self.received_to:
            raise Invalid(N_("the period ends before it begins"))

    def where(self, query: Select[Report]) -> Select[Report]:
        if self.received_from is not None:
            query = query.where(Report.received_on >= self.received_from)
        if self.received_to is not None:
            query = query.where(Report.received_on <= self.received_to)
        return query


@dataclass(frozen=True)
class Table:
    name: str
    cells: list[Cell]
    total: Cell
    # A report may count in several rows: the total is the number of reports.
    several: bool = False


@dataclass(frozen=True)
class Waiting:
    """Days from a report's arrival to an event, over the reports it happened to."""

    reports: Cell
    median_days: int | None = None
    p90_days: int | None = None


@dataclass(frozen=True)
class Statistics:
    """What a page shows and a snapshot publishes: counts after suppression, nothing else."""

    filters: StatisticsFilter
    min_cell: int
    computed_on: dt.date
    reports: Cell
    off_form: Cell
    tables: list[Table]
    first_triage: Waiting
    first_reply: Waiting
    overdue: Cell
    # Reports withdrawn or destroyed; for key holders, without a governorate filter.
    gone: Table | None = None


@dataclass(frozen=True)
class Computed:
    statistics: Statistics
    # For the audit only: how many reports were decrypted, and how many did not open.
    decrypted: int
    failed: int


_STATISTICS = TypeAdapter(Statistics)


def dump(statistics: Statistics) -> dict[str, Any]:
    """The statistics as JSON values, for a snapshot: already suppressed, so nothing more is
    kept than a page shows."""
    dumped: dict[str, Any] = _STATISTICS.dump_python(statistics, mode="json")
    return dumped


def load(value: Any) -> Statistics:
    """The statistics ``dump`` gave; ``pydantic.ValidationError`` (a ValueError) otherwise."""
    return _STATISTICS.validate_python(value)


class _Tally:
    def __init__(self) -> None:
        self.tables = {name: dict.fromkeys(keys, 0) for name, (keys, _) in CONTENT_TABLES.items()}
        self.not_opened = 0
        self.months: Counter[tuple[int, int]] = Counter()
        self.status: Counter[ReportStatus] = Counter()
        self.priority: Counter[Priority | None] = Counter()
        self.risk: Counter[RiskLevel | None] = Counter()
        # Each report counted: its row id, public id and day received.
        self.counted: dict[int, tuple[UUID, dt.date]] = {}

    def add(self, facts: Facts | str) -> None:
        types, governorates = self.tables["incident_types"], self.tables["governorates"]
        perpetrators, sectors = self.tables["perpetrators"], self.tables["sectors"]
        if isinstance(facts, str):
            if facts == NOT_OPENED:
                self.not_opened += 1
                return
            for table in self.tables.values():
                table[facts] += 1
            return
        for kind in facts.incident_types:
            types[kind] += 1
        governorates[facts.governorate or NOT_GIVEN] += 1
        for kind in facts.perpetrators or (NOT_GIVEN,):
            perpetrators[kind] += 1
        sectors[facts.sector or NOT_GIVEN] += 1


def _months(counts: Counter[tuple[int, int]]) -> list[tuple[str, int]]:
    """Every month from the first to the last with a report, as ``YYYY-MM``."""
    if not counts:
        return []
    (year, month), last = min(counts), max(counts)
    rows = []
    while (year, month) <= last:
        rows.append((f"{year:04d}-{month:02d}", counts[(year, month)]))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return rows


def _table(
    name: str, rows: Iterable[tuple[str, int]], total: int, min_cell: int, *, several: bool = False
) -> Table:
    cells, shown_total = suppress(list(rows), total=total, min_cell=min_cell)
    assert shown_total is not None  # noqa: S101 - a total was given
    return Table(name, cells, shown_total, several)


def _waiting(days: list[int], min_cell: int) -> Waiting:
    """The median and 90th percentile, unless fewer reports than ``min_cell`` give them: a
    median of two waits is one of them."""
    reports = suppress_count("reports", len(days), min_cell=min_cell)
    if not days or not reports.shown:
        return Waiting(reports)
    return Waiting(reports, nearest_rank(days, 50), nearest_rank(days, 90))


def _first_triage_days(session: Session, counted: Mapping[UUID, dt.date]) -> list[int]:
    """Days from arrival to first triage: to the day of the first change of status recorded in
    the audit log (``report.update`` moving it out of "received": acknowledged, in triage, or
    any other), in UTC. The audit log is where the desk records it: ``Report.status_on`` keeps
    only the last change. A report the desk has not triaged yet is not in the figure."""
    entries = session.execute(
        select(AuditEvent.subject, AuditEvent.occurred_at, AuditEvent.detail)
        .where(
            AuditEvent.action == "report.update",
            AuditEvent.detail.like('%"status":["received",%'),
        )
        .order_by(AuditEvent.seq)
    )
    first: dict[UUID, int] = {}
    for subject, occurred_at, detail in entries:
        try:
            report_id = UUID(subject or "")
            day = dt.date.fromisoformat(occurred_at[:10])
            change = json.loads(detail).get("status")
        except (ValueError, AttributeError):
            continue  # not an entry this service writes
        received_on = counted.get(report_id)
        if received_on is None or report_id in first:
            continue
        if not isinstance(change, list) or change[:1] != ["received"]:
            continue
        first[report_id] = max(0, (day - received_on).days)
    return list(first.values())


def _first_reply_days(
    session: Session, ids: Select[Any], counted: Mapping[int, tuple[UUID, dt.date]]
) -> list[int]:
    """Days from arrival to the desk's first reply to the reporter (a message's day)."""
    replies = session.execute(
        select(ReportMessage.report_id, func.min(ReportMessage.sent_on))
        .where(ReportMessage.sender == MessageSender.DESK, ReportMessage.report_id.in_(ids))
        .group_by(ReportMessage.report_id)
    )
    return [
        max(0, (sent_on - counted[row_id][1]).days)
        for row_id, sent_on in replies
        if row_id in counted
    ]


def _gone(session: Session, filters: StatisticsFilter, min_cell: int) -> Table:
    query = select(WithdrawnReport.destroyed_by, func.count())
    if filters.received_from is not None:
        query = query.where(WithdrawnReport.received_on >= filters.received_from)
    if filters.received_to is not None:
        query = query.where(WithdrawnReport.received_on <= filters.received_to)
    counts = dict(session.execute(query.group_by(WithdrawnReport.destroyed_by)).all())
    rows = [(key, int(counts.get(by, 0))) for by, key in GONE_ROWS.items()]
    return _table("gone", rows, sum(count for _, count in rows), min_cell)


def compute(
    session: Session,
    *,
    reader: UnlockedUser,
    filters: StatisticsFilter,
    today: dt.date,
    min_cell: int,
) -> Computed:
    """The statistics of the reports ``reader`` may read, received in the period and from the
    governorate of ``filters``; refused to auditors and to anyone not vetted (who read no
    report). Decrypts, and writes nothing: the caller audits with ``audit_computation``."""
    opener = listing.Opener(session, reading.reader_keys(session, reader))
    query = filters.where(reading.visible(reader))
    columns = (Report.id, Report.received_on, Report.status, Report.priority, Report.risk)
    tally = _Tally()
    wanted = filters.governorate
    with contextlib.closing(opener.scan(query, *columns, Report.follows_form)) as scanned:
        for report_id, (row_id, received_on, status, priority, risk, form), decrypted in scanned:
            facts = facts_of(decrypted.plaintext, form)
            if wanted is not None and (isinstance(facts, str) or facts.governorate != wanted):
                continue
            tally.add(facts)
            tally.counted[row_id] = (report_id, received_on)
            tally.months[(received_on.year, received_on.month)] += 1
            tally.status[status] += 1
            tally.priority[priority] += 1
            tally.risk[risk] += 1
    counted = len(tally.counted)
    ids = query.with_only_columns(Report.id)
    overdue = set(
        session.execute(
            ids.where(Report.status.not_in(worklist.DONE), worklist.overdue_condition(today))
        ).scalars()
    )
    by_public_id = dict(tally.counted.values())
    tables = []
    for name, (_keys_of_table, several) in CONTENT_TABLES.items():
        rows = list(tally.tables[name].items())
        if tally.not_opened:
            rows.append((NOT_OPENED, tally.not_opened))
        tables.append(_table(name, rows, counted, min_cell, several=several))
    tables += [
        _table("months", _months(tally.months), counted, min_cell),
        _table("status", [(s.value, tally.status[s]) for s in ReportStatus], counted, min_cell),
        _table(
            "priority",
            [*((p.value, tally.priority[p]) for p in Priority), (NOT_SET, tally.priority[None])],
            counted,
            min_cell,
        ),
        _table(
            "risk",
            [*((r.value, tally.risk[r]) for r in RiskLevel), (NOT_SET, tally.risk[None])],
            counted,
            min_cell,
        ),
    ]
    key_holder = reader.user.role != Role.CASE_WORKER
    statistics = Statistics(
        filters=filters,
        min_cell=min_cell,
        computed_on=today,
        reports=suppress_count("reports", counted, min_cell=min_cell),
        off_form=suppress_count(
            OFF_FORM, tally.tables["governorates"][OFF_FORM], min_cell=min_cell
        ),
        tables=tables,
        first_triage=_waiting(_first_triage_days(session, by_public_id), min_cell),
        first_reply=_waiting(_first_reply_days(session, ids, tally.counted), min_cell),
        overdue=suppress_count("overdue", len(overdue & tally.counted.keys()), min_cell=min_cell),
        gone=_gone(session, filters, min_cell) if key_holder and wanted is None else None,
    )
    failed = sum(1 for ok in opener.opened.values() if not ok)
    return Computed(statistics, decrypted=len(opener.opened), failed=failed)


def audit_computation(
    session: Session, *, reader: str, computed: Computed, secrets: ServerSecrets
) -> None:
    """One entry for one computation, naming how many reports it decrypted (not which: a
    statistics page would otherwise add every report's id to the log each time it is shown)
    and with which filters."""
    audit.record_withdrawals(session, audit_secret=secrets.audit)
    filters = computed.statistics.filters
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=reader,
        action="statistics.compute",
        detail={
            "decrypted": computed.decrypted,
            "failed": computed.failed,
            "received_from": filters.received_from.isoformat() if filters.received_from else None,
            "received_to": filters.received_to.isoformat() if filters.received_to else None,
            "governorate": filters.governorate,
        },
    )
