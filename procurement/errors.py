"""Domain errors: what a service raises when it refuses, in a sentence a person can read.

A view turns one into a form error or a message. ``field`` names the value it is about (a
keyword of the service, or a field of the input dataclass it took); for a value of one line
among several, ``line`` is that line's key as the caller gave it (the order line's id, or the
line's index in a list). Never a request input name: the view maps both to its form's field.
"""


class DomainError(Exception):
    def __init__(self, message: str, *, field: str | None = None, line: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.line = line


class NotAllowed(DomainError):
    """The acting member may not do this here (role, capability or object permission)."""
