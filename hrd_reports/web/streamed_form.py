"""A form posted by a browser without JavaScript, read as it streams: fields in memory, files
handed on piece by piece, nothing spooled.

Starlette's own form parser writes every file part over 1 MB to a temporary file on disk:
for a reporter's evidence, that would be plaintext on the server's disk, readable by whoever
takes the disk, undeletable on flash. Here the multipart parser (``python-multipart``, the one
Starlette uses) calls back with each piece of a part as it arrives; a file's pieces go straight
to a ``FileSink`` (``services.sealed_files``), which encrypts them, in worker threads, never on
the event loop. A form with no files (``application/x-www-form-urlencoded``, from a page loaded
before files existed) is read the same bounded way.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl

from fastapi.concurrency import run_in_threadpool
from python_multipart.multipart import MultipartParser, parse_options_header

from hrd_reports.i18n import N_
from hrd_reports.services.errors import Invalid
from hrd_reports.web.middleware import MAX_REQUEST_BYTES, BodyTooLarge


class FileSink(Protocol):
    """Where a file's pieces go; each method runs in a worker thread."""

    def begin(self, *, name: str, media_type: str) -> None: ...
    def feed(self, data: bytes) -> None: ...
    def end(self) -> None: ...


class FormTooLarge(Invalid):
    """A field longer, or more fields, than any honest form has."""


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    field_name: str = ""
    filename: str | None = None
    data: bytearray = field(default_factory=bytearray)


@dataclass
class StreamedForm:
    """The fields read so far, each with its values in order."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    files: int = 0


@dataclass(frozen=True)
class _FileEvent:
    kind: str  # "begin", "data" or "end"
    part: _Part
    data: bytes = b""


class _MultipartReader:
    """python-multipart's callbacks: fields kept, file pieces queued for ``read_form``."""

    def __init__(
        self, form: StreamedForm, *, max_fields: int, max_field_bytes: int, files_field: str
    ):
        self.form = form
        self.max_fields = max_fields
        self.max_field_bytes = max_field_bytes
        self.files_field = files_field
        self.part = _Part()
        self.header_name = bytearray()
        self.header_value = bytearray()
        self.events: list[_FileEvent] = []

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
        }

    def on_part_begin(self) -> None:
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name.extend(data[start:end])

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value.extend(data[start:end])

    def on_header_end(self) -> None:
        self.part.headers[bytes(self.header_name).lower()] = bytes(self.header_value)
        self.header_name.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        part = self.part
        _, disposition = parse_options_header(part.headers.get(b"content-disposition", b""))
        part.field_name = disposition.get(b"name", b"").decode("utf-8", "replace")
        filename = disposition.get(b"filename")
        if filename is None:
            return
        part.filename = filename.decode("utf-8", "replace")
        if part.field_name != self.files_field:
            raise Invalid(N_("the form holds a file where none belongs"))
        # An empty name is the file input with no file chosen: nothing to take in.
        if part.filename:
            self.events.append(_FileEvent("begin", part))

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self.part
        if part.filename is None:
            if len(part.data) + end - start > self.max_field_bytes:
                raise FormTooLarge(N_("a field of the form is too long"))
            part.data.extend(data[start:end])
        elif part.filename:
            self.events.append(_FileEvent("data", part, bytes(data[start:end])))

    def on_part_end(self) -> None:
        part = self.part
        if part.filename is None:
            value = part.data.decode("utf-8", "replace")
            _add_field(self.form, part.field_name, value, max_fields=self.max_fields)
        elif part.filename:
            self.events.append(_FileEvent("end", part))


async def read_form(
    content_type: str,
    stream: AsyncIterator[bytes],
    form: StreamedForm,
    *,
    max_fields: int,
    max_field_bytes: int,
    files_field: str,
    sink_for_first_file: "SinkFactory",
) -> StreamedForm:
    """Read the whole form into ``form``; file parts named ``files_field`` go to the sink the
    factory returns when the first one begins (given the fields read by then), others are
    refused. On a refusal, ``form`` holds the fields read until then."""
    media, options = parse_options_header(content_type)
    if media == b"application/x-www-form-urlencoded":
        body = bytearray()
        async for piece in stream:
            body += piece
            if len(body) > MAX_REQUEST_BYTES:
                raise BodyTooLarge
        for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
            _add_field(form, name, value, max_fields=max_fields)
        return form
    boundary = options.get(b"boundary")
    if media != b"multipart/form-data" or not boundary:
        raise Invalid(N_("the form was not sent as a form"))
    reader = _MultipartReader(
        form, max_fields=max_fields, max_field_bytes=max_field_bytes, files_field=files_field
    )
    parser = MultipartParser(boundary, reader.callbacks())  # type: ignore[arg-type]
    files = _Files(form, sink_for_first_file)
    async for piece in stream:
        parser.write(piece)
        # The parser only collects; the files' work (encryption, the database) is done here,
        # in worker threads, one batch of pieces at a time.
        events, reader.events = reader.events, []
        await files.handle(events)
    parser.finalize()
    await files.handle(reader.events)
    return form


class _Files:
    def __init__(self, form: StreamedForm, factory: "SinkFactory") -> None:
        self.form = form
        self.factory = factory
        self.sink: FileSink | None = None

    async def handle(self, events: list[_FileEvent]) -> None:
        pending = bytearray()
        for event in events:
            if event.kind == "data":
                pending += event.data
                continue
            await self._feed(pending)
            pending = bytearray()
            if event.kind == "begin":
                if self.sink is None:
                    self.sink = await self.factory(self.form)
                self.form.files += 1
                media_type = event.part.headers.get(b"content-type", b"application/octet-stream")
                await run_in_threadpool(
                    self.sink.begin,
                    name=event.part.filename or "",
                    media_type=media_type.decode("latin-1"),
                )
            elif self.sink is not None:
                await run_in_threadpool(self.sink.end)
        await self._feed(pending)

    async def _feed(self, pending: bytearray) -> None:
        if pending and self.sink is not None:
            await run_in_threadpool(self.sink.feed, bytes(pending))


class SinkFactory(Protocol):
    async def __call__(self, form: StreamedForm) -> FileSink: ...


def _add_field(form: StreamedForm, name: str, value: str, *, max_fields: int) -> None:
    if sum(len(values) for values in form.fields.values()) >= max_fields:
        raise FormTooLarge(N_("the form has more fields than any report"))
    form.fields.setdefault(name, []).append(value)
