"""Refusals a service raises; each message is one clear sentence for a person to read.

A message is written once, in English, as a gettext template marked with ``N_`` where it is
raised, with its values passed apart (``Invalid(N_("at most %(limit)d tags"), limit=20)``):
the command line prints it in English, and a dashboard page translates the template and then
fills in the values, so a name a person typed is never part of what gets translated.
"""

from typing import Any


class ServiceError(Exception):
    """Base of every refusal; the CLI prints it on one line and the web maps it to a 4xx."""

    # A stable name for the refusal, for a client that shows its own words (the reporter's
    # browser, in the reader's language): sent beside the message on the JSON API.
    code: str | None = None

    def __init__(
        self, template: str | None = None, /, *, code: str | None = None, **params: Any
    ) -> None:
        self.template = template if template is not None else self.__class__.__name__
        self.params = params
        if code is not None:
            self.code = code
        super().__init__(self.template % params if params else self.template)

    @property
    def message(self) -> str:
        """The sentence in English, its values filled in."""
        return str(self.args[0])


class NotFound(ServiceError):
    pass


class Forbidden(ServiceError):
    pass


class Conflict(ServiceError):
    pass


class Invalid(ServiceError):
    pass


class AuthenticationFailed(ServiceError):
    pass


class TooLarge(ServiceError):
    """More than the desk takes: a file over the size limit, or past the storage budget."""


class DataIntegrityError(ServiceError):
    """Stored data failed its cryptographic check: altered, moved or damaged at rest."""
