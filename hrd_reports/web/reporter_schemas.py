"""What the reporter API's requests and refusals share: strict models, base64 fields, the
proof of work, and the documented refusals."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

B64 = r"^[A-Za-z0-9+/]*={0,2}$"

# What a request may hold is exactly what the public document says: no field it does not name,
# and no value of another type read as if it were one ("1" or true taken for the integer 1),
# which is how a version the envelope parser refuses got past it.
EXACTLY_AS_DOCUMENTED = ConfigDict(extra="forbid", strict=True)


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
