"""The backup file: a logical, versioned dump of every table, in length-prefixed frames.

Logical (tables, columns, values), not a copy of database files: a backup of a SQLite desk
restores into PostgreSQL and the other way round. Layout::

    MAGIC
    frame*        kind (1 byte) | length (4 bytes, big-endian) | JSON payload
    trailer       HMAC-SHA256 | SHA-256 (see ``crypto.backups``)

The first frame is the header (``H``): format, backup id, day, schema revision and the
server secrets sealed to each recovery key. Each table opens with ``T`` (its name and
columns), its rows follow in ``R`` frames of a bounded size, and ``E`` closes the data with
every table's row count. Frames are read one at a time, so neither writing nor reading ever
holds a whole desk in memory.

Not compressed: nearly every byte is ciphertext already, which does not compress, and an
uncompressed file lets the at-rest canary sweep see any plaintext that ever slipped in.
"""

import base64
import binascii
import datetime as dt
import json
import struct
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum as PyEnum
from json.encoder import encode_basestring_ascii
from typing import Any, BinaryIO

from sqlalchemy import Boolean, Date, DateTime, Enum, Integer, LargeBinary, String, Table, Uuid

from hrd_reports.crypto.backups import TRAILER_SIZE, BackupSecrets, FileDigest, open_backup_secrets
from hrd_reports.crypto.errors import DecryptionFailed
from hrd_reports.crypto.xwing import PrivateKey, Sealed

MAGIC = b"HRD-REPORTS-BACKUP\x00"
FORMAT_VERSION = 1
# Frames above this are refused before they are read: a damaged length cannot make a reader
# allocate gigabytes. Writers cut row frames at a quarter of it.
MAX_FRAME = 64 * 1024 * 1024
ROWS_FRAME_BYTES = MAX_FRAME // 4
ROWS_FRAME_COUNT = 1000
_LENGTH = struct.Struct(">I")

HEADER, TABLE, ROWS, END = b"H", b"T", b"R", b"E"


class BackupFormatError(Exception):
    """The file is not a whole, well-formed backup; the message says what is wrong."""


@dataclass(frozen=True)
class SealedCopy:
    recovery_key_id: str
    sealed: Sealed


@dataclass(frozen=True)
class BackupHeader:
    backup_id: uuid.UUID
    created_on: dt.date
    schema_revision: str
    source_backend: str
    audit_entries: int
    sealed: tuple[SealedCopy, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "backup_id": str(self.backup_id),
            "created_on": self.created_on.isoformat(),
            "schema_revision": self.schema_revision,
            "source_backend": self.source_backend,
            "audit_entries": self.audit_entries,
            "sealed": [
                {
                    "recovery_key_id": copy.recovery_key_id,
                    "suite": copy.sealed.suite,
                    "ciphertext": base64.b64encode(copy.sealed.ciphertext).decode("ascii"),
                }
                for copy in self.sealed
            ],
        }

    @classmethod
    def from_json(cls, document: Any) -> "BackupHeader":
        if not isinstance(document, dict) or document.get("format") != FORMAT_VERSION:
            raise BackupFormatError(
                f"this backup's format is not version {FORMAT_VERSION}, the one this version "
                "of hrd-reports reads"
            )
        try:
            return cls(
                backup_id=uuid.UUID(document["backup_id"]),
                created_on=dt.date.fromisoformat(document["created_on"]),
                schema_revision=str(document["schema_revision"]),
                source_backend=str(document["source_backend"]),
                audit_entries=int(document["audit_entries"]),
                sealed=tuple(
                    SealedCopy(
                        recovery_key_id=str(copy["recovery_key_id"]),
                        sealed=Sealed(
                            suite=str(copy["suite"]),
                            key_id=str(copy["recovery_key_id"]),
                            ciphertext=base64.b64decode(copy["ciphertext"], validate=True),
                        ),
                    )
                    for copy in document["sealed"]
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BackupFormatError("this backup's header is malformed") from exc


# How each kind of column is written as JSON, by its SQLAlchemy type.
def _codec_of(column_type: Any) -> str:
    for kind, name in (
        (LargeBinary, "bytes"),
        (Uuid, "uuid"),
        (DateTime, "datetime"),
        (Date, "date"),
        (Enum, "enum"),
        (Boolean, "bool"),
        (Integer, "int"),
        (String, "str"),
    ):
        if isinstance(column_type, kind):
            return name
    raise TypeError(f"no backup codec for a column of type {column_type!r}")


def columns_of(table: Table) -> list[tuple[str, str]]:
    return [(column.name, _codec_of(column.type)) for column in table.columns]


def _enum_value(value: Any) -> str:
    return value.value if isinstance(value, PyEnum) else str(value)


# Each value of a column straight to its JSON text, as ``decode_value`` reads it back, without
# building the row as objects first: base64 and a day's or an id's text need no escaping, and
# every other string goes through the JSON module's own escaping, to ASCII. A desk's backup is
# mostly base64 of ciphertext, and this is most of what writing it costs.
def _quoted_ascii(text: str) -> bytes:
    return b'"' + text.encode("ascii") + b'"'


_JSON_ENCODERS: dict[str, Callable[[Any], bytes]] = {
    "bytes": lambda value: b'"' + binascii.b2a_base64(value, newline=False) + b'"',
    "uuid": lambda value: _quoted_ascii(str(value)),
    "str": lambda value: encode_basestring_ascii(value).encode("ascii"),
    "date": lambda value: _quoted_ascii(value.isoformat()),
    "datetime": lambda value: _quoted_ascii(value.isoformat()),
    "enum": lambda value: encode_basestring_ascii(_enum_value(value)).encode("ascii"),
    "bool": lambda value: b"true" if value else b"false",
    "int": lambda value: b"%d" % value,
}


def value_json(codec: str, value: Any) -> bytes:
    """``value`` of a column of ``codec`` as JSON text."""
    return b"null" if value is None else _JSON_ENCODERS[codec](value)


def decode_value(codec: str, column_type: Any, value: Any) -> Any:  # noqa: PLR0911 - one per codec
    if value is None:
        return None
    if codec == "bytes":
        return base64.b64decode(value, validate=True)
    if codec == "uuid":
        return uuid.UUID(value)
    if codec == "date":
        return dt.date.fromisoformat(value)
    if codec == "datetime":
        return dt.datetime.fromisoformat(value)
    if codec == "enum":
        enum_class = getattr(column_type, "enum_class", None)
        return enum_class(value) if enum_class is not None else str(value)
    if codec == "bool":
        if not isinstance(value, bool):
            raise TypeError("not a boolean")
        return value
    if codec == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError("not an integer")
        return value
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _dump(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True).encode("ascii")


class BackupWriter:
    """Writes one backup to ``out``, frame by frame; ``finish`` writes the trailer.

    A frame is hashed and written on a thread of its own while the next is encoded (both
    let go of the interpreter's lock): at most one frame waits, so memory stays bounded. Use
    it in a ``with`` block, which waits for the last write however the block ends.
    """

    def __init__(self, out: BinaryIO, *, header: BackupHeader, backup_secrets: BackupSecrets):
        self._out = out
        self._digest = FileDigest()
        self._digest.start_mac(backup_secrets.mac_key, backup_id=header.backup_id)
        self._counts: dict[str, int] = {}
        self._table: str | None = None
        # The current frame's rows, each as its JSON text.
        self._batch: list[bytes] = []
        self._batch_bytes = 0
        self._writing = ThreadPoolExecutor(1, thread_name_prefix="backup-writer")
        self._pending: Future[None] | None = None
        try:
            self._write(MAGIC)
            self._frame(HEADER, header.to_json())
        except BaseException:
            # Not yet in the caller's ``with``: nothing else would stop the thread.
            self._writing.shutdown(wait=True)
            raise

    def __enter__(self) -> "BackupWriter":
        return self

    def __exit__(self, *_exc: object) -> None:
        self._writing.shutdown(wait=True)

    def _write(self, *parts: bytes) -> None:
        self._written()
        self._pending = self._writing.submit(self._write_now, parts)

    def _write_now(self, parts: tuple[bytes, ...]) -> None:
        for data in parts:
            self._digest.update(data)
            self._out.write(data)

    def _written(self) -> None:
        """Wait for the frame being written; raise what writing it raised (a full disk)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _frame(self, kind: bytes, document: Any) -> None:
        self._framed(kind, _dump(document))

    def _framed(self, kind: bytes, payload: bytes) -> None:
        self._write(kind + _LENGTH.pack(len(payload)), payload)

    def start_table(self, table: Table) -> None:
        self._flush()
        self._table = table.name
        self._counts[table.name] = 0
        self._columns = columns_of(table)
        self._encoders = [_JSON_ENCODERS[codec] for _, codec in self._columns]
        self._frame(TABLE, {"table": table.name, "columns": self._columns})

    def add_row(self, row: Sequence[Any]) -> None:
        if self._table is None:
            raise ValueError("a row before its table")
        values = [
            b"null" if value is None else encode(value)
            for encode, value in zip(self._encoders, row, strict=True)
        ]
        encoded = b"[" + b",".join(values) + b"]"
        self._batch.append(encoded)
        self._batch_bytes += len(encoded)
        self._counts[self._table] += 1
        if len(self._batch) >= ROWS_FRAME_COUNT or self._batch_bytes >= ROWS_FRAME_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._batch:
            self._framed(ROWS, b"[" + b",".join(self._batch) + b"]")
        self._batch, self._batch_bytes = [], 0

    def finish(self) -> dict[str, int]:
        self._flush()
        self._frame(END, {"rows": self._counts})
        self._written()
        self._out.write(self._digest.trailer())
        return dict(self._counts)


@dataclass(frozen=True)
class RowBatch:
    table: str
    columns: list[tuple[str, str]]
    rows: list[list[Any]]


class BackupReader:
    """Reads a backup from ``stream``: the header at once, then the rows batch by batch.

    ``batches`` checks the counts and the trailer at the end; a caller that loads rows must
    keep its work uncommitted until the iteration has ended without an error.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._digest = FileDigest()
        self.macs_checked = False
        self.row_counts: dict[str, int] = {}
        if self._read(len(MAGIC), keep=True) != MAGIC:
            raise BackupFormatError("this file is not an hrd-reports backup")
        kind, document = self._next_frame(keep=True)
        if kind != HEADER:
            raise BackupFormatError("this backup has no header")
        self.header = BackupHeader.from_json(document)

    def unlock(self, recovery_key: PrivateKey) -> BackupSecrets:
        """Open the sealed secrets; from then on the MAC is checked too."""
        for copy in self.header.sealed:
            if copy.recovery_key_id == recovery_key.key_id:
                opened = open_backup_secrets(
                    copy.sealed, backup_id=self.header.backup_id, recovery_key=recovery_key
                )
                self._digest.start_mac(opened.mac_key, backup_id=self.header.backup_id)
                return opened
        raise DecryptionFailed("this backup was not sealed to this recovery key")

    def _read(self, size: int, *, keep: bool = False) -> bytes:
        data = self._stream.read(size)
        if len(data) != size:
            raise BackupFormatError("the backup is cut short")
        self._digest.update(data, keep_for_mac=keep)
        return data

    def _next_frame(self, *, keep: bool = False) -> tuple[bytes, Any]:
        prefix = self._read(1 + _LENGTH.size, keep=keep)
        kind, (length,) = prefix[:1], _LENGTH.unpack(prefix[1:])
        if kind not in {HEADER, TABLE, ROWS, END} or length > MAX_FRAME:
            raise BackupFormatError("the backup is damaged: a frame is malformed")
        try:
            return kind, json.loads(self._read(length, keep=keep))
        except ValueError as exc:
            raise BackupFormatError("the backup is damaged: a frame is not JSON") from exc

    def batches(self) -> Iterator[RowBatch]:
        counts: dict[str, int] = {}
        table: str | None = None
        columns: list[tuple[str, str]] = []
        while True:
            kind, document = self._next_frame()
            if kind == TABLE:
                table, columns = self._table_start(document, counts)
                counts[table] = 0
            elif kind == ROWS:
                if table is None or not isinstance(document, list):
                    raise BackupFormatError("the backup is damaged: rows outside a table")
                if any(not isinstance(row, list) or len(row) != len(columns) for row in document):
                    raise BackupFormatError(f"the backup is damaged: a row of {table} is malformed")
                counts[table] += len(document)
                yield RowBatch(table=table, columns=columns, rows=document)
            elif kind == END:
                if not isinstance(document, dict) or document.get("rows") != counts:
                    raise BackupFormatError("the backup is damaged: its row counts do not match")
                self.row_counts = counts
                break
            else:
                raise BackupFormatError("the backup is damaged: a second header")
        trailer = self._stream.read(TRAILER_SIZE + 1)
        if len(trailer) > TRAILER_SIZE:
            raise BackupFormatError("the backup is damaged: bytes follow its end")
        try:
            self.macs_checked = self._digest.check_trailer(trailer)
        except DecryptionFailed as exc:
            raise BackupFormatError(str(exc)) from exc

    @staticmethod
    def _table_start(document: Any, counts: dict[str, int]) -> tuple[str, list[tuple[str, str]]]:
        try:
            name = str(document["table"])
            columns = [(str(column), str(codec)) for column, codec in document["columns"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise BackupFormatError("the backup is damaged: a table header is malformed") from exc
        if name in counts:
            raise BackupFormatError(f"the backup is damaged: table {name} appears twice")
        return name, columns
