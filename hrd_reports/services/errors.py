"""Refusals a service raises; each message is one clear sentence for a person to read."""


class ServiceError(Exception):
    """Base of every refusal; the CLI prints it on one line and the web maps it to a 4xx."""

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


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


class DataIntegrityError(ServiceError):
    """Stored data failed its cryptographic check: altered, moved or damaged at rest."""
