"""The report list: its filters, its search and its pages.

Workflow fields (status, priority, risk, assignee, day received, the urgent flag) are in
clear and filtered in the database. Everything that comes from the report or from the desk's
own words (incident types, governorate, text, tags) is encrypted under the report's key, so
those filters and the search decrypt, within the request, only what the reader may open
(``services.reading``); each decryption is audited, and nothing decrypted is kept.
"""

import contextlib
import datetime as dt
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import Boolean, Select, func, literal, select, tuple_
from sqlalchemy.orm import Session

from hrd_reports import db, received
from hrd_reports.crypto.list_cursor import (
    CursorInvalid,
    Direction,
    ListCursor,
    cursor_key,
    open_cursor,
    seal_cursor,
)
from hrd_reports.crypto.xwing import Sealed
from hrd_reports.i18n import N_
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import (
    REPORT_LIST_KEY,
    REPORT_LIST_ORDER,
    Priority,
    Report,
    ReportStatus,
    User,
)
from hrd_reports.services import classification, conversation, reading
from hrd_reports.services.credentials import UnlockedUser
from hrd_reports.services.errors import Invalid
from hrd_reports.services.reading import ReaderKeys, ReportView

PAGE_SIZE = 50
# Reports read per fetch while a filter or search scans.
SEARCH_BATCH = 500
# Where a decrypted report has no object in place of one the form nests.
_NOTHING: dict[str, Any] = {}
# What a JSON string's escapes stand for, but for \u (RFC 8259, section 7).
_ESCAPED = frozenset('"\\/\b\f\n\r\t')


@dataclass(frozen=True)
class ReportFilter:
    status: ReportStatus | None = None
    priority: Priority | None = None
    assignee: str | None = None
    received_from: dt.date | None = None
    received_to: dt.date | None = None
    # Only the reports that do not follow the form (learned when first opened, kept in clear).
    off_form: bool = False
    incident_type: str | None = None
    governorate: str | None = None
    text: str | None = None

    @property
    def reads_content(self) -> bool:
        return bool(self.incident_type or self.governorate or self.text)


@dataclass(frozen=True)
class ListEntry:
    view: ReportView
    urgent: bool
    risk: str | None
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ListPage:
    entries: list[ListEntry]
    page: int
    has_next: bool
    decrypted: int
    # Where the next and the previous page go on from (``crypto.list_cursor``): None where
    # there is none, and on a page of every report.
    next_cursor: str | None = None
    previous_cursor: str | None = None
    # How many of the reports the reader may read do not follow the form.
    off_form: int = 0
    # Messages from reporters nobody at the desk has read yet, by report id.
    unread: dict[UUID, int] = field(default_factory=dict)


def _workflow_filtered(query: Select[Report], filters: ReportFilter) -> Select[Report]:
    if filters.status is not None:
        query = query.where(Report.status == filters.status)
    if filters.priority is not None:
        query = query.where(Report.priority == filters.priority)
    if filters.assignee:
        query = query.join(User, User.id == Report.assignee_id).where(User.name == filters.assignee)
    if filters.received_from is not None:
        query = query.where(Report.received_on >= filters.received_from)
    if filters.received_to is not None:
        query = query.where(Report.received_on <= filters.received_to)
    if filters.off_form:
        query = query.where(Report.follows_form.is_(False))
    # Urgent first (unknown counts as urgent until someone has opened it), then newest.
    return query.order_by(*REPORT_LIST_ORDER)


def _matches(document: Any, tags: list[str], filters: ReportFilter) -> bool:
    """Whether a decrypted report meets the content filters.

    ``document`` is the report as decrypted, before it is checked against the form (only the
    reports shown are): anything that is not where the form puts it does not match. It comes
    from the JSON parser, which makes exact dicts, lists and strings and nothing derived from
    them, so the exact types are asked (``type(x) is dict``: cheaper than ``isinstance`` for
    every report a search reads); any other shape, whatever a reporter sealed, matches nothing.
    """
    if type(document) is not dict:
        return False
    if filters.incident_type:
        types = document.get("incident_types")
        if type(types) is not list or filters.incident_type not in types:
            return False
    location = document.get("location")
    if type(location) is not dict:
        location = _NOTHING
    if filters.governorate and location.get("governorate") != filters.governorate:
        return False
    if filters.text:
        perpetrator = document.get("perpetrator")
        if type(perpetrator) is not dict:
            perpetrator = _NOTHING
        texts = [
            document.get("narrative"),
            location.get("district"),
            perpetrator.get("identifiers"),
            *tags,
        ]
        # In one of them: words are not found across the end of one and the start of another.
        words = filters.text.casefold()
        if not any(type(text) is str and words in text.casefold() for text in texts):
            return False
    return True


@dataclass(frozen=True)
class _Term:
    """The words a search looks for (casefolded), and whether a report's raw text may hold
    them in one of its strings: worked out at a seventh of what parsing the text costs, so
    that a search parses only the reports that may match.

    Exact, not a guess. Casefolding has no context, so the casefolded text holds each of its
    strings casefolded. A string's characters are in the raw text as they are but for escapes;
    without a ``\\u`` escape, an escape stands only for a character of ``_ESCAPED``. So words
    with none of those, in a decoded string, are in the raw text; any other words, and any text
    with a ``\\u`` escape, are looked for in the parsed document.
    """

    words: str
    # The words as bytes, where they are ASCII: looked for in ASCII text without decoding it.
    ascii_words: bytes | None
    # Whether the words hold a character that an escape stands for.
    escapable: bool

    @classmethod
    def of(cls, text: str) -> "_Term":
        words = text.casefold()
        ascii_words = words.encode() if words.isascii() else None
        return cls(words, ascii_words, escapable=not _ESCAPED.isdisjoint(words))

    def may_be_in(self, plaintext: bytes) -> bool:
        if self.escapable:
            return True
        if plaintext.isascii():
            # Most reports: ASCII casefolds as it lowers, and bytes lower without decoding.
            if b"\\u" in plaintext:
                return True
            return self.ascii_words is not None and self.ascii_words in plaintext.lower()
        try:
            text = plaintext.decode("utf-8")
        except UnicodeDecodeError:
            return False  # not a document: it matches nothing
        return "\\u" in text or self.words in text.casefold()

    def in_tags(self, tags: list[str]) -> bool:
        return any(self.words in tag.casefold() for tag in tags)


def _open_entry(
    session: Session, report: Report, keys: ReaderKeys, decrypted: reading.Decrypted | None
) -> ListEntry:
    """One report opened for a list, its urgency learned if nobody had opened it yet."""
    view, dek = reading.open_view_with_key(session, report, keys, decrypted)
    reading.learn(report, view)
    return ListEntry(
        view=view,
        urgent=bool(report.urgent) if report.urgent is not None else True,
        risk=report.risk.value if report.risk else None,
        tags=reading.report_tags(report, dek),
    )


class Opener:
    """Opens the reports of one listing, and records each one it decrypted for the audit.

    Nothing decrypted is kept beyond what the page shows: a search reads every report.
    """

    def __init__(self, session: Session, keys: ReaderKeys) -> None:
        self.keys = keys
        self._session = session
        # Every report decrypted for this listing (id: whether it opened).
        self.opened: dict[UUID, bool] = {}

    def entry(self, report: Report, decrypted: reading.Decrypted | None = None) -> ListEntry:
        entry = _open_entry(self._session, report, self.keys, decrypted)
        self.opened[report.public_id] = entry.view.content is not None
        return entry

    def decrypt(self, report_id: UUID, sealed: Sealed, body: bytes) -> reading.Decrypted:
        decrypted = reading.decrypt(self.keys, report_id=report_id, sealed=sealed, body=body)
        self.opened[report_id] = decrypted.plaintext is not None
        return decrypted

    def scan(
        self, query: Select[Report], *columns: Any
    ) -> Generator[tuple[UUID, Sequence[Any], reading.Decrypted]]:
        """Every report of ``query`` decrypted in turn (its id, its ``columns``, and the report
        as decrypted): what a search, and the statistics, cost.

        Reads only the columns it opens and those asked for (no objects), from one query read
        as it goes (a server-side cursor on PostgreSQL): paging through the reports by OFFSET
        would make the database walk past every row read so far, again and again. Nothing
        decrypted is kept; a caller that stops early closes the generator.
        """
        sealed_columns = self.keys.sealed_dek_columns()
        scan = query.with_only_columns(Report.public_id, Report.body, *sealed_columns, *columns)
        # Binary results on PostgreSQL: the bodies and data keys arrive as bytes, not as hex
        # text that the server writes out and the client reads back (db.BINARY_RESULTS).
        options = {"yield_per": SEARCH_BATCH, db.BINARY_RESULTS: True}
        rows = self._session.connection().execute(scan.execution_options(**options))
        keys, opened, decrypt = self.keys, self.opened, reading.decrypt
        with contextlib.closing(rows):
            for report_id, body, suite, key_id, sealed_dek, *values in rows:
                sealed = Sealed(suite, key_id, sealed_dek)
                decrypted = decrypt(keys, report_id=report_id, sealed=sealed, body=body)
                # Recorded before the caller sees it: the audit names every report decrypted.
                opened[report_id] = decrypted.plaintext is not None
                yield report_id, values, decrypted


def _decoded(plaintext: bytes) -> Any:
    try:
        return received.parse(plaintext)
    except received.Unreadable:
        return None  # matches nothing; shown, as received, only when something else lists it


def _search(
    queries: list[Select[Report]],
    filters: ReportFilter,
    opener: Opener,
    *,
    skip: int,
    wanted: int | None,
) -> dict[int, reading.Decrypted]:
    """The reports of ``queries`` (read in turn) that meet the content filters, after the
    first ``skip`` of them, until ``wanted`` are found: row id, and the report as decrypted.

    A search decrypts every report until it has enough (``Opener.scan``), parses only those
    whose text may hold the words (``_Term``) and matches the document as it is; only
    the reports shown are then checked against the form and rendered.
    """
    found: dict[int, reading.Decrypted] = {}
    term = _Term.of(filters.text) if filters.text else None
    for query in queries:
        with contextlib.closing(opener.scan(query, Report.id, Report.tags)) as scanned:
            for report_id, (row_id, tags), decrypted in scanned:
                if decrypted.plaintext is None:
                    continue
                tag_words = reading.decrypt_tags(report_id, tags, decrypted.dek)
                if term is not None and not (
                    term.may_be_in(decrypted.plaintext) or (tag_words and term.in_tags(tag_words))
                ):
                    continue
                document = _decoded(decrypted.plaintext)
                if not _matches(document, tag_words, filters):
                    continue
                if skip:
                    skip -= 1
                    continue
                found[row_id] = decrypted
                if wanted is not None and len(found) == wanted:
                    return found
    return found


def read_cursor(token: str, *, reader: UnlockedUser, secrets: ServerSecrets) -> ListCursor:
    """The place a page's link carries; ``Invalid`` for anything this server did not make
    for ``reader``."""
    try:
        return open_cursor(token, key=cursor_key(secrets.session), reader=str(reader.user.id))
    except CursorInvalid:
        # Altered, made up, or another reader's: nothing is read from it.
        raise Invalid(N_("this request is not valid; go back and try again")) from None


def _sealed(
    report: Report, direction: Direction, *, reader: UnlockedUser, secrets: ServerSecrets
) -> str:
    """The cursor of ``report``'s place in the list (read with the page, before anything on it
    was learned: the place it was found at)."""
    cursor = ListCursor(
        direction=direction,
        urgent_or_unknown=report.urgent is not False,
        received_on=report.received_on,
        row_id=report.id,
    )
    return seal_cursor(cursor, key=cursor_key(secrets.session), reader=str(reader.user.id))


def seek(query: Select[Report], position: ListCursor, *, dialect: str) -> list[Select[Report]]:
    """The reports after (or, going back, before) ``position`` in the list's order, as queries
    to read one after the other, each read from the list's index onwards from that place: the
    database walks no report of the pages before. Going back, nearest first (turned round
    once read).

    PostgreSQL reads a row comparison on the whole key from the index. SQLite reads one only
    below an equal urgency: so there, the rest of the place's urgency, then the other's.
    """
    urgency, day, row_id = REPORT_LIST_KEY
    forwards = position.direction is Direction.AFTER
    if dialect == "postgresql":
        key = tuple_(*REPORT_LIST_KEY)
        place = (position.urgent_or_unknown, position.received_on, position.row_id)
        if forwards:
            return [query.where(key < place)]
        return [query.where(key > place).order_by(None).order_by(*REPORT_LIST_KEY)]
    order = (day.desc(), row_id.desc()) if forwards else (day, row_id)
    within = tuple_(day, row_id)
    near = (position.received_on, position.row_id)
    same = query.where(
        urgency == literal(position.urgent_or_unknown, Boolean),
        within < near if forwards else within > near,
    )
    segments = [same.order_by(None).order_by(*order)]
    # After the urgent come the rest; before the rest come the urgent.
    if position.urgent_or_unknown == forwards:
        other = query.where(urgency == literal(not position.urgent_or_unknown, Boolean))
        segments.append(other.order_by(None).order_by(*order))
    return segments


def list_page(
    session: Session,
    *,
    reader: UnlockedUser,
    filters: ReportFilter,
    page: int = 1,
    secrets: ServerSecrets,
    page_size: int | None = PAGE_SIZE,
    place: ListCursor | None = None,
) -> ListPage:
    """One page of the reports ``reader`` may read, urgent first, then newest; audited.

    ``place``: the page after or before the place a previous page's link carries
    (``ListPage.next_cursor`` or ``previous_cursor``, as ``read_cursor`` reads it).
    ``page``: the page by its number (older links), counted from the first.
    ``page_size=None``: every report on one page (the command line's ``reports list``).
    """
    if page < 1:
        raise Invalid(N_("pages are numbered from 1"))
    opener = Opener(session, reading.reader_keys(session, reader))
    # Reports that arrived since the caller classified (the web does so in chunks first).
    for _ in classification.classify_new(session, reader=reader, secrets=secrets):
        pass
    query = _workflow_filtered(reading.visible(reader), filters)
    skip = (page - 1) * page_size if page_size is not None and place is None else 0
    queries = [query]
    if place is not None and page_size is not None:
        queries = seek(query, place, dialect=session.get_bind().dialect.name)
    backwards = place is not None and place.direction is Direction.BEFORE
    # One more than a page: whether a next page exists.
    wanted = page_size + 1 if page_size is not None else None
    page_reports: list[tuple[Report, reading.Decrypted | None]] = []
    if filters.reads_content:
        # A search goes on from the cursor too: it never decrypts the pages before again.
        found = _search(queries, filters, opener, skip=skip, wanted=wanted)
        loaded = session.execute(select(Report).where(Report.id.in_(found))).scalars()
        by_id = {report.id: report for report in loaded}
        page_reports = [(by_id[row_id], decrypted) for row_id, decrypted in found.items()]
    else:
        for segment in queries:
            left = None if wanted is None else wanted - len(page_reports)
            if left == 0:
                break
            rows = session.execute(segment.limit(left).offset(skip)).scalars()
            page_reports += [(report, None) for report in rows]
    more = page_size is not None and len(page_reports) > page_size
    shown = page_reports[:page_size]
    if backwards:
        shown.reverse()
    has_next = True if backwards else more
    has_previous = more if backwards else place is not None or page > 1
    next_cursor = previous_cursor = None
    if page_size is not None and shown:
        if has_next:
            next_cursor = _sealed(shown[-1][0], Direction.AFTER, reader=reader, secrets=secrets)
        if has_previous:
            previous_cursor = _sealed(shown[0][0], Direction.BEFORE, reader=reader, secrets=secrets)
    entries = [opener.entry(*report) for report in shown]
    session.flush()
    off_form = session.execute(
        select(func.count()).select_from(
            reading.visible(reader)
            .with_only_columns(Report.id)
            .where(Report.follows_form.is_(False))
            .subquery()
        )
    ).scalar_one()
    reading.audit_reading(
        session,
        reader=reader.name,
        opened=opener.opened,
        secrets=secrets,
        subject=None,
        detail={
            "shown": [str(entry.view.id) for entry in entries],
            "search": filters.reads_content,
        },
    )
    return ListPage(
        entries=entries,
        page=page,
        has_next=has_next,
        decrypted=len(opener.opened),
        next_cursor=next_cursor,
        previous_cursor=previous_cursor,
        off_form=off_form,
        unread=conversation.unread_counts(session, [entry.view.id for entry in entries]),
    )
