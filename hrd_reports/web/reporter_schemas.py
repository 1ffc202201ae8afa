"""What the reporter API's requests and refusals share: strict models, base64 fields, the
proof of work, and the documented refusals."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

B64 = r"^[A-Za-z0-9+/]*={0,2}$"

# What a request may hold is exactly what the public document says: no field it does not name,
# and no value of another type read as if it were one ("1" or true taken for the integer 1),
# which is how a version the envelope parser refuses got past it.
EXACTLY_AS_DOCUMENTED = ConfigDict(extra="forbid", strict=True)

# Where the reporter's JSON API lives.
API_PREFIX = "/api/v1"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


class ProofOfWorkIn(BaseModel):
    model_config = EXACTLY_AS_DOCUMENTED

    challenge: str = Field(max_length=200)
    counter: int = Field(ge=0, le=2**64 - 1)


class Refusal(BaseModel):
    detail: Any


REFUSALS: dict[int | str, dict[str, Any]] = {
    status: {"model": Refusal} for status in (400, 409, 413, 422, 429, 503)
}
# A message or a withdrawal for a receipt that leads nowhere (never sent, withdrawn, destroyed)
# is refused with one 404 for all of them; the look-up itself answers "nothing found" instead.
RECEIPT_REFUSALS = REFUSALS | {404: {"model": Refusal}}


# An upload that does not exist, expired or was attached: one 404 for all of them.
UPLOAD_REFUSALS = REFUSALS | {404: {"model": Refusal}}


class FileIn(BaseModel):
    """A file a report or message names: a complete upload and its encrypted record."""

    model_config = EXACTLY_AS_DOCUMENTED

    id: str = Field(pattern=UUID_PATTERN)
    record: str = Field(max_length=6_000, pattern=B64)


class EnvelopeIn(BaseModel):
    """The version 1 envelope, exactly as the reference client and the browser build it."""

    model_config = EXACTLY_AS_DOCUMENTED

    version: int
    report_id: str = Field(max_length=36)
    suite: str = Field(max_length=64)
    # A key id is the first 128 bits of the key's SHA-256 in hex: nothing else is looked up.
    intake_key_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    sealed_dek: str = Field(max_length=2_000, pattern=B64)
    body: str = Field(max_length=360_000, pattern=B64)
    reporter_key: str = Field(max_length=2_000, pattern=B64)
    message_key: str = Field(max_length=200, pattern=B64)
    lookup_token: str = Field(max_length=64, pattern=B64)


class ReportCreate(BaseModel):
    model_config = EXACTLY_AS_DOCUMENTED

    proof_of_work: ProofOfWorkIn
    envelope: EnvelopeIn
    attachments: list[FileIn] = Field(
        default_factory=list,
        max_length=200,
        description="Evidence files, each a complete upload for this report (see /uploads).",
    )


class ReportCreated(BaseModel):
    report_id: str
