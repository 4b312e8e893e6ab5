"""Domain errors: what a service raises when it refuses, in a sentence a person can read.

A view turns one into a form error (``field`` names the input it belongs to) or a message.
"""


class DomainError(Exception):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowed(DomainError):
    """The acting member may not do this here (role, capability or object permission)."""
